// Command soft-ix runs an NEC IX configuration on Linux: IKEv2/ESP tunnels,
// static routes and BGP, with IX-style show and ping commands.
//
//	soft-ix -c ix.conf                 run the daemon in the foreground
//	soft-ix check -c ix.conf           validate a configuration
//	soft-ix show ikev2 sa              ask the running daemon (any IX show verb)
//	soft-ix cli                        interactive IX-style session
//	soft-ix lab [--static] [--once]    a complete IX <-> Azure lab in namespaces
//	soft-ix azure config|import ...    write the IX config for an Azure connection
//
// See "soft-ix --help" for every verb and flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/cli"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (bad config, tunnel down...)
	exitUsage = 2 // the command line itself is wrong
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags of every verb. Flags may stand before or after the
// verb words, as in "soft-ix show running-config -c ix.conf".
type options struct {
	config    string
	maps      mapFlag
	socket    string
	logFormat string
	logLevel  string
	metrics   string
	keylog    string
	// forceUDPEncap carries ESP in UDP 4500 without a NAT (not an IX
	// command; see ike.CoreConfig.ForceUDPEncap).
	forceUDPEncap bool
	rawESP        string // router.Options.RawESP: socket, auto or packet
	azure         bool   // check: lint against Azure
	policy        string // check --azure: a connection's ipsecPolicies JSON
	// allowUnenforced runs a config whose filter or NAPT lines soft-ix
	// cannot enforce (see unenforced); off, such a config is refused.
	allowUnenforced bool
	// hostInterfaces leaves the address, MTU and admin state of mapped
	// GigaEthernets to the host (see tun.Manager.SetMappedAddresses).
	hostInterfaces bool
	static         bool    // lab
	once           bool    // lab
	impair         string  // lab: impairment settings on the internet router
	emulate        string  // "azure": behave as an Azure VPN Gateway instance (emulate.go)
	timeScale      float64 // --emulate azure: divides Azure's SA lifetimes
	connectionMode string  // --emulate azure: the connection's connectionMode
	connectionFile string  // --emulate azure: the connection's az JSON
	activeActive   bool    // lab: an active-active Azure gateway
	events         string  // lab: Azure events to run and measure
	help           bool
	version        bool
}

// mapFlag collects repeated --map IXNAME=linuxdev flags.
type mapFlag map[string]string

