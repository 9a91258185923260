// Package netlab builds small virtual networks out of Linux network
// namespaces and veth pairs, runs processes inside them and tears
// everything down again. `soft-ix lab` builds its lab with it, and the
// integration tests through integration/nslab, which adds the drivers of
// the reference peers (strongSwan, BIRD, iperf3, dnsmasq) and the glue to
// package testing. Nothing here imports testing or a test driver: the
// soft-ix binary links this package.
//
// It shells out to `ip` (iproute2) for all namespace and link work: that is
// what an operator would type, it keeps the package free of netlink state,
// and a failing command's output lands in the error as is.
//
// Every namespace a Lab creates is named "<prefix>-<pid>-<n>-<role>", so
// labs of different processes and tests never collide, and a Lab left
// behind by a killed process (its pid gone) is swept away by the next Lab
// created with the same prefix. Veth pairs are created directly inside
// their namespaces, so interface names (which may be IX-style names such as
// "GigaEthernet0.0") never touch the root namespace. Nothing is ever added
// to the root namespace.
package netlab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// CommandTimeout bounds every short command a Lab runs (ip, swanctl, birdc).
const CommandTimeout = 30 * time.Second

// labCounter numbers the labs of this process so that several labs with
// the same prefix can exist at once.
var labCounter atomic.Int64

// A Lab owns a set of namespaces and the processes started in them, plus a
// directory for their configuration and log files. Close removes all of it.
// A Lab is safe for use by several goroutines.
type Lab struct {
	// Dir holds generated configuration files, sockets and process logs.
	Dir string

	base string // "<prefix>-<pid>-<n>", the start of every namespace name

	mu         sync.Mutex
	namespaces []*Namespace
	procs      []*Proc
	logs       []logFile
	dumpers    []dumper
	closed     bool
}

type dumper struct {
	name string
	f    func() (string, error)
}

type logFile struct{ name, path string }

// New creates an empty Lab whose namespace names start with prefix and
// whose files go to dir (created if missing). The prefix must be short,
// lowercase letters, digits and '-'. Namespaces left behind by an earlier,
// dead process that used the same prefix are removed first.
func New(prefix, dir string) (*Lab, error) {
	if err := CheckName(prefix); err != nil {
		return nil, fmt.Errorf("netlab: prefix: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	if err := SweepStale(prefix); err != nil {
		return nil, err
	}
	l := &Lab{
		Dir:  dir,
		base: fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), labCounter.Add(1)),
	}
	openLabs.Store(l, struct{}{})
	return l, nil
}

// openLabs holds every Lab not yet closed, so that WaitFor can notice a
// lab process that died while a test waits for it.
var openLabs sync.Map // *Lab -> struct{}

// crashed returns the first process of an open lab that ended with an
// error although nobody stopped or signalled it: a peer that died on a bad
// configuration, a missing plugin or a crash.
func crashed() *Proc {
	var found *Proc
	openLabs.Range(func(key, _ any) bool {
		l := key.(*Lab)
		l.mu.Lock()
		procs := l.procs
		l.mu.Unlock()
		for _, p := range procs {
			if ended, err := p.Exited(); ended && err != nil && !p.ending.Load() {
				found = p
				return false
			}
		}
		return true
	})
	return found
}

// CheckName reports whether s can be a lab prefix, namespace role or file
// name stem: 1 to 24 characters out of a-z, 0-9 and '-'.
func CheckName(s string) error {
	if s == "" || len(s) > 24 {
		return fmt.Errorf("%q: want 1 to 24 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("%q: only a-z, 0-9 and '-' are allowed", s)
		}
	}
	return nil
}

// SweepStale deletes namespaces named "<prefix>-<pid>-..." whose pid no
// longer exists, killing any process still inside them first. They are
// what a test binary killed by a timeout leaves behind.
func SweepStale(prefix string) error {
	names, err := listNamespaces()
	if err != nil {
		return err
	}
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix+"-")
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processExists(pid) {
			continue
		}
		if err := deleteNamespace(name); err != nil {
			return err
		}
	}
	return nil
}

func processExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func listNamespaces() ([]string, error) {
	out, err := Command(context.Background(), nil, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		// Lines look like "name (id: 3)" or just "name".
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// deleteNamespace kills every process left in the namespace, then removes
// it; its veth ends and other links go with it.
func deleteNamespace(name string) error {
	if out, err := Command(context.Background(), nil, "ip", "netns", "pids", name); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_, err := Command(context.Background(), nil, "ip", "netns", "delete", name)
	return err
}

// Namespace creates a network namespace for the given role (e.g. "ix",
// "azure"), with its loopback up, IPv4 forwarding on and reverse-path
// filtering off (labs route asymmetrically through tunnels).
func (l *Lab) Namespace(role string) (*Namespace, error) {
	if err := CheckName(role); err != nil {
		return nil, fmt.Errorf("netlab: role: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("netlab: lab is closed")
	}
	for _, ns := range l.namespaces {
		if ns.Role == role {
			l.mu.Unlock()
			return nil, fmt.Errorf("netlab: namespace role %q already exists", role)
		}
	}
	// Registered before it exists, so a concurrent Close deletes it too.
	ns := &Namespace{Name: l.base + "-" + role, Role: role, lab: l}
	l.namespaces = append(l.namespaces, ns)
	l.mu.Unlock()

	if _, err := Command(context.Background(), nil, "ip", "netns", "add", ns.Name); err != nil {
		l.mu.Lock()
		for i, other := range l.namespaces {
			if other == ns {
				l.namespaces = append(l.namespaces[:i], l.namespaces[i+1:]...)
				break
			}
		}
		l.mu.Unlock()
		return nil, err
	}

	if err := ns.setUp(); err != nil {
		return nil, err
	}
	return ns, nil
}

// setUp brings a new namespace's loopback up, turns IPv4 forwarding on
// and reverse-path filtering off.
func (ns *Namespace) setUp() error {
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		return err
	}
	if err := ns.Sysctl("1", "net/ipv4/ip_forward"); err != nil {
		return err
	}
	return ns.Sysctl("0", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter")
}

// recreate replaces the namespace by an empty one of the same name:
// everything in it (processes, links, connection tracking state) is gone.
func (ns *Namespace) recreate() error {
	if err := deleteNamespace(ns.Name); err != nil {
		return err
	}
	if _, err := Command(context.Background(), nil, "ip", "netns", "add", ns.Name); err != nil {
		return err
	}
	return ns.setUp()
}

// Sysctl writes value to each of keys, given as paths below /proc/sys
// ("net/ipv4/conf/eth0/rp_filter": slashes, so that an interface name
// with a dot needs no escaping), inside the namespace: /proc/sys/net
// shows the namespace of the process reading it. It writes with sh, not
// sysctl: procps is not on every machine.
func (ns *Namespace) Sysctl(value string, keys ...string) error {
	var script []string
	for _, k := range keys {
		if strings.Contains(k, "..") || strings.ContainsAny(k, " '\"$;&|<>") || strings.ContainsAny(value, " '\"$;&|<>") {
			return fmt.Errorf("netlab: sysctl %q = %q: not a plain key and value", k, value)
		}
		script = append(script, "echo "+value+" > /proc/sys/"+k)
	}
	_, err := ns.Run("sh", "-c", strings.Join(script, " && "))
	return err
}

// Namespaces returns the lab's namespaces in creation order.
func (l *Lab) Namespaces() []*Namespace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Namespace(nil), l.namespaces...)
}

// Link connects two namespaces with a veth pair: aIf in a, bIf in b, both
// up. Addresses in CIDR form ("203.0.113.94/24") are assigned when not
// empty. Interface names are at most 15 characters.
func (l *Lab) Link(a *Namespace, aIf, aAddr string, b *Namespace, bIf, bAddr string) error {
	if _, err := Command(context.Background(), nil, "ip", "link", "add",
		"name", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		return err
	}
	for _, end := range []struct {
		ns         *Namespace
		ifname, ip string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if end.ip != "" {
			if err := end.ns.IP("addr", "add", end.ip, "dev", end.ifname); err != nil {
				return err
			}
		}
		if err := end.ns.IP("link", "set", end.ifname, "up"); err != nil {
			return err
		}
	}
	return nil
}

// AddLog registers an extra log file (e.g. a daemon's own file log) to be
// included by DumpLogs.
func (l *Lab) AddLog(name, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs = append(l.logs, logFile{name, path})
}

// AddDumper registers a function whose output DumpLogs includes, e.g. a
// daemon's view of its sessions (`swanctl --list-sas`).
func (l *Lab) AddDumper(name string, f func() (string, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dumpers = append(l.dumpers, dumper{name, f})
}

// Path returns the name of a file in the lab directory.
func (l *Lab) Path(name string) string { return filepath.Join(l.Dir, name) }

// DumpLogs writes the last lines of every process log and registered log
// file, the output of every dumper, then each namespace's addresses, routes
// and rules, to w. It is what a failed test prints.
func (l *Lab) DumpLogs(w io.Writer) {
	const tail = 150
	l.mu.Lock()
	logs := append([]logFile(nil), l.logs...)
	dumpers := append([]dumper(nil), l.dumpers...)
	namespaces := append([]*Namespace(nil), l.namespaces...)
	l.mu.Unlock()

	for _, lf := range logs {
		fmt.Fprintf(w, "===== %s (%s), last %d lines =====\n", lf.name, lf.path, tail)
		lines, err := tailFile(lf.path, tail)
		if err != nil {
			fmt.Fprintf(w, "(%v)\n", err)
			continue
		}
		for _, line := range lines {
			fmt.Fprintln(w, line)
		}
	}
	for _, d := range dumpers {
		fmt.Fprintf(w, "===== %s =====\n", d.name)
		out, err := d.f()
		fmt.Fprint(w, out)
		if err != nil {
			fmt.Fprintf(w, "(%v)\n", err)
		}
	}
	for _, ns := range namespaces {
		fmt.Fprintf(w, "===== namespace %s =====\n", ns.Name)
		for _, args := range [][]string{
			{"-br", "addr"}, {"route"}, {"-6", "route"}, {"rule"},
		} {
			out, err := Command(context.Background(), nil, "ip", append([]string{"-n", ns.Name}, args...)...)
			fmt.Fprintf(w, "$ ip %s\n%s", strings.Join(args, " "), out)
			if err != nil {
				fmt.Fprintf(w, "(%v)\n", err)
			}
		}
	}
}

func tailFile(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines, sc.Err()
}

// Close stops every process the lab started (SIGTERM to its process group,
// SIGKILL after a grace period), then deletes every namespace, killing
// anything still inside. It is safe to call more than once; the files in
// Dir are left for the caller.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := l.procs
	namespaces := l.namespaces
	l.mu.Unlock()
	openLabs.Delete(l)

	var errs []error
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop()
		}()
	}
	wg.Wait()
	for i := len(namespaces) - 1; i >= 0; i-- {
		if err := deleteNamespace(namespaces[i].Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// A Namespace is one network namespace of a Lab.
type Namespace struct {
	Name string // full name, as `ip netns exec` wants it
	Role string // the short role given to Lab.Namespace
	lab  *Lab
}

// Lab returns the lab the namespace belongs to.
func (ns *Namespace) Lab() *Lab { return ns.lab }

// Run runs a short command inside the namespace and returns its combined
// output. It fails if the command exits non-zero or takes longer than
// CommandTimeout; the error carries the command and its output.
func (ns *Namespace) Run(args ...string) (string, error) {
	return ns.RunContext(context.Background(), args...)
}

// RunContext is Run with a caller's context (still bounded by CommandTimeout).
func (ns *Namespace) RunContext(ctx context.Context, args ...string) (string, error) {
	return Command(ctx, nil, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// IP runs `ip -n NS args...` and returns only an error.
func (ns *Namespace) IP(args ...string) error {
	_, err := Command(context.Background(), nil, "ip", append([]string{"-n", ns.Name}, args...)...)
	return err
}

// AddLoopback creates a loopback-like interface holding the given
// addresses in CIDR form, and brings it up. It is a dummy device, or an ifb
// device (which behaves the same for local addresses) on kernels built
// without the dummy driver, as on the CI machines.
func (ns *Namespace) AddLoopback(name string, addrs ...string) error {
	if err := ns.IP("link", "add", name, "type", "dummy"); err != nil {
		if !strings.Contains(err.Error(), "Unknown device type") {
			return err
		}
		if err := ns.IP("link", "add", name, "type", "ifb"); err != nil {
			return err
		}
	}
	for _, a := range addrs {
		if err := ns.IP("addr", "add", a, "dev", name); err != nil {
			return err
		}
	}
	return ns.IP("link", "set", name, "up")
}

// Ping sends count pings from the namespace to dst (with source address
// src when not empty) and returns nil if at least one answer came back.
func (ns *Namespace) Ping(dst, src string, count int) error {
	args := []string{"ping", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2"}
	if src != "" {
		args = append(args, "-I", src)
	}
	_, err := ns.Run(append(args, dst)...)
	return err
}

// WaitLink waits until the named interface exists in the namespace.
func (ns *Namespace) WaitLink(name string, timeout time.Duration) error {
	return WaitFor(timeout, fmt.Sprintf("interface %s in %s", name, ns.Name), func() error {
		return ns.IP("link", "show", name)
	})
}

// A Proc is a long-running process started in a namespace. Its stdout and
// stderr go to LogPath.
type Proc struct {
	Name    string // e.g. "charon@ix"
	LogPath string
	Cmd     *exec.Cmd

	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
	stopped atomic.Bool
	ending  atomic.Bool // stopped or sent a signal that may end it: its exit is expected
}

// Start runs a long-lived process inside the namespace, in its own process
// group, with output to "<name>@<role>.log" in the lab directory. env
// entries ("K=V") are added to the environment. The lab stops it on Close.
// The process is also killed if the calling process dies (Pdeathsig).
func (ns *Namespace) Start(name string, env []string, args ...string) (*Proc, error) {
	l := ns.lab
	procName := name + "@" + ns.Role
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("netlab: lab is closed")
	}
	logName := procName
	for i := 2; l.hasLog(logName); i++ {
		logName = fmt.Sprintf("%s.%d", procName, i)
	}
	logPath := l.Path(logName + ".log")
	l.logs = append(l.logs, logFile{logName, logPath})
	l.mu.Unlock()

	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	defer logFile.Close() // the child has its own copy

	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: start %s: %w", procName, err)
	}
	p := &Proc{Name: logName, LogPath: logPath, Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	l.mu.Lock()
	l.procs = append(l.procs, p)
	closed := l.closed
	l.mu.Unlock()
	if closed { // Close ran while we were starting it.
		p.Stop()
		return nil, errors.New("netlab: lab is closed")
	}
	return p, nil
}

func (l *Lab) hasLog(name string) bool {
	for _, lf := range l.logs {
		if lf.name == name {
			return true
		}
	}
	return false
}

// Pid returns the process id (also its process group id).
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process (not its group). Unless sig is SIGHUP
// (a reload) or 0, the process is expected to end, and WaitFor does not
// take its exit for a crash.
func (p *Proc) Signal(sig syscall.Signal) error {
	if sig != 0 && sig != syscall.SIGHUP {
		p.ending.Store(true)
	}
	return p.Cmd.Process.Signal(sig)
}

// SignalWait sends sig to the process, as Signal does, and waits up to
// timeout for it to exit; the error says which process did not.
func (p *Proc) SignalWait(sig syscall.Signal, timeout time.Duration) error {
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %v of %v", p.Name, timeout, sig)
	}
}

// Stop sends SIGTERM to the process group, waits up to five seconds, then
// sends SIGKILL and waits for the exit. It returns how the process ended.
func (p *Proc) Stop() error {
	p.ending.Store(true)
	if p.stopped.Swap(true) {
		<-p.done
		return p.waitErr
	}
	pgid := p.Cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Anything the process forked into its group goes too.
	syscall.Kill(-pgid, syscall.SIGKILL)
	return p.waitErr
}

// Log returns the process's output so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitFor polls cond every 100 ms until it returns nil or timeout passes.
// cond says why the condition does not hold yet; the last reason is part
// of the timeout error, named by what. It gives up at once, with the last
// lines of the process's log, when a process of an open lab has died
// (exited with an error without being stopped or signalled): a peer that
// fails should fail the test in a second, not after the whole timeout.
func WaitFor(timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if p := crashed(); p != nil {
			tail, _ := tailFile(p.LogPath, 20)
			return fmt.Errorf("waiting for %s: %s exited: %v; last lines of its log:\n%s",
				what, p.Name, p.waitErr, strings.Join(tail, "\n"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s: %w", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Command runs a short command with CommandTimeout and returns its
// combined output; the error names the command and includes the output.
// env entries ("K=V") are added to the environment when not nil.
func Command(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
