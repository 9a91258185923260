package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azure"
)

// This file is the "soft-ix azure" verb: writing the IX configuration for
// an Azure connection from flags (config) or from the az CLI's JSON
// (import). The Azure knowledge lives in internal/azure; this is flags and
// files only.

const azureUsage = `usage:
  soft-ix azure config --gateway-ip A [--gateway-ip2 B] --psk-file F|- [--policy default|gcm]
        [--vnet P ...] [--azure-asn N --bgp-peer A [--bgp-peer2 B] --local-asn N --local-bgp-ip A]
        [--lan P ...] [--wan GigaEthernetN.M]
  soft-ix azure import --gateway FILE --connection FILE [--public-ip FILE ...] [--local-gateway FILE]
        [--psk-file F|-] [--vnet P ...] [--lan P ...] [--local-asn N --local-bgp-ip A] [--wan GigaEthernetN.M]
  soft-ix azure table
`

// runAzure is "soft-ix azure ...": args are the words after "azure".
func runAzure(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, azureUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "config":
		return runAzureConfig(args[1:], stdin, stdout, stderr)
	case "import":
		return runAzureImport(args[1:], stdin, stdout, stderr)
	case "table":
		printAzureTable(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "soft-ix: azure %s: unknown; want config, import or table\n%s", args[0], azureUsage)
	return exitUsage
}

// addrList and prefixList collect repeated address and prefix flags.
type addrList []netip.Addr

func (l *addrList) String() string { return fmt.Sprint(*l) }
func (l *addrList) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("want an IPv4 address")
	}
	*l = append(*l, a)
	return nil
}

type prefixList []netip.Prefix

func (l *prefixList) String() string { return fmt.Sprint(*l) }
func (l *prefixList) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("want a prefix such as 172.16.0.0/16")
	}
	*l = append(*l, p)
	return nil
}

type addrFlag struct{ a *netip.Addr }

func (f addrFlag) String() string {
	if f.a == nil || !f.a.IsValid() {
		return ""
	}
	return f.a.String()
}
func (f addrFlag) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("want an IPv4 address")
	}
	*f.a = a
	return nil
}

// commonAzureFlags are the flags config and import share: what the
// on-premises side knows and Azure's JSON does not.
type commonAzureFlags struct {
	pskFile  string
	vnets    prefixList
	lans     prefixList
	wan      string
	localASN uint
	localBGP netip.Addr
}

func (c *commonAzureFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.pskFile, "psk-file", "", "read the pre-shared key from `FILE` (- for stdin); it is written into the generated config and nowhere else")
	fs.Var(&c.vnets, "vnet", "Azure address space `P` to route into the tunnel when there is no BGP (repeatable)")
	fs.Var(&c.lans, "lan", "on-premises network `P`: advertised with BGP, listed for the local network gateway without (repeatable)")
	fs.StringVar(&c.wan, "wan", "", "the `GigaEthernetN.M` IKE leaves by (ikev2 source-address); default: by the routing table")
	fs.UintVar(&c.localASN, "local-asn", 0, "on-premises BGP `ASN`")
	fs.Var(addrFlag{&c.localBGP}, "local-bgp-ip", "on-premises BGP address `A`, put on Loopback0.0 (the seed's 10.2.2.2)")
}

func newAzureFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("soft-ix azure "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nFlags of soft-ix azure %s:\n", azureUsage, name)
		fs.PrintDefaults()
	}
	return fs
}

func runAzureConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newAzureFlagSet("config", stderr)
	var c commonAzureFlags
	c.register(fs)
	var gw1, gw2, peer1, peer2 netip.Addr
	var azureASN uint
	var policy string
	fs.Var(addrFlag{&gw1}, "gateway-ip", "Azure gateway's public address `A`")
	fs.Var(addrFlag{&gw2}, "gateway-ip2", "second public address `B` of an active-active gateway")
	fs.UintVar(&azureASN, "azure-asn", 0, "Azure gateway's BGP `ASN` (65515 unless changed)")
	fs.Var(addrFlag{&peer1}, "bgp-peer", "Azure's BGP peer address `A` (bgpPeeringAddress)")
	fs.Var(addrFlag{&peer2}, "bgp-peer2", "BGP peer address `B` of the second active-active instance")
	fs.StringVar(&policy, "policy", "default", "crypto `POLICY`: default (Azure's default proposals, as the seed how-to) or gcm (ESP AES-GCM-256, Azure's first default offer)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "soft-ix: azure config: unexpected %q\n", fs.Arg(0))
		return exitUsage
	}
	pol, err := azure.PolicyByName(policy)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: azure config: %v\n", err)
		return exitUsage
	}
	p := azure.Params{AzureASN: uint32(azureASN), Policy: pol}
	for _, a := range []netip.Addr{gw1, gw2} {
		if a.IsValid() {
			p.Gateways = append(p.Gateways, a)
		}
	}
	for _, a := range []netip.Addr{peer1, peer2} {
		if a.IsValid() {
			p.BGPPeers = append(p.BGPPeers, a)
		}
	}
	if err := c.apply(&p, stdin, true); err != nil {
		fmt.Fprintf(stderr, "soft-ix: azure config: %v\n", err)
		return exitUsage
	}
	return writeGenerated(p, stdout, stderr)
}

