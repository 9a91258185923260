package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/cli"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/config"
)

// runInteractive is "soft-ix cli": an IX-style session against the daemon
// with the "HOSTNAME# " prompt, history (up/down), TAB completion and "?"
// help. Without a terminal it reads commands line by line (for scripts).
func runInteractive(o *options, stdin *os.File, stdout, stderr io.Writer) int {
	s := &session{o: o, host: sessionHostname(o.socket)}
	fd := int(stdin.Fd())
	if !term.IsTerminal(fd) {
		sc := bufio.NewScanner(stdin)
		status := exitOK
		for {
			fmt.Fprint(stdout, s.prompt())
			if !sc.Scan() {
				fmt.Fprintln(stdout)
				return status
			}
			fmt.Fprintln(stdout, sc.Text())
			out, st, quit := s.command(sc.Text())
			io.WriteString(stdout, out)
			if st != exitOK {
				status = st
			}
			if quit {
				return status
			}
		}
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix cli: %v\n", err)
		return exitFail
	}
	defer term.Restore(fd, old)

	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{stdin, stdout}, s.prompt())
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		switch key {
		case '\t':
			return completeLine(t, s.complete(line[:pos]), line, pos)
		case '?':
			fmt.Fprintf(t, "%s?\n%s\n", line[:pos], strings.Join(s.help(line[:pos]), "\n"))
			return line, pos, true
		}
		return "", 0, false
	}
	for {
		line, err := t.ReadLine()
		if err != nil { // io.EOF on Ctrl-D
			fmt.Fprintln(t)
			return exitOK
		}
		out, _, quit := s.command(line)
		io.WriteString(t, out)
		t.SetPrompt(s.prompt())
		if quit {
			return exitOK
		}
	}
}

// completeLine completes the word before the cursor: alone when it is the
// only candidate, to the longest common prefix otherwise (listing them).
func completeLine(t *term.Terminal, cands []string, line string, pos int) (string, int, bool) {
	head, tail := line[:pos], line[pos:]
	if len(cands) == 0 {
		return "", 0, false
	}
	start := strings.LastIndex(head, " ") + 1
	word := head[start:]
	repl := cands[0]
	if len(cands) > 1 {
		repl = commonPrefix(cands)
		if repl == word {
			fmt.Fprintf(t, "%s\n", strings.Join(cands, "  "))
			return line, pos, true
		}
	} else {
		repl += " "
	}
	newHead := head[:start] + repl
	return newHead + tail, len(newHead), true
}

func commonPrefix(s []string) string {
	p := s[0]
	for _, x := range s[1:] {
		for !strings.HasPrefix(x, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// session is one interactive session: the daemon it talks to, and whether
// it is in "configure" mode, where lines are checked against the
// configuration grammar rather than run (soft-ix is configured by its
// file: edit it and "reload").
type session struct {
	o    *options
	host string

	conf   bool
	block  string // the config block the last opener line opened ("" top level)
	opener string // that line
}

func (s *session) prompt() string {
	switch {
	case !s.conf:
		return s.host + "# "
	case s.block == "":
		return s.host + "(config)# "
	}
	return s.host + "(config-" + strings.ReplaceAll(s.block, " ", "-") + ")# "
}

func (s *session) complete(head string) []string {
	if s.conf {
		return cli.ConfigComplete(s.block, head)
	}
	return cli.Complete(head)
}

func (s *session) help(head string) []string {
	if s.conf {
		return cli.ConfigHelpLines(s.block, head)
	}
	return cli.HelpLines(head)
}

// command runs one session line and returns what to print, the status and
// whether the session ends.
func (s *session) command(line string) (out string, status int, quit bool) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return "", exitOK, false
	}
	if s.conf {
		return s.configLine(line), exitOK, false
	}
	cmd, err := cli.ParseInteractive(words)
	if err != nil {
		return err.Error() + "\n", exitUsage, false
	}
	switch cmd.ID {
	case cli.Exit:
		return "", exitOK, true
	case cli.Help:
		return "Commands (keywords may be abbreviated, TAB completes, ? lists what may follow):\n  " +
			strings.Join(cli.Usage(), "\n  ") + "\n  configure\n  exit\n", exitOK, false
	case cli.Configure:
		s.conf, s.block, s.opener = true, "", ""
		return "% Lines typed here are checked against soft-ix's grammar, not applied: edit the\n" +
			"% configuration file and run reload. exit leaves a block, end this mode.\n", exitOK, false
	}
	resp, err := ctl.Do(s.o.socket, cmd.Words, commandTimeout(cmd))
	if err != nil {
		return "% " + err.Error() + "\n", exitFail, false
	}
	return resp.Output, resp.Status, false
}

// configLine checks one line of configure mode: in the block the last
// opener opened, as the file parser reads it, reporting what it says about
// the line.
func (s *session) configLine(line string) string {
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "end":
		s.conf = false
		return ""
	case "exit":
		if s.block == "" {
			s.conf = false
		}
		s.block, s.opener = "", ""
		return ""
	}
	// A top-level block command leaves the open block, as on the IX.
	block, opens := cli.ConfigOpens(config.BlockGlobal, line)
	if opens {
		s.block, s.opener = "", ""
	}
	var out strings.Builder
	failed := false
	for _, d := range config.CheckLine(s.opener, line) {
		fmt.Fprintf(&out, "%% %s at column %d: %s\n", d.Severity, d.Pos.Col, d.Msg)
		failed = failed || d.Severity == config.Error
	}
	if out.Len() == 0 {
		out.WriteString("% ok (not applied)\n")
	}
	if opens && !failed {
		s.block, s.opener = block, strings.TrimSpace(line)
	}
	return out.String()
}

// sessionHostname asks the daemon for its running config and takes the
// hostname from it, as the IX prompt shows it; "Router" by default.
func sessionHostname(socket string) string {
	resp, err := ctl.Do(socket, []string{"show", "running-config"}, 5*time.Second)
	if err != nil {
		return "Router"
	}
	for _, l := range strings.Split(resp.Output, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "hostname "); ok && h != "" {
			return strings.TrimSpace(h)
		}
	}
	return "Router"
}
