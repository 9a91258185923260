// Package ctl is the control-socket protocol between "soft-ix show ..." and
// the running daemon: one JSON request line per connection carrying the
// command words, one JSON response line carrying the formatted text and an
// exit status. The socket is 0600, and the directory Listen creates for it
// 0700, so only root can talk to the daemon.
package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultSocket is where the daemon listens unless --socket says otherwise.
const DefaultSocket = "/run/soft-ix/soft-ix.sock"

// maxRequest bounds a request line; commands are a few words.
const maxRequest = 64 << 10

// Request is one command sent to the daemon.
type Request struct {
	Args []string `json:"args"`
}

// Response is the daemon's answer: the text to print and the exit status
// the CLI should end with (0 success, 1 command failed).
type Response struct {
	Output string `json:"output"`
	Status int    `json:"status"`
}

// Handler runs one command for the server.
type Handler interface {
	Handle(ctx context.Context, args []string) Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, args []string) Response

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, args []string) Response { return f(ctx, args) }

// Server accepts control connections on a unix socket.
type Server struct {
	path    string
	ln      net.Listener
	madeDir bool // Listen created the socket's directory; Close removes it
	handler Handler
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Listen creates the socket at path (0600; its directory 0700 when Listen
// creates it, an existing directory is left as it is)
// and serves requests with h until Close. A stale socket left by a crashed
// daemon is replaced; a live one is an error, so two daemons cannot share it.
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	madeDir := os.IsNotExist(statErr)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Tighten only a directory of our own (against the umask): an existing
	// one such as /tmp is shared, and the socket's own 0600 suffices there.
	if madeDir {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	if Live(path) {
		return nil, fmt.Errorf("control socket %s: another soft-ix is listening there (stop it or use --socket)", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket %s: the file exists and is not a socket (wrong --socket?)", path)
		}
		os.Remove(path) // a stale socket: nobody answered on it
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{path: path, ln: ln, madeDir: madeDir, handler: h, log: log, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Live reports whether a daemon accepts connections on the socket at path.
func Live(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(&limitedReader{c, maxRequest})
	line, err := r.ReadBytes('\n')
	if err != nil {
		s.log.Debug("control request", "err", err)
		return
	}
	var req Request
	var resp Response
	if err := json.Unmarshal(line, &req); err != nil {
		resp = Response{Output: "% bad request\n", Status: 1}
	} else {
		c.SetReadDeadline(time.Time{})
		resp = s.handler.Handle(s.ctx, req.Args)
	}
	out, _ := json.Marshal(resp)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.Write(append(out, '\n'))
}

// Close stops accepting, cancels running commands, waits for them and
// removes the socket file.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.cancel()
	s.wg.Wait()
	os.Remove(s.path)
	if s.madeDir {
		os.Remove(filepath.Dir(s.path)) // only if empty
	}
	return err
}

// Do sends args to the daemon at path and returns its response. A long
// command (ping) may take up to timeout.
func Do(path string, args []string, timeout time.Duration) (Response, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return Response{}, fmt.Errorf("cannot reach the soft-ix daemon at %s: %w (is it running? as root? --socket?)", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	req, _ := json.Marshal(Request{Args: args})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return Response{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("control socket %s: no answer: %w", path, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("control socket %s: bad answer: %w", path, err)
	}
	return resp, nil
}

// limitedReader fails once more than n bytes were read, so a client cannot
// make the daemon buffer without bound.
type limitedReader struct {
	c net.Conn
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}
