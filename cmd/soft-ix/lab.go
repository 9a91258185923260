package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/internal/netlab"
)

// labConfs are the configs "soft-ix lab" runs: the seed's IX configs on
// the lab's addresses, and an Azure VPN Gateway written as IX config.
//
//go:embed labconf/*.conf
var labConfs embed.FS

// Lab timeouts: generous for a busy 2-core machine, short enough that a
// broken build fails in about two minutes.
const (
	labStartTimeout  = 15 * time.Second
	labTunnelTimeout = 60 * time.Second
	labBGPTimeout    = 90 * time.Second
)

// runLab is "soft-ix lab [--static] [--once]": build the seed scenario in
// namespaces, run this binary as the IX and as the Azure gateway, report,
// then stay up until Ctrl-C (or exit with --once). Everything it creates
// is removed on the way out.
func runLab(o *options, stdout, stderr io.Writer) int {
	if err := netlab.CheckEnvironment(); err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return exitFail
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return exitFail
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "soft-ix-lab-")
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return exitFail
	}
	lab, err := netlab.New("softix-lab", dir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return exitFail
	}
	failed := false
	defer func() {
		if failed {
			fmt.Fprintln(stderr, "\nsoft-ix lab: logs of the lab's processes:")
			lab.DumpLogs(stderr)
		}
		if err := lab.Close(); err != nil {
			fmt.Fprintf(stderr, "soft-ix lab: cleanup: %v\n", err)
		}
		os.RemoveAll(dir)
		netlab.RemoveBuiltImpair() // the impairment program, if --impair built it
		fmt.Fprintln(stdout, "Lab removed.")
	}()

	st, err := startLab(ctx, lab, self, o, stdout)
	if err != nil {
		failed = ctx.Err() == nil
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return exitFail
	}
	ok := st.report(ctx, stdout, stderr)
	if ok && o.events != "" && ctx.Err() == nil {
		ok = st.runEvents(ctx, o.events, stdout, stderr)
	}
	failed = !ok
	if ctx.Err() != nil {
		return exitFail
	}
	if o.once {
		if !ok {
			return exitFail
		}
		return exitOK
	}
	st.explain(stdout)
	fmt.Fprintln(stdout, "\nThe lab stays up; press Ctrl-C to remove it.")
	<-ctx.Done()
	if !ok {
		return exitFail
	}
	return exitOK
}

// labState is a running lab: its scenario and the daemons' sockets.
type labState struct {
	sc         *netlab.Scenario
	static     bool
	ixSock     string
	ixConf     string
	self       string
	ixProc     *netlab.Proc
	ixHostname string
	impair     *netlab.Impairment // nil without --impair
	// azure are the Azure gateway's instances: one, or two with
	// --active-active (labevents.go starts and stops them).
	azure     []*azureInstance
	azureArgs []string // flags every instance runs with
	timeScale float64  // --emulate-time-scale of the instances
}

// azureInstance is one instance of the lab's Azure gateway: a soft-ix
// with --emulate azure in its own namespace.
type azureInstance struct {
	name    string // "Azure gateway", "Azure gateway instance 2"
	ns      *netlab.Namespace
	peer    string // its public address
	bgpPeer string // its BGP address
	sock    string
	conf    string
	proc    *netlab.Proc
}

// start runs the instance's daemon (again).
func (a *azureInstance) start(self string, args []string) (err error) {
	a.proc, err = a.ns.Start("soft-ix", nil, append([]string{self, "-c", a.conf, "--socket", a.sock}, args...)...)
	return err
}

