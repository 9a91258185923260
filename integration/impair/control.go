package impair

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// The control protocol: a client connects to the Unix socket and sends
// lines; every line gets exactly one line back.
//
//	set KEY=VALUE ...   change the named parameters (Params.Apply), e.g.
//	                    "set loss=1% delay=30ms" or "set clear blackhole=on";
//	                    answers "ok " and the parameters now in force
//	show                answers "ok " and the parameters in force
//	stats               answers "ok " and Forwarder.StatsLine
//
// A bad line answers "error " and the reason, and changes nothing.

// Serve answers control connections on l until ctx ends.
func (f *Forwarder) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("impair: control socket: %w", err)
		}
		go f.serveConn(ctx, c)
	}
}

func (f *Forwarder) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		reply := f.Command(sc.Text())
		if _, err := fmt.Fprintln(c, reply); err != nil {
			return
		}
	}
}

// Command runs one control line and returns its one-line answer.
func (f *Forwarder) Command(line string) string {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return "error empty command"
	}
	switch fields[0] {
	case "set":
		p, err := f.Params().Apply(fields[1:]...)
		if err != nil {
			return "error " + err.Error()
		}
		f.Set(p)
		return "ok " + p.String()
	case "show":
		return "ok " + f.Params().String()
	case "stats":
		return "ok " + f.StatsLine()
	}
	return fmt.Sprintf("error unknown command %q (set, show, stats)", fields[0])
}

// Control sends one command line to the impairment's control socket at
// path and returns the answer without its "ok " (an "error" answer is
// returned as an error).
func Control(path, line string) (string, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("impair: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", fmt.Errorf("impair: %w", err)
	}
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("impair: %q: %w", line, err)
	}
	answer = strings.TrimSpace(answer)
	if rest, ok := strings.CutPrefix(answer, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", errors.New(strings.TrimPrefix(answer, "error "))
}