func (m mapFlag) String() string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (m mapFlag) Set(s string) error {
	ix, dev, ok := strings.Cut(s, "=")
	if !ok || ix == "" || dev == "" {
		return fmt.Errorf("want IXNAME=linuxdev, e.g. GigaEthernet0.0=eth0")
	}
	if !strings.HasPrefix(ix, "GigaEthernet") {
		return fmt.Errorf("%s: only GigaEthernet interfaces are mapped (Tunnel and Loopback devices are created with their IX names)", ix)
	}
	if len(dev) > 15 {
		return fmt.Errorf("%s: Linux interface names have at most 15 characters", dev)
	}
	if _, dup := m[ix]; dup {
		return fmt.Errorf("%s mapped twice", ix)
	}
	m[ix] = dev
	return nil
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("soft-ix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.maps = mapFlag{}
	fs.StringVar(&o.config, "c", "", "IX configuration `FILE`")
	fs.Var(o.maps, "map", "Linux interface playing an IX GigaEthernet, `IXNAME=dev` (repeatable; unmapped GigaEthernets are left alone)")
	fs.StringVar(&o.socket, "socket", ctl.DefaultSocket, "control socket `PATH`")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (off by default; e.g. 127.0.0.1:9477; a bare :PORT binds loopback)")
	fs.StringVar(&o.keylog, "keylog", "", "append IKE and ESP keys for Wireshark to `FILE` (ikev2_decryption_table / esp_sa lines; debugging only)")
	fs.BoolVar(&o.forceUDPEncap, "force-udp-encap", false, "carry ESP in UDP 4500 even without a NAT, as strongSwan's encap=yes: the peer is told a NAT is present (soft-ix extension, not an IX command; faster in software, 8 bytes more per packet)")
	fs.StringVar(&o.rawESP, "raw-esp", "auto", "how raw ESP (IP protocol 50) moves: `MODE` auto (sent as Ethernet frames on a packet socket where the next hop is known and received from a packet ring, both past the IP stack, else through the raw IP socket; with packet filters or NAPT, which would not see it, always the raw IP socket), socket (the raw IP socket only) or packet (as auto, but fail when the packet socket or ring cannot be set up)")
	fs.BoolVar(&o.azure, "azure", false, "check: also lint the configuration against Azure VPN Gateway's documented behaviour (soft-ix azure table)")
	fs.StringVar(&o.policy, "policy", "", "check --azure: the connection's custom IPsec/IKE policy, as JSON `FILE` (ipsecPolicies, or az network vpn-connection show output)")
	fs.BoolVar(&o.allowUnenforced, "allow-unenforced", false, "run (and let check and reload pass) a configuration whose packet filter, NAPT or IPsec (other than IKEv2) lines soft-ix cannot enforce; without it such a file is refused, naming each line, because the interfaces would pass what the IX file denies or send in clear what it encrypts")
	fs.BoolVar(&o.hostInterfaces, "host-interfaces", false, "leave the address, MTU and up/down state of the mapped GigaEthernets to the host (its own network configuration, a DHCP client...); without it soft-ix applies the file's ip address, ip mtu and shutdown to them, as an IX does to its ports, and undoes what it changed when it stops")
	fs.BoolVar(&o.static, "static", false, "lab: use the static-route config instead of BGP")
	fs.BoolVar(&o.once, "once", false, "lab: exit after the report instead of staying up")
	fs.StringVar(&o.impair, "impair", "", "lab: put the impairment element on the internet router with these `SETTINGS`, e.g. \"loss=1% delay=30ms jitter=10ms\" (keys loss, delay, jitter, reorder, dup, corrupt, rate, blackhole; needs the go command or IMPAIR_BIN)")
	fs.StringVar(&o.emulate, "emulate", "", "behave as `PEER`: \"azure\" runs the file as one instance of an Azure VPN Gateway (Azure's proposals, lifetimes, DPD and BGP rules from \"soft-ix azure table\"; a lab peer, not an IX)")
	fs.Float64Var(&o.timeScale, "emulate-time-scale", 1, "--emulate azure: divide Azure's SA lifetimes by `N` so a lab sees rekeys sooner (100: IKE SA 288 s, Child SA 270 s)")
	fs.StringVar(&o.connectionFile, "emulate-connection", "", "--emulate azure: behave as the connection in `FILE` (az network vpn-connection show): its custom IPsec/IKE policy, connectionMode and dpdTimeoutSeconds")
	fs.StringVar(&o.connectionMode, "emulate-connection-mode", "", "--emulate azure: the connection's connectionMode, `MODE` Default (initiate and respond), InitiatorOnly (initiate, refuse the peer's attempts) or ResponderOnly (only answer)")
	fs.BoolVar(&o.activeActive, "active-active", false, "lab: an active-active Azure gateway, two instances and two tunnels (ECMP on the IX side)")
	fs.StringVar(&o.events, "events", "", "lab: after the report, run Azure's `EVENTS` (comma-separated: maintenance, failover) and print how long LAN-to-VNet traffic stopped")
	fs.BoolVar(&o.help, "help", false, "show this help")
	fs.BoolVar(&o.help, "h", false, "show this help")
	fs.BoolVar(&o.version, "version", false, "print the version (the commit built from) and exit")
	fs.Usage = func() { usage(fs, stderr) }
	return fs
}

// splitArgs separates flags (with their values) from verb words, so flags
// can follow the verb.
func splitArgs(fs *flag.FlagSet, args []string) (flags, words []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			words = append(words, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // flag.Parse reports it
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, words
}

func parseArgs(args []string, stderr io.Writer) (*options, []string, error) {
	o := &options{}
	fs := newFlagSet(o, stderr)
	flags, words := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		return nil, nil, err
	}
	if o.help {
		fs.Usage()
		return nil, nil, flag.ErrHelp
	}

	switch o.logFormat {
	case "text", "json":
	default:
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return nil, nil, err
	}
	if _, err := o.emulator(); err != nil {
		return nil, nil, err
	}
	return o, words, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	// "azure" has flags of its own (see azure.go), parsed there.
	if len(args) > 0 && args[0] == "azure" {
		return runAzure(args[1:], os.Stdin, stdout, stderr)
	}
	o, words, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: %v\n", err)
		return exitUsage
	}
	if o.version {
		fmt.Fprintf(stdout, "soft-ix %s\n", version())
		return exitOK
	}
	if len(words) == 0 {
		if o.config == "" {
			fmt.Fprintln(stderr, "soft-ix: no configuration: run the daemon with -c FILE (see soft-ix --help)")
			return exitUsage
		}
		return runDaemon(o, stderr)
	}
	switch words[0] {
	case "check":
		if len(words) != 1 || o.config == "" {
			fmt.Fprintln(stderr, "soft-ix: usage: soft-ix check [--azure [--policy FILE.json]] -c FILE")
			return exitUsage
		}
		if o.policy != "" && !o.azure {
			fmt.Fprintln(stderr, "soft-ix: check: --policy goes with --azure")
			return exitUsage
		}
		if o.azure {
			return runCheckAzure(o.config, o.policy, stdout, stderr)
		}
		return runCheck(o.config, o.maps, o.allowUnenforced, stdout, stderr)
	case "cli":
		return runInteractive(o, os.Stdin, stdout, stderr)
	case "lab":
		return runLab(o, stdout, stderr)
	case "azure":
		// Reached only when flags stood before "azure": its flags are
		// its own, parsed by runAzure.
		fmt.Fprintln(stderr, "soft-ix: azure: put \"azure\" first, its flags after it: soft-ix azure config|import|table ...")
		return exitUsage
	case "help":
		newFlagSet(&options{}, stderr).Usage()
		return exitOK
	}
	cmd, err := cli.Parse(words)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	if cmd.ID == cli.ShowRunningConfig && o.config != "" {
		return runShowConfigFile(o.config, stdout, stderr)
	}
	resp, err := ctl.Do(o.socket, cmd.Words, commandTimeout(cmd))
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: %v\n", err)
		return exitFail
	}
	io.WriteString(stdout, resp.Output)
	return resp.Status
}

