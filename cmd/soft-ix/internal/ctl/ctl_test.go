package ctl

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "soft-ix.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Listen(path, HandlerFunc(func(ctx context.Context, args []string) Response {
		if len(args) == 0 {
			return Response{Output: "% Incomplete command\n", Status: 1}
		}
		return Response{Output: "you said: " + strings.Join(args, " ") + "\n"}
	}), log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !Live(path) {
		t.Error("Live: the listening socket is not live")
	}
	if Live(filepath.Join(dir, "none.sock")) {
		t.Error("Live: a missing socket is live")
	}

	for _, perm := range []struct {
		p    string
		want os.FileMode
	}{{filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(perm.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != perm.want {
			t.Errorf("%s mode %v, want %v", perm.p, got, perm.want)
		}
	}

	resp, err := Do(path, []string{"show", "ikev2", "sa"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Output != "you said: show ikev2 sa\n" || resp.Status != 0 {
		t.Errorf("got %+v", resp)
	}
	resp, err = Do(path, nil, 5*time.Second)
	if err != nil || resp.Status != 1 {
		t.Errorf("empty request: %+v %v", resp, err)
	}

	// A second daemon on the same socket is refused.
	if _, err := Listen(path, HandlerFunc(nil), log); err == nil || !strings.Contains(err.Error(), "another soft-ix") {
		t.Errorf("second Listen: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("socket directory left behind: %v", err)
	}
	if _, err := Do(path, []string{"reload"}, time.Second); err == nil || !strings.Contains(err.Error(), "is it running") {
		t.Errorf("Do without daemon: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	// A crashed daemon leaves its socket file with nobody listening.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s, err := Listen(path, HandlerFunc(func(context.Context, []string) Response { return Response{} }), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// A socket in an existing directory (--socket /tmp/x.sock) must not change
// that directory's mode: /tmp at 0700 would break every other user.
func TestListenLeavesExistingDirAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, os.ModePerm|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Listen(filepath.Join(dir, "soft-ix.sock"), HandlerFunc(nil), log)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != os.ModePerm|os.ModeSticky {
		t.Errorf("directory mode %v after Listen, want drwxrwxrwt", fi.Mode())
	}
}

// A --socket naming a regular file must not delete it.
func TestListenKeepsNonSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if s, err := Listen(path, HandlerFunc(nil), log); err == nil {
		s.Close()
		t.Fatal("Listen on a regular file succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("the file was changed: %q, %v", b, err)
	}
}
