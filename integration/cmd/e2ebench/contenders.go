package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// Each contender has an up (start, wait until a ping crosses, set
// b.tunnel) and a down (remove what it added; bench.down stops the
// processes by PID). They run one at a time in the same namespaces.

// -- soft-ix <-> soft-ix: the real daemon on both sides, IKE brings the
// tunnel up. Configs are cmd/soft-ix/labconf's static IX config and Azure
// gateway config (its BGP section dropped: static routes on both sides),
// with the IX's child proposal set to the suite under test.

// softixConfigs returns the IX's and the gateway's configs for a suite:
// cbc or gcm, optionally prefixed by nat- (the gateway accepts any peer
// address and only responds: the IX is behind the internet router's
// NAT), encap- (the same; softixUp adds --force-udp-encap) or filt- (the
// IX has a published branch's WAN filter and NAPT, see branchFilters).
func (b *bench) softixConfigs(suite string) (ix, azure string, err error) {
	conf := filepath.Join(b.repo, "cmd", "soft-ix", "labconf")
	base := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(suite, "encap-"), "nat-"), "filt-")
	raw, err := os.ReadFile(filepath.Join(conf, "ix-lab-static.conf"))
	if err != nil {
		return "", "", err
	}
	ix = string(raw)
	switch base {
	case "cbc":
	case "gcm":
		var lines []string
		for _, l := range strings.SplitAfter(ix, "\n") {
			if strings.HasPrefix(l, "  child-proposal integrity") {
				continue
			}
			if l == "  child-proposal enc aes-cbc-256\n" {
				l = "  child-proposal enc aes-gcm-256\n"
			}
			lines = append(lines, l)
		}
		ix = strings.Join(lines, "")
	default:
		return "", "", fmt.Errorf("softix: unknown suite %s", base)
	}
	raw, err = os.ReadFile(filepath.Join(conf, "azure-lab.conf"))
	if err != nil {
		return "", "", err
	}
	azure = dropSection(string(raw), "router bgp")
	if base != suite {
		azure = strings.ReplaceAll(azure, "  ikev2 connect-type auto\n", "")
		const peer, anyPeer = "  ikev2 peer 203.0.113.94 authentication", "  ikev2 peer any authentication"
		if !strings.Contains(azure, peer) {
			return "", "", fmt.Errorf("azure-lab.conf changed: no 'ikev2 peer 203.0.113.94' to replace")
		}
		azure = strings.ReplaceAll(azure, peer, anyPeer)
	}
	if strings.HasPrefix(suite, "filt-") {
		if ix, err = b.branchFilters(ix); err != nil {
			return "", "", err
		}
	}
	return ix, azure, nil
}

