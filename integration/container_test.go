package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// composeFile is the container lab, deploy/lab/docker-compose.yml, seen
// from this package's directory.
const composeFile = "../deploy/lab/docker-compose.yml"

// The images deploy/docker/images.sh builds and the compose file uses.
var containerImages = []string{"soft-ix:latest", "soft-ix-lab-host:latest"}

// Container lab timeouts: generous for a loaded 2-core machine, finite.
const (
	composeUpTimeout   = 3 * time.Minute
	containerTunnelTO  = 90 * time.Second
	containerBGPTO     = 120 * time.Second
	containerPingTO    = 60 * time.Second
	composeDownTimeout = 2 * time.Minute
)

// TestContainerLab brings up the compose lab (deploy/lab/docker-compose.yml,
// the container version of `soft-ix lab`): the IX container with the seed's
// BGP config, soft-ix as Azure's gateway, an internet router between them,
// a LAN host and a VNet host. It checks the tunnel, BGP, a ping from the LAN
// container to the VNet container, `docker exec IX soft-ix show ikev2 sa`
// in the IX's layout, that soft-ix stops cleanly on `docker stop`, and that
// taking the lab down leaves no container, network or host link behind.
//
// It needs a running Docker engine with the images of
// deploy/docker/images.sh; .ci/container provides both and runs this test
// on its own, after the other tests (test.sh leaves it out), so that no
// namespace test runs beside a Docker engine.
func TestContainerLab(t *testing.T) {
	testenv.Require(t, "docker")
	compose := composeCommand(t)
	if out, err := runFor(30*time.Second, "docker", "version", "--format", "{{.Server.Version}}"); err != nil {
		testenv.Unavailable(t, "no Docker engine answers (DOCKER_HOST=%q): %v: %s", os.Getenv("DOCKER_HOST"), err, out)
	}
	for _, img := range containerImages {
		if out, err := runFor(30*time.Second, "docker", "image", "inspect", "--format", "{{.Id}}", img); err != nil {
			testenv.Unavailable(t, "image %s missing (build it with deploy/docker/images.sh): %s", img, strings.TrimSpace(out))
		}
	}

	project := fmt.Sprintf("softixct%d", os.Getpid())
	dc := func(timeout time.Duration, args ...string) (string, error) {
		full := append([]string(nil), compose[1:]...)
		full = append(full, "-f", composeFile, "-p", project)
		return runFor(timeout, compose[0], append(full, args...)...)
	}
	linksBefore := hostLinks(t)
	down := func() {
		if out, err := dc(composeDownTimeout, "down", "--volumes", "--remove-orphans", "--timeout", "20"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	}
	downDone := false
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := dc(time.Minute, "logs", "--no-color", "--tail", "60")
			t.Logf("logs of the lab's containers:\n%s", out)
		}
		if !downDone {
			down()
		}
	})

	start := time.Now()
	if out, err := dc(composeUpTimeout, "up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	t.Logf("compose up took %v", time.Since(start).Round(time.Millisecond))
	ix := containerID(t, dc, "ix")
	azure := containerID(t, dc, "azure")

	// dexec is `docker exec ID ARGS...`, as an operator would type it.
	dexec := func(id string, args ...string) (string, error) {
		return runFor(40*time.Second, "docker", append([]string{"exec", id}, args...)...)
	}
	childSAs := regexp.MustCompile(`(?m)^Child SA - (\d+) connected`)
	for _, side := range []struct{ name, id string }{{"azure", azure}, {"ix", ix}} {
		err := nslab.WaitFor(containerTunnelTO, side.name+" Child SA", func() error {
			out, err := dexec(side.id, "soft-ix", "show", "ikev2", "child-sa")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			m := childSAs.FindStringSubmatch(out)
			if m == nil {
				return fmt.Errorf("unexpected answer %q", out)
			}
			if n, _ := strconv.Atoi(m[1]); n == 0 {
				return errors.New("no Child SA yet")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("tunnel up %v after compose up", time.Since(start).Round(time.Millisecond))

	err := nslab.WaitFor(containerBGPTO, "BGP session to 172.16.0.6 ESTABLISHED", func() error {
		out, err := dexec(ix, "soft-ix", "show", "ip", "bgp", "summary")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !regexp.MustCompile(`(?m)^172\.16\.0\.6\s+4\s+65010\s.*ESTABLISHED`).MatchString(out) {
			return fmt.Errorf("not established:\n%s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BGP established %v after compose up", time.Since(start).Round(time.Millisecond))

	// The VNet route comes from BGP: the first pings may precede it.
	err = nslab.WaitFor(containerPingTO, "ping from the LAN container to the VNet container", func() error {
		out, err := dc(30*time.Second, "exec", "-T", "lan", "ping", "-c", "1", "-W", "2", nslab.VNetHostAddr)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := dc(30*time.Second, "exec", "-T", "lan", "ping", "-c", "3", "-i", "0.5", "-W", "2", nslab.VNetHostAddr)
	if err != nil {
		t.Errorf("ping -c 3 from the LAN container: %v\n%s", err, out)
	}
	t.Logf("lan$ ping -c 3 %s\n%s", nslab.VNetHostAddr, out)

	out, err = dexec(ix, "soft-ix", "show", "ikev2", "sa")
	if err != nil {
		t.Fatalf("docker exec %s soft-ix show ikev2 sa: %v\n%s", ix, err, out)
	}
	t.Logf("docker exec IX soft-ix show ikev2 sa:\n%s", out)
	checkIXLayout(t, out, []string{
		`IKEv2 SA - 1 created`,
		`Interface Tunnel0\.0`,
		`SPI \(I\)0x[0-9a-f]{16} \(R\)0x[0-9a-f]{16}`,
		`Remain lifetime\[sec\] : \d+`,
		`Serial : \d+`,
		`Direction : (initiator|responder)`,
		`Local Addr : 203\.0\.113\.94:(500|4500)`,
	})

	// docker stop: soft-ix gets SIGTERM, removes what it added and exits 0
	// within the grace period, rather than being killed (137).
	if out, err := dc(composeDownTimeout, "stop", "--timeout", "20"); err != nil {
		t.Fatalf("compose stop: %v\n%s", err, out)
	}
	for _, side := range []struct{ name, id string }{{"ix", ix}, {"azure", azure}} {
		out, err := runFor(30*time.Second, "docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", side.id)
		if err != nil || strings.TrimSpace(out) != "exited 0" {
			t.Errorf("%s container after docker stop: %q (%v), want \"exited 0\"", side.name, strings.TrimSpace(out), err)
		}
	}

	downDone = true
	down()
	label := "label=com.docker.compose.project=" + project
	if out, err := runFor(30*time.Second, "docker", "ps", "-aq", "--filter", label); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("containers left after compose down: %q (%v)", out, err)
	}
	if out, err := runFor(30*time.Second, "docker", "network", "ls", "-q", "--filter", label); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("networks left after compose down: %q (%v)", out, err)
	}
	// The kernel removes a veth's host end when the container's namespace
	// goes, which can lag behind compose down on a busy machine.
	if err := nslab.WaitFor(20*time.Second, "the lab's host links gone", func() error {
		if left := newLinks(linksBefore, hostLinks(t)); len(left) > 0 {
			return fmt.Errorf("links left in the host's namespace after compose down: %v", left)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// composeCommand is Debian's docker-compose (v1) when installed, else the
// compose plugin (`docker compose`, v2); both read the same file.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	if _, err := runFor(30*time.Second, "docker", "compose", "version"); err == nil {
		return []string{"docker", "compose"}
	}
	testenv.Unavailable(t, "neither docker-compose nor the docker compose plugin is installed (%s)", testenv.PackageFor("docker-compose"))
	return nil
}

// containerID returns the ID of the compose service's one container.
func containerID(t *testing.T, dc func(time.Duration, ...string) (string, error), service string) string {
	t.Helper()
	out, err := dc(30*time.Second, "ps", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" || strings.Contains(id, "\n") {
		t.Fatalf("compose ps -q %s: %q (%v)", service, out, err)
	}
	return id
}

// checkIXLayout checks that out holds lines matching want, in that order,
// each line as a whole: the IX's layout, not only its words.
func checkIXLayout(t *testing.T, out string, want []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		re := regexp.MustCompile(`^` + w + `$`)
		for i < len(lines) && !re.MatchString(strings.TrimRight(lines[i], " ")) {
			i++
		}
		if i == len(lines) {
			t.Errorf("show ikev2 sa: no line %q (after the earlier ones) in:\n%s", w, out)
			return
		}
		i++
	}
}

// hostLinks lists the link names of the test's own network namespace (the
// Docker host's, where Docker puts its bridges and the containers' veth
// ends).
func hostLinks(t *testing.T) map[string]bool {
	t.Helper()
	out, err := runFor(10*time.Second, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("ip link: %v\n%s", err, out)
	}
	links := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			links[strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]] = true
		}
	}
	return links
}

// newLinks lists the links in after that are not in before.
func newLinks(before, after map[string]bool) []string {
	var added []string
	for name := range after {
		if !before[name] {
			added = append(added, name)
		}
	}
	sort.Strings(added)
	return added
}

// runFor runs a command with a timeout and returns its combined output.
func runFor(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var b bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
	return b.String(), err
}