func startLab(ctx context.Context, lab *netlab.Lab, self string, o *options, stdout io.Writer) (*labState, error) {
	static := o.static
	variant := "BGP"
	ixName := "ix-lab-bgp.conf"
	if static {
		variant, ixName = "static-route", "ix-lab-static.conf"
	}
	gateways := netlab.AzurePublicAddr
	if o.activeActive {
		variant += ", active-active"
		gateways += " and " + netlab.Azure2PublicAddr
	}
	fmt.Fprintf(stdout, "Building the lab (%s variant): IX 203.0.113.94 <-> internet <-> Azure gateway %s ...\n", variant, gateways)
	sc, err := netlab.NewScenario(lab, netlab.ScenarioOptions{ActiveActive: o.activeActive})
	if err != nil {
		return nil, err
	}
	st := &labState{
		sc: sc, static: static, self: self, ixHostname: "Router",
		ixSock: lab.Path("ix.sock"), ixConf: lab.Path("ix.conf"), timeScale: o.timeScale,
		azure: []*azureInstance{{name: "Azure gateway", ns: sc.Azure, peer: netlab.AzurePublicAddr, bgpPeer: netlab.AzureBGPAddr,
			sock: lab.Path("azure.sock"), conf: lab.Path("azure.conf")}},
	}
	if o.activeActive {
		st.azure[0].name = "Azure gateway instance 1"
		st.azure = append(st.azure, &azureInstance{name: "Azure gateway instance 2", ns: sc.Azure2,
			peer: netlab.Azure2PublicAddr, bgpPeer: netlab.Azure2BGPAddr, sock: lab.Path("azure2.sock"), conf: lab.Path("azure2.conf")})
	}
	if o.impair != "" {
		if st.impair, err = sc.Impair(1, strings.Fields(o.impair)...); err != nil {
			return nil, err
		}
		params, err := st.impair.Set() // no change: prints what is in force
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "The internet router impairs both directions: %s\n", params)
	}
	if err := st.writeConfigs(ixName, o.activeActive); err != nil {
		return nil, err
	}
	// The Azure gateway first, so the IX's first IKE_SA_INIT finds it.
	st.azureArgs = []string{"--emulate", "azure", "--emulate-time-scale", strconv.FormatFloat(o.timeScale, 'g', -1, 64),
		"--map", "GigaEthernet0.0=" + netlab.AzureWANIf, "--map", "GigaEthernet1.0=" + netlab.AzureVNetIf,
		"--map", "GigaEthernet2.0=" + netlab.AzureBGPIf, "--log-level", "debug"}
	for _, a := range st.azure {
		if err := a.start(self, st.azureArgs); err != nil {
			return nil, err
		}
	}
	ixArgs := []string{"-c", st.ixConf,
		"--map", "GigaEthernet0.0=" + netlab.IXWANIf, "--map", "GigaEthernet1.0=" + netlab.IXLANIf,
		"--socket", st.ixSock, "--log-level", "debug"}
	if o.keylog != "" {
		// The IX side's keys decrypt the whole tunnel in Wireshark.
		ixArgs = append(ixArgs, "--keylog", o.keylog)
	}
	if o.forceUDPEncap {
		// The IX side forces ESP into UDP 4500; the Azure side follows.
		ixArgs = append(ixArgs, "--force-udp-encap")
	}
	st.ixProc, err = sc.IX.Start("soft-ix", nil, append([]string{self}, ixArgs...)...)
	if err != nil {
		return nil, err
	}
	for _, a := range st.azure {
		if err := waitStarted(ctx, a.name, a.sock, a.proc); err != nil {
			return nil, err
		}
	}
	if err := waitStarted(ctx, "IX", st.ixSock, st.ixProc); err != nil {
		return nil, err
	}
	return st, nil
}

