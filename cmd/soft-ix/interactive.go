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
)

// runInteractive is "soft-ix cli": an IX-style session against the daemon
// with the "HOSTNAME# " prompt, history (up/down), TAB completion and "?"
// help. Without a terminal it reads commands line by line (for scripts).
func runInteractive(o *options, stdin *os.File, stdout, stderr io.Writer) int {
	prompt := sessionHostname(o.socket) + "# "
	fd := int(stdin.Fd())
	if !term.IsTerminal(fd) {
		sc := bufio.NewScanner(stdin)
		status := exitOK
		for {
			fmt.Fprint(stdout, prompt)
			if !sc.Scan() {
				fmt.Fprintln(stdout)
				return status
			}
			fmt.Fprintln(stdout, sc.Text())
			out, st, quit := sessionCommand(o, sc.Text())
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
	}{stdin, stdout}, prompt)
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		switch key {
		case '\t':
			return completeLine(t, line, pos)
		case '?':
			fmt.Fprintf(t, "%s?\n%s\n", line[:pos], strings.Join(cli.HelpLines(line[:pos]), "\n"))
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
		out, _, quit := sessionCommand(o, line)
		io.WriteString(t, out)
		if quit {
			return exitOK
		}
	}
}

// completeLine completes the word before the cursor: alone when it is the
// only candidate, to the longest common prefix otherwise (listing them).
func completeLine(t *term.Terminal, line string, pos int) (string, int, bool) {
	head, tail := line[:pos], line[pos:]
	cands := cli.Complete(head)
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

// sessionCommand runs one session line and returns what to print, the
// status and whether the session ends.
func sessionCommand(o *options, line string) (out string, status int, quit bool) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return "", exitOK, false
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
			strings.Join(cli.Usage(), "\n  ") + "\n  exit\n", exitOK, false
	}
	resp, err := ctl.Do(o.socket, cmd.Words, commandTimeout(cmd))
	if err != nil {
		return "% " + err.Error() + "\n", exitFail, false
	}
	return resp.Output, resp.Status, false
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