// apply fills p from the shared flags; the key is required unless p
// already has one.
func (c *commonAzureFlags) apply(p *azure.Params, stdin io.Reader, needKey bool) error {
	if len(c.vnets) > 0 {
		p.VNets = c.vnets
	}
	if len(c.lans) > 0 {
		p.LANs = c.lans
	}
	if c.wan != "" {
		p.WAN = c.wan
	}
	if c.localASN > 0xffffffff {
		return fmt.Errorf("--local-asn %d: ASNs have 32 bits", c.localASN)
	}
	if c.localASN != 0 {
		p.LocalASN = uint32(c.localASN)
	}
	if c.localBGP.IsValid() {
		p.LocalBGP = c.localBGP
	}
	switch {
	case c.pskFile != "":
		k, err := readPSK(c.pskFile, stdin)
		if err != nil {
			return err
		}
		p.PSK = k
	case needKey || len(p.PSK) == 0:
		return errors.New("no pre-shared key: give --psk-file FILE (or - to read it from stdin)")
	}
	return nil
}

// readPSK reads a key file (or stdin for "-"): the first line, without
// its line end. Errors name the file, never the content.
func readPSK(path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 4096))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--psk-file: %w", err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		if rest := bytes.TrimSpace(b[i+1:]); len(rest) > 0 {
			return nil, fmt.Errorf("--psk-file %s: more than one line; the key is the whole first line", path)
		}
		b = b[:i]
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("--psk-file %s: empty", path)
	}
	return b, nil
}

func writeGenerated(p azure.Params, stdout, stderr io.Writer) int {
	out, err := azure.Generate(p)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: %v\n", strings.ReplaceAll(err.Error(), "\n", "\nsoft-ix: "))
		return exitUsage
	}
	stdout.Write(out)
	return exitOK
}

// fileList collects repeated file flags.
type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(s string) error { *l = append(*l, s); return nil }

func runAzureImport(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newAzureFlagSet("import", stderr)
	var c commonAzureFlags
	c.register(fs)
	var gwFile, connFile, localFile string
	var pipFiles fileList
	fs.StringVar(&gwFile, "gateway", "", "`FILE` with the output of az network vnet-gateway show")
	fs.StringVar(&connFile, "connection", "", "`FILE` with the output of az network vpn-connection show")
	fs.Var(&pipFiles, "public-ip", "`FILE` with the output of az network public-ip show for a gateway address (repeatable; two for active-active)")
	fs.StringVar(&localFile, "local-gateway", "", "`FILE` with the output of az network local-gateway show (on-premises ASN, BGP address, address space)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 || gwFile == "" || connFile == "" {
		fmt.Fprintf(stderr, "soft-ix: azure import needs --gateway FILE and --connection FILE\n%s", azureUsage)
		return exitUsage
	}
	var d azure.Documents
	var err error
	read := func(path string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = os.ReadFile(path)
		return b
	}
	d.Gateway, d.Connection = read(gwFile), read(connFile)
	for _, f := range pipFiles {
		d.PublicIPs = append(d.PublicIPs, read(f))
	}
	if localFile != "" {
		d.LocalGateway = read(localFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: azure import: %v\n", err)
		return exitFail
	}
	p, err := azure.Import(d)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: azure import: %v\n", err)
		return exitFail
	}
	// The connection may carry its key (sharedKey); --psk-file wins.
	if err := c.apply(&p, stdin, false); err != nil {
		fmt.Fprintf(stderr, "soft-ix: azure import: %v\n", err)
		return exitUsage
	}
	return writeGenerated(p, stdout, stderr)
}

func printAzureTable(w io.Writer) {
	for _, r := range azure.Table {
		fmt.Fprintf(w, "%s: %s\n    %s\n    source: %s\n", r.ID, r.What, r.Value, r.Source)
	}
}

// runCheckAzure is "soft-ix check --azure -c FILE [--policy FILE.json]":
// the config's own diagnostics first (as check prints them), then the
// Azure findings. It fails when the file does not load or any finding is
// an error.
func runCheckAzure(path, policyPath string, stdout, stderr io.Writer) int {
	acc := azure.DefaultAccepts()
	if policyPath != "" {
		data, err := os.ReadFile(policyPath)
		if err != nil {
			fmt.Fprintf(stderr, "soft-ix: --policy: %v\n", err)
			return exitFail
		}
		if acc, err = azure.ConnectionAccepts(data); err != nil {
			fmt.Fprintf(stderr, "soft-ix: --policy %s: %v\n", policyPath, err)
			return exitFail
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix: %v\n", err)
		return exitFail
	}
	cfg, diags, err := loadConfig(path)
	printDiags(stderr, diags, err)
	if err != nil || cfg == nil {
		return exitFail
	}
	findings := azure.Lint(cfg, src, acc)
	count := map[azure.Severity]int{}
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
		count[f.Severity]++
	}
	against := "Azure's default policy"
	if acc.Custom {
		against = "the custom policy in " + policyPath
	}
	fmt.Fprintf(stdout, "azure: %d errors, %d warnings, %d notes against %s\n", count[azure.Error], count[azure.Warning], count[azure.Info], against)
	if azure.HasErrors(findings) {
		return exitFail
	}
	return exitOK
}