// waitStarted waits until the daemon p answers on sock.
func waitStarted(ctx context.Context, name, sock string, p *netlab.Proc) error {
	err := waitUntil(ctx, labStartTimeout, func() error {
		if done, err := p.Exited(); done {
			return fmt.Errorf("exited: %v", err)
		}
		_, err := ctl.Do(sock, []string{"show", "running-config"}, 2*time.Second)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s soft-ix did not start: %w", name, err)
	}
	return nil
}

// writeConfigs writes the IX's and the Azure instances' files. The
// active-active IX file is what "soft-ix azure config" writes for the
// lab's gateway; the second instance's is the first's on its addresses.
func (st *labState) writeConfigs(ixName string, activeActive bool) error {
	ix, err := labConfs.ReadFile("labconf/" + ixName)
	if err != nil {
		return err
	}
	if activeActive {
		if ix, err = activeActiveIXConfig(st.static); err != nil {
			return err
		}
	}
	if err := os.WriteFile(st.ixConf, ix, 0o600); err != nil {
		return err
	}
	az, err := labConfs.ReadFile("labconf/azure-lab.conf")
	if err != nil {
		return err
	}
	if err := os.WriteFile(st.azure[0].conf, az, 0o600); err != nil {
		return err
	}
	if len(st.azure) > 1 {
		az2 := strings.NewReplacer(netlab.AzurePublicAddr+"/", netlab.Azure2PublicAddr+"/",
			netlab.AzureBGPAddr+"/", netlab.Azure2BGPAddr+"/",
			netlab.AzureVNetGateway+"/", netlab.Azure2VNetGateway+"/").Replace(string(az))
		if err := os.WriteFile(st.azure[1].conf, []byte(az2), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// waitUntil polls cond every 250 ms until it returns nil, ctx ends or
// timeout passes; it returns cond's last error then.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var childSAsRe = regexp.MustCompile(`Child SA - (\d+) connected`)

// report waits for IKE, ESP and BGP on the IX side and prints what an
// operator would look at, as on the IX. It returns whether all came up.
func (st *labState) report(ctx context.Context, stdout, stderr io.Writer) bool {
	ok := true
	ix := func(args ...string) (ctl.Response, error) {
		timeout := 10 * time.Second
		if args[0] == "ping" {
			timeout = 30 * time.Second
		}
		return ctl.Do(st.ixSock, args, timeout)
	}
	fmt.Fprintln(stdout, "Waiting for IKEv2 and the Child SA ...")
	err := st.waitTunnels(ctx, labTunnelTimeout, st.azure)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: the tunnel did not come up: %v\n", err)
		ok = false
	}
	if !st.static && ctx.Err() == nil {
		fmt.Fprintln(stdout, "Waiting for BGP ...")
		err := st.waitBGP(ctx, labBGPTimeout)
		if err != nil {
			fmt.Fprintf(stderr, "soft-ix lab: BGP did not come up: %v\n", err)
			ok = false
		}
	}
	if ctx.Err() != nil {
		return false
	}
	cmds := [][]string{{"show", "ikev2", "sa"}, {"show", "ikev2", "child-sa"}}
	if !st.static {
		cmds = append(cmds, []string{"show", "ip", "bgp", "summary"})
	}
	cmds = append(cmds, []string{"show", "ip", "route"},
		[]string{"ping", netlab.VNetHostAddr, "source", netlab.IXLANAddr, "count", "3"})
	fmt.Fprintln(stdout)
	for _, c := range cmds {
		fmt.Fprintf(stdout, "%s# %s\n", st.ixHostname, strings.Join(c, " "))
		r, err := ix(c...)
		if err != nil {
			fmt.Fprintf(stdout, "%% %v\n", err)
			ok = false
			continue
		}
		io.WriteString(stdout, r.Output)
		if r.Status != 0 {
			ok = false
		}
		fmt.Fprintln(stdout)
	}
	if ok {
		if st.static {
			fmt.Fprintln(stdout, "Tunnel and ping: OK")
		} else {
			fmt.Fprintln(stdout, "Tunnel, BGP and ping: OK")
		}
	} else {
		fmt.Fprintln(stdout, "Lab FAILED (see above)")
	}
	return ok
}

// explain prints how to look around in the running lab.
func (st *labState) explain(w io.Writer) {
	sc := st.sc
	for _, a := range st.azure[1:] {
		fmt.Fprintf(w, "\n%s (%s): %s show ikev2 sa --socket %s  (config %s)\n", a.name, a.ns.Name, st.self, a.sock, a.conf)
	}
	fmt.Fprintf(w, `
Explore the lab (as root):
  IX side (%[1]s):
    %[3]s show ikev2 sa --socket %[4]s
    %[3]s cli --socket %[4]s
  Azure side (%[2]s):
    %[3]s show ip bgp summary --socket %[5]s
    %[3]s cli --socket %[5]s
  LAN host 192.168.2.10 -> VNet host 172.16.1.4 through the tunnel:
    ip netns exec %[6]s ping -c 3 %[7]s
  Configs: %[8]s (IX), %[9]s (Azure)
`, sc.IX.Name, sc.Azure.Name, st.self, st.ixSock, st.azure[0].sock, sc.LAN.Name, netlab.VNetHostAddr,
		st.ixConf, st.azure[0].conf)
	if st.impair != nil {
		if bin, err := netlab.ImpairBinary(); err == nil {
			fmt.Fprintf(w, "  The impaired path (settings as for --impair; \"clear\" resets):\n    %s ctl %s set loss=5%% blackhole=off\n    %s ctl %s stats\n",
				bin, st.impair.Socket, bin, st.impair.Socket)
		}
	}
}