// commandTimeout is how long a client waits for the daemon's answer: a
// ping takes up to pingTimeout per echo request, a traceroute up to
// tracerouteTimeout per probe.
func commandTimeout(cmd *cli.Command) time.Duration {
	timeout := 10 * time.Second
	switch cmd.ID {
	case cli.Ping:
		timeout += time.Duration(cmd.Int("count", defaultPingCount)) * pingTimeout
	case cli.Traceroute:
		timeout += tracerouteMaxHops * tracerouteProbes * tracerouteTimeout
	}
	return timeout
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `soft-ix runs an NEC IX configuration (IKEv2/ESP to Azure VPN Gateway, static
routes, BGP) on Linux and answers the IX show commands.

Usage:
  soft-ix -c FILE [--map GigaEthernetN.M=dev ...] [flags]
        run the daemon in the foreground; SIGHUP re-reads FILE, SIGTERM/SIGINT
        stop it and remove everything it added. It refuses to start (and a
        reload is refused) while FILE has ip filter / ip napt lines it cannot
        enforce, or a tunnel in an IPsec mode other than ipsec-ikev2 (IKEv1),
        unless --allow-unenforced is given
  soft-ix --emulate azure [--emulate-time-scale N] [--emulate-connection CONN.json]
        [--emulate-connection-mode MODE] -c FILE [--map ...]
        run FILE as one instance of an Azure VPN Gateway (a lab peer): every
        tunnel offers and accepts Azure's default proposals, initiates and
        responds (or only one of them, as the connection MODE InitiatorOnly
        or ResponderOnly says), rekeys on Azure's lifetimes (divided by N)
        and runs Azure's DPD; --emulate-connection takes the proposal (a
        custom policy's one combination), lifetimes, mode and DPD timeout
        from the connection's az JSON; BGP refuses reserved ASNs and iBGP,
        runs 60/180 s timers, waits for the peer to connect and drops a peer
        sending over 4000 prefixes
  soft-ix check -c FILE [--allow-unenforced]
        parse and validate FILE; diagnostics on stderr as file:line:col;
        exit 0 when the configuration is usable, 1 otherwise; a file with
        filter, NAPT or IKEv1 tunnel lines soft-ix cannot enforce is not
        usable (they are listed) unless --allow-unenforced is given, as for
        the daemon
  soft-ix check --azure [--policy FILE.json] -c FILE
        also lint FILE against Azure VPN Gateway (soft-ix azure table), or
        against a connection's custom ipsecPolicies JSON: proposals, DH/PFS,
        lifetimes, reserved ASNs, BGP peer addresses and host routes, MSS,
        pre-fragment; each finding as file:line:col with the fix and the
        Microsoft Learn source; exit 1 when any finding is an error
  soft-ix show running-config -c FILE
        print FILE in canonical IX form (offline)
  soft-ix COMMAND [--socket PATH]
        run an IX command in the running daemon and print its answer
  soft-ix cli [--socket PATH]
        interactive IX session (prompt "HOSTNAME# ", history, TAB completion, ?)
  soft-ix lab [--static] [--once] [--keylog FILE] [--force-udp-encap] [--impair SETTINGS]
        [--active-active] [--emulate-time-scale N] [--events maintenance,failover,rekey]
        build an IX <-> internet <-> Azure lab in network namespaces, run soft-ix
        on both sides (--emulate azure on Azure's), print the tunnel, BGP and a
        ping, then stay up until Ctrl-C (or exit with --once); needs root.
        --keylog writes the IX side's IKE/ESP keys for Wireshark;
        --force-udp-encap makes the IX side carry ESP in UDP 4500; --impair
        makes the internet lossy, slow or worse (integration/cmd/impair;
        changeable while the lab runs); --active-active runs two Azure
        instances and the IX file "azure config" writes for them; --events
        runs Azure's planned maintenance (instances leave with DELETE and
        come back), unplanned failover (an instance loses all state, its
        successor initiates) or waits for Azure's rekeys, and prints how long
        a 10 ms probe stream from the LAN to the VNet stopped
  soft-ix azure config --gateway-ip A [--gateway-ip2 B] --psk-file F|- [--policy default|gcm]
        [--vnet P ...] [--azure-asn N --bgp-peer A [--bgp-peer2 B] --local-asn N --local-bgp-ip A]
        [--lan P ...] [--wan GigaEthernetN.M]
        write the IX configuration for a connection to an Azure VPN gateway
        to stdout: static routes to each --vnet, or BGP; one tunnel per
        gateway address (two for active-active); the key is read from
        --psk-file and written only into the configuration
  soft-ix azure import --gateway FILE --connection FILE [--public-ip FILE ...]
        [--local-gateway FILE] [--psk-file F|-] [--vnet P ...] [--lan P ...]
        [--local-asn N] [--local-bgp-ip A] [--wan GigaEthernetN.M]
        the same from the JSON az network vnet-gateway show, vpn-connection
        show, public-ip show and local-gateway show print: active-active,
        BGP addresses (custom APIPA ones too), ASNs, the custom ipsecPolicies;
        refuses IKEv1 and policy-based traffic selectors; flags fill what
        Azure's JSON does not hold (the key, VNet prefixes for static routes);
        "soft-ix azure config --help" and "... import --help" list each flag
  soft-ix azure table
        Azure VPN Gateway's documented behaviour soft-ix checks against,
        each fact with its Microsoft Learn source
  soft-ix help
        this help (as do -h and --help)

Commands (any keyword may be shortened to an unambiguous prefix: "sh ip bg su"):
`)
	for _, l := range cli.Usage() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
}