// dropSection removes the lines from the first starting with head to the
// next starting with "!", both included.
func dropSection(conf, head string) string {
	var out []string
	in := false
	for _, l := range strings.SplitAfter(conf, "\n") {
		switch {
		case !in && strings.HasPrefix(l, head):
			in = true
		case in && strings.HasPrefix(l, "!"):
			in = false
		case !in:
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// branchFilters gives the IX config the packet filters and NAPT of
// published branch configurations (config/testdata/wild/), taken from
// those files as they are: the WAN access list "flt-list" of
// shigehiro-ix2025-router1.conf (IKE, NAT-T and L2TP ports, then any),
// applied to GigaEthernet0.0 in both directions (the file applies it
// "out"; "in" makes every packet from the peer walk it too), and the NAPT
// of alibaba-ix2215.conf (a branch to a cloud VPN gateway: ip napt enable,
// ip napt static for ESP, IKE and NAT-T to the router itself). Every
// packet of the tunnel then passes nftables filter chains, connection
// tracking and the NAPT table, as on a branch IX.
func (b *bench) branchFilters(ix string) (string, error) {
	wild := filepath.Join(b.repo, "config", "testdata", "wild")
	acl, err := grepLines(filepath.Join(wild, "shigehiro-ix2025-router1.conf"), regexp.MustCompile(`^ip access-list flt-list `))
	if err != nil {
		return "", err
	}
	napt, err := grepLines(filepath.Join(wild, "alibaba-ix2215.conf"), regexp.MustCompile(`^ +ip napt (enable|static GigaEthernet0\.0 )`))
	if err != nil {
		return "", err
	}
	if len(acl) != 4 || len(napt) != 4 {
		return "", fmt.Errorf("the published branch configurations changed: flt-list or the NAPT lines not found")
	}
	var out strings.Builder
	out.WriteString(strings.Join(acl, "\n") + "\n")
	for _, l := range strings.SplitAfter(ix, "\n") {
		out.WriteString(l)
		if l == "interface GigaEthernet0.0\n" {
			for _, n := range napt {
				out.WriteString("  " + strings.TrimLeft(n, " ") + "\n")
			}
			out.WriteString("  ip filter flt-list 30 in\n  ip filter flt-list 30 out\n")
		}
	}
	return out.String(), nil
}

// grepLines returns the lines of a file that match re.
func grepLines(path string, re *regexp.Regexp) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, l := range strings.Split(string(raw), "\n") {
		if re.MatchString(l) {
			found = append(found, l)
		}
	}
	return found, nil
}

var childUp = regexp.MustCompile(`Child SA - [1-9][0-9]* connected`)

func (b *bench) softixUp(suite string) error {
	ix, azure, err := b.softixConfigs(suite)
	if err != nil {
		return err
	}
	// The configs are checked as the daemons will load them: the IX's
	// filters as enforceable on its interfaces.
	for _, c := range []struct{ name, conf string }{{"ix", ix}, {"azure", azure}} {
		path := filepath.Join(b.work, "check-"+c.name+".conf")
		if err := os.WriteFile(path, []byte(c.conf), 0o600); err != nil {
			return err
		}
		args := []string{"check", "-c", path}
		if c.name == "ix" {
			args = append(args, "--map", "GigaEthernet0.0=GigaEthernet0.0", "--map", "GigaEthernet1.0=GigaEthernet1.0")
		}
		if out, err := exec.Command(b.softixBin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("soft-ix check of the %s config: %v\n%s", c.name, err, out)
		}
	}
	var encap []string
	if strings.HasPrefix(suite, "encap-") {
		// No NAT, but the IX forces ESP into UDP 4500 (strongSwan's encap=yes).
		encap = []string{"--force-udp-encap"}
	}
	if strings.HasPrefix(suite, "nat-") {
		if _, err := exec.LookPath("iptables"); err != nil {
			return fmt.Errorf("softix-nat-*: iptables missing (apt-get install iptables)")
		}
		// The internet router hides the IX behind its own address, so IKE
		// detects the NAT and ESP goes in UDP 4500 (RFC 3948).
		b.nat = true
		if _, err := b.sc.Internet.Run("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "azure", "-s", "203.0.113.0/24", "-j", "MASQUERADE"); err != nil {
			return err
		}
	}
	logLevel := []string{"--log-level", b.logLevel}
	if m := os.Getenv("SOFTIX_RAW_ESP"); m != "" {
		logLevel = append(logLevel, "--raw-esp", m)
	}
	az, err := nslab.StartSoftIXDaemon(b.sc.Azure, nslab.SoftIXOptions{Name: "azure", Config: azure, Map: nslab.AzureSideMap(), Args: logLevel})
	if err != nil {
		return err
	}
	b.tunnel = append(b.tunnel, az.Proc)
	x, err := nslab.StartSoftIXDaemon(b.sc.IX, nslab.SoftIXOptions{Name: "ix", Config: ix, Map: nslab.IXSideMap(), Args: append(logLevel, encap...)})
	if err != nil {
		return err
	}
	b.tunnel = append([]*nslab.Proc{x.Proc}, b.tunnel...)
	if err := nslab.WaitFor(60*time.Second, "soft-ix Child SA", func() error {
		out, err := x.Command("show", "ikev2", "child-sa")
		if err == nil && !childUp.MatchString(out) {
			err = fmt.Errorf("no connected Child SA")
		}
		return err
	}); err != nil {
		return err
	}
	if strings.HasPrefix(suite, "filt-") {
		// The measurement is only worth its name with the filters in the
		// kernel: the IX lists them with their counters.
		if out, err := x.Command("show", "ip", "filter"); err != nil || !strings.Contains(out, "flt-list") {
			return fmt.Errorf("softix-%s: the IX shows no flt-list filter (%v)", suite, err)
		}
	}
	return b.waitReach(20 * time.Second)
}

// softixDown removes what the daemons (or esppeers) may have left, and
// the NAT's connection tracking state with the internet router.
func (b *bench) softixDown() {
	// The daemons remove their Tunnel0.0 devices and routes on SIGTERM;
	// make sure nothing is left for the next contender.
	ignore(b.sc.IX.IP("link", "del", "Tunnel0.0"))
	ignore(b.sc.Azure.IP("link", "del", "Tunnel0.0"))
	ignore(b.sc.IX.IP("route", "del", nslab.VNetNet))
	ignore(b.sc.Azure.IP("route", "del", nslab.LANNet))
	ignore(b.sc.Azure.IP("route", "del", nslab.IXLoopbackAddr+"/32"))
	if b.nat {
		b.nat = false
		if err := b.sc.RebuildInternet(); err != nil {
			die("rebuilding the internet router after NAT failed: %v", err)
		}
		if b.wanPerPacket {
			if err := b.wanOnePacketAtATime(); err != nil {
				die("%v", err)
			}
		}
	}
}

// -- strongSwan <-> strongSwan: charon-systemd with kernel-libipsec (the
// kernel here may have no XFRM), route-based through ipsec0: nslab's
// reference pair with the bench's proposals.

func (b *bench) swanUp(suite string) error {
	esp := map[string]string{"cbc": "aes256-sha256", "gcm": "aes256gcm16"}[suite]
	if esp == "" {
		return fmt.Errorf("strongswan: unknown suite %s", suite)
	}
	ixCfg, azCfg := nslab.IXStrongSwanConfig(), nslab.AzureStrongSwanConfig()
	ixCfg.ESPProposals, azCfg.ESPProposals = esp, esp
	// The pair is started here side by side (not StartStrongSwanPair) so
	// that the endpoints' CPU counts from the first one started.
	az, err := nslab.StartStrongSwan(b.sc.Azure, azCfg)
	if err != nil {
		return err
	}
	b.tunnel = append(b.tunnel, az.Proc)
	ix, err := nslab.StartStrongSwan(b.sc.IX, ixCfg)
	if err != nil {
		return err
	}
	b.tunnel = append([]*nslab.Proc{ix.Proc}, b.tunnel...)
	for _, s := range []*nslab.StrongSwan{az, ix} {
		if err := s.Load(); err != nil {
			return err
		}
	}
	if err := ix.Up(30*time.Second, nslab.VNetNet); err != nil {
		return err
	}
	if err := az.Up(30*time.Second, nslab.LANNet); err != nil {
		return err
	}
	return b.waitReach(20 * time.Second)
}

func (b *bench) swanDown() {
	ignore(b.sc.IX.IP("route", "del", nslab.VNetNet))
	ignore(b.sc.Azure.IP("route", "del", nslab.LANNet))
	for _, ns := range []*nslab.Namespace{b.sc.IX, b.sc.Azure} {
		for i := 0; i < 10 && ns.IP("rule", "del", "lookup", "220") == nil; i++ {
		}
	}
}

// -- wireguard-go <-> wireguard-go, configured with wg(8) and ip(8). The
// UAPI sockets live in /var/run/wireguard, shared by all namespaces, so
// the interface names carry this process's PID.

var wgIX, wgAzure = fmt.Sprintf("wgi%d", os.Getpid()), fmt.Sprintf("wga%d", os.Getpid())

// wgEnsure installs wireguard-go and wg with apt-get when missing.
func wgEnsure(work string) error {
	_, err1 := exec.LookPath("wireguard-go")
	_, err2 := exec.LookPath("wg")
	if err1 == nil && err2 == nil {
		return nil
	}
	logf("installing wireguard-go and wireguard-tools with apt-get")
	cmd := exec.Command("timeout", "300", "apt-get", "install", "-y", "--no-install-recommends", "wireguard-go", "wireguard-tools")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	logPath := filepath.Join(work, "apt.log")
	os.WriteFile(logPath, out, 0o600)
	if err != nil {
		return fmt.Errorf("apt-get install wireguard-go wireguard-tools failed (see %s)", logPath)
	}
	return nil
}

// wgKey returns a new private key, written to path, and its public key.
func wgKey(path string) (pub string, err error) {
	priv, err := exec.Command("wg", "genkey").Output()
	if err != nil {
		return "", fmt.Errorf("wg genkey: %w", err)
	}
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(string(priv))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("wg pubkey: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (b *bench) wgUp() error {
	ixKey, azKey := filepath.Join(b.work, "wg-ix.key"), filepath.Join(b.work, "wg-az.key")
	ixPub, err := wgKey(ixKey)
	if err != nil {
		return err
	}
	azPub, err := wgKey(azKey)
	if err != nil {
		return err
	}
	sides := []struct {
		ns                   *nslab.Namespace
		dev, key, peer, addr string
		remote, route        string
	}{
		{b.sc.IX, wgIX, ixKey, azPub, nslab.AzurePublicAddr, nslab.VNetNet, nslab.VNetNet},
		{b.sc.Azure, wgAzure, azKey, ixPub, nslab.IXWANAddr, nslab.LANNet, nslab.LANNet},
	}
	for _, s := range sides {
		p, err := s.ns.Start("wg", []string{"WG_PROCESS_FOREGROUND=1"}, "wireguard-go", "-f", s.dev)
		if err != nil {
			return err
		}
		b.tunnel = append(b.tunnel, p)
	}
	for _, s := range sides {
		if err := s.ns.WaitLink(s.dev, 10*time.Second); err != nil {
			return err
		}
		if _, err := s.ns.Run("wg", "set", s.dev, "private-key", s.key, "listen-port", "51820",
			"peer", s.peer, "endpoint", s.addr+":51820", "allowed-ips", s.remote); err != nil {
			return err
		}
	}
	for _, s := range sides {
		if err := s.ns.IP("link", "set", s.dev, "up"); err != nil {
			return err
		}
		if err := s.ns.IP("route", "add", s.route, "dev", s.dev); err != nil {
			return err
		}
	}
	return b.waitReach(20 * time.Second)
}

func (b *bench) wgDown() {
	ignore(b.sc.IX.IP("link", "del", wgIX))
	ignore(b.sc.Azure.IP("link", "del", wgAzure))
	wgRemoveSockets()
}

func wgRemoveSockets() {
	for _, dev := range []string{wgIX, wgAzure} {
		os.Remove("/var/run/wireguard/" + dev + ".sock")
	}
}

// -- esppeer <-> esppeer: soft-ix's ESP engine alone
// (integration/cmd/esppeer) with static keys and no IKE, for comparing
// raw ESP (protocol 50) with ESP in UDP 4500 (UDP GSO/GRO possible) on
// the same path. VARIANT is raw-cbc, raw-gcm, udp-cbc or udp-gcm.

func (b *bench) esppeerUp(variant string) error {
	mode, enc, _ := strings.Cut(variant, "-")
	var suite string
	var ek, ik int
	switch enc {
	case "cbc":
		suite, ek, ik = "aes256-sha256", 32, 32
	case "gcm":
		suite, ek, ik = "aes256gcm16", 36, 0
	default:
		return fmt.Errorf("esppeer: unknown variant %s", variant)
	}
	var udp []string
	if mode == "udp" {
		udp = []string{"-udp"}
	}
	kab, kba, iab, iba := randomHex(ek), randomHex(ek), randomHex(ik), randomHex(ik)
	sides := []struct {
		name                 string
		ns                   *nslab.Namespace
		local, remote        string
		spiOut, spiIn        string
		kOut, iOut, kIn, iIn string
		route                string
	}{
		{"esppeer-ix", b.sc.IX, nslab.IXWANAddr, nslab.AzurePublicAddr, "0x1001", "0x2002", kab, iab, kba, iba, nslab.VNetNet},
		{"esppeer-azure", b.sc.Azure, nslab.AzurePublicAddr, nslab.IXWANAddr, "0x2002", "0x1001", kba, iba, kab, iab, nslab.LANNet},
	}
	for _, s := range sides {
		args := append([]string{b.esppeerBin, "-local", s.local, "-remote", s.remote}, udp...)
		// Flags as the soft-ix lab configs set them: pre-fragment, adjust-mss auto.
		args = append(args, "-suite", suite, "-spi-out", s.spiOut, "-spi-in", s.spiIn,
			"-key-out", s.kOut, "-ikey-out", s.iOut, "-key-in", s.kIn, "-ikey-in", s.iIn, "-pre-fragment", "-adjust-mss", "-1")
		p, err := s.ns.Start(s.name, nil, args...)
		if err != nil {
			return err
		}
		b.tunnel = append(b.tunnel, p)
	}
	for _, s := range sides {
		if err := s.ns.WaitLink("Tunnel0.0", 10*time.Second); err != nil {
			return err
		}
		if err := s.ns.IP("link", "set", "Tunnel0.0", "up"); err != nil {
			return err
		}
		if err := s.ns.IP("route", "add", s.route, "dev", "Tunnel0.0"); err != nil {
			return err
		}
	}
	return b.waitReach(20 * time.Second)
}
