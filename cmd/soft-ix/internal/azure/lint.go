package azure

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// Severity of a lint finding.
type Severity int

// Severities, least severe first. Only Error makes "soft-ix check
// --azure" fail.
const (
	Info    Severity = iota // works, but differs from Azure in a way worth knowing
	Warning                 // works on a good day; Azure recommends otherwise
	Error                   // Azure will refuse it or the connection cannot come up
)

// String gives "info", "warning" or "error", as findings print them.
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	}
	return "error"
}

// Finding is one difference between an IX configuration and Azure.
type Finding struct {
	Pos      config.Pos
	Severity Severity
	Msg      string
	Fix      string // what to change, in IX commands where possible
	Row      string // the Table row it rests on
}

// String formats the finding as "file:line:col: severity: msg", then the
// fix and the source on their own lines.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", f.Pos, f.Severity, f.Msg)
	if f.Fix != "" {
		fmt.Fprintf(&b, "\n    fix: %s", f.Fix)
	}
	if r, ok := Lookup(f.Row); ok {
		fmt.Fprintf(&b, "\n    azure: %s (%s)", r.Source, r.ID)
	}
	return b.String()
}

// HasErrors reports whether any finding is an Error.
func HasErrors(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Error })
}

// Lint checks cfg, loaded from src, against what Azure accepts. src is
// only used to point findings at the line of the command they are about;
// without it they point at the block.
func Lint(cfg *config.Config, src []byte, acc Accepts) []Finding {
	l := linter{cfg: cfg, acc: acc, lines: strings.Split(string(src), "\n")}
	for _, ifc := range cfg.Tunnels() {
		l.tunnel(ifc)
	}
	l.bgp()
	slices.SortStableFunc(l.out, func(a, b Finding) int { return a.Pos.Line - b.Pos.Line })
	return l.out
}

type linter struct {
	cfg   *config.Config
	acc   Accepts
	lines []string
	out   []Finding
}

func (l *linter) add(pos config.Pos, sev Severity, row, fix, format string, args ...any) {
	l.out = append(l.out, Finding{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, args...), Fix: fix, Row: row})
}

// find returns where the first line of the block opened at block starts
// with one of the commands, or block itself.
func (l *linter) find(block config.Pos, cmds ...string) (config.Pos, bool) {
	if block.Line <= 0 || block.Line > len(l.lines) {
		return block, false
	}
	for n := block.Line; n < len(l.lines); n++ { // l.lines[n] is line n+1
		raw := strings.TrimRight(l.lines[n], " \t\r")
		t := strings.TrimLeft(raw, " \t")
		if raw == "!" || (t == raw && endsBlock(t)) {
			break
		}
		for _, c := range cmds {
			if strings.HasPrefix(t, c+" ") || t == c {
				return config.Pos{File: block.File, Line: n + 1, Col: len(raw) - len(t) + 1}, true
			}
		}
	}
	return block, false
}

// endsBlock reports whether an unindented line starts another top-level
// command, which ends the block of a flat (unindented) file.
func endsBlock(t string) bool {
	for _, w := range []string{"interface ", "router ", "ip route ", "ikev2 authentication ", "ikev2 default-profile", "ikev2 profile ", "hostname "} {
		if strings.HasPrefix(t, w) {
			return true
		}
	}
	return false
}

// profileCmd finds a profile command for a tunnel: its "ikev2 CMD"
// override in the interface, else CMD in the bound profile, else the
// profile block (or the interface when the tunnel uses IX defaults).
func (l *linter) profileCmd(ifc *config.Interface, cmds ...string) config.Pos {
	var over []string
	for _, c := range cmds {
		over = append(over, "ikev2 "+c)
	}
	if p, ok := l.find(ifc.Pos, over...); ok {
		return p
	}
	var block *config.Profile
	if name := ifc.Tunnel.Profile; name != "" {
		block = l.cfg.Profile(name)
	} else {
		block = l.cfg.DefaultProfile
	}
	if block == nil {
		return ifc.Pos
	}
	p, _ := l.find(block.Pos, cmds...)
	return p
}

func (l *linter) tunnel(ifc *config.Interface) {
	pr := l.cfg.ProfileFor(ifc)
	l.ikeProposals(ifc, pr)
	l.childProposals(ifc, pr)
	l.lifetimes(ifc, pr)

	t := ifc.Tunnel
	if t.Peer.Is6() {
		pos, _ := l.find(ifc.Pos, "ikev2 peer")
		l.add(pos, Error, "ipv4-outer", "ikev2 peer <the gateway's public IPv4 address>",
			"%s: peer %s is IPv6, but an Azure VPN gateway answers only on IPv4", ifc.Name, t.Peer)
	}
	l.direction(ifc)
	if pr.DPDInterval == 0 {
		l.add(l.profileCmd(ifc, "dpd interval"), Info, "dpd", "dpd interval 10 (or any interval well under Azure's timeout)",
			"%s: no dead peer detection: Azure drops a silent peer after %d s, but the IX notices a dead Azure instance only at its next rekey",
			ifc.Name, secs(l.acc.DPDTimeout))
	}
	mssPos, _ := l.find(ifc.Pos, "ip tcp adjust-mss")
	switch {
	case ifc.AdjustMSS == 0:
		l.add(ifc.Pos, Warning, "mss", fmt.Sprintf("ip tcp adjust-mss %d", MaxMSS),
			"%s has no \"ip tcp adjust-mss\": TCP segments that do not fit the tunnel are dropped or fragmented", ifc.Name)
	case ifc.AdjustMSS == config.MSSAuto:
		l.add(mssPos, Info, "mss", fmt.Sprintf("ip tcp adjust-mss %d if large transfers stall", MaxMSS),
			"%s: adjust-mss auto clamps to what fits the IX's own tunnel MTU, which over a 1500-byte WAN is above the %d Azure recommends",
			ifc.Name, MaxMSS)
	case ifc.AdjustMSS > MaxMSS:
		l.add(mssPos, Warning, "mss", fmt.Sprintf("ip tcp adjust-mss %d", MaxMSS),
			"%s: ip tcp adjust-mss %d is above the %d Azure recommends", ifc.Name, ifc.AdjustMSS, MaxMSS)
	}
	if !t.PreFragment {
		l.add(ifc.Pos, Warning, "pre-fragment", "ikev2 ipsec pre-fragment",
			"%s has no \"ikev2 ipsec pre-fragment\": packets too large for the tunnel are fragmented after encryption, and Azure must reassemble ESP", ifc.Name)
	}
}

// direction checks that one side of the tunnel starts it, given the
// connection's connectionMode (row "connection-mode").
func (l *linter) direction(ifc *config.Interface) {
	t := ifc.Tunnel
	pos, _ := l.find(ifc.Pos, "ikev2 negotiation-direction")
	switch l.acc.Mode {
	case "ResponderOnly":
		if t.NegotiationDirection == "responder" {
			l.add(pos, Error, "connection-mode", "no ikev2 negotiation-direction (and ikev2 connect-type auto)",
				"%s only answers (negotiation-direction responder) and Azure only answers (connectionMode ResponderOnly): neither side starts the tunnel", ifc.Name)
		} else if !t.ConnectAuto {
			l.add(ifc.Pos, Warning, "connection-mode", "ikev2 connect-type auto",
				"%s starts its tunnel only when traffic needs it, and Azure never starts it (connectionMode ResponderOnly): after any loss the tunnel stays down until the IX has traffic for it", ifc.Name)
		}
	case "InitiatorOnly":
		switch t.NegotiationDirection {
		case "initiator":
			l.add(pos, Error, "connection-mode", "ikev2 negotiation-direction responder",
				"%s refuses Azure's connection attempts (negotiation-direction initiator) and Azure refuses the IX's (connectionMode InitiatorOnly): the tunnel never comes up", ifc.Name)
		case "responder":
		default:
			l.add(ifc.Pos, Info, "connection-mode", "ikev2 negotiation-direction responder",
				"%s also starts the tunnel, which Azure refuses (connectionMode InitiatorOnly): its attempts only cost retries", ifc.Name)
		}
	}
}

// ikeMatch reports whether an IX profile can agree with an Azure IKE
// suite, ignoring the DH group when dh is false.
func ikeMatch(pr config.Profile, s IKESuite, dh bool) bool {
	if !slices.Contains(pr.Enc, s.Enc) {
		return false
	}
	if !s.Enc.AEAD() && (!slices.Contains(pr.Integrity, s.Integ) || !slices.Contains(pr.PRF, s.Integ.PRF())) {
		return false
	}
	return !dh || slices.Contains(pr.DH, s.DH)
}

func (l *linter) which() string {
	if l.acc.Custom {
		return "the connection's custom IPsec/IKE policy"
	}
	return "Azure's default proposals"
}

func (l *linter) ikeProposals(ifc *config.Interface, pr config.Profile) {
	row := "default-ike"
	if l.acc.Custom {
		row = "custom-policy"
	}
	want := l.acc.IKE[0]
	fix := fmt.Sprintf("sa-proposal enc %s; sa-proposal integrity %s; sa-proposal dh %s", want.Enc, want.Integ, want.DH)
	if !slices.ContainsFunc(l.acc.IKE, func(s IKESuite) bool { return ikeMatch(pr, s, false) }) {
		l.add(l.profileCmd(ifc, "sa-proposal enc", "sa-proposal integrity"), Error, row, fix,
			"%s: no IKE proposal (enc %s, integrity %s, prf %s) is one %s accept: Azure answers NO_PROPOSAL_CHOSEN",
			ifc.Name, list(pr.Enc), list(pr.Integrity), list(pr.PRF), l.which())
		return
	}
	if !slices.ContainsFunc(l.acc.IKE, func(s IKESuite) bool { return ikeMatch(pr, s, true) }) {
		var groups []config.DHGroup
		for _, s := range l.acc.IKE {
			if !slices.Contains(groups, s.DH) {
				groups = append(groups, s.DH)
			}
		}
		l.add(l.profileCmd(ifc, "sa-proposal dh"), Error, row, fmt.Sprintf("sa-proposal dh %s", want.DH),
			"%s: IKE DH group %s does not match %s (DH %s): the key exchange fails", ifc.Name, list(pr.DH), l.which(), list(groups))
	}
}

func (l *linter) childProposals(ifc *config.Interface, pr config.Profile) {
	row := "default-child"
	if l.acc.Custom {
		row = "custom-policy"
	}
	match := func(s ChildSuite) bool {
		return slices.Contains(pr.ChildEnc, s.Enc) && (s.Enc.AEAD() || slices.Contains(pr.ChildIntegrity, s.Integ))
	}
	offered := slices.ContainsFunc(l.acc.Child, match)
	if !offered && !l.acc.Custom && slices.ContainsFunc(pr.ChildEnc, func(e config.EncAlg) bool {
		return slices.ContainsFunc(pr.ChildIntegrity, func(i config.IntegAlg) bool { return Answers(ChildSuite{Enc: e, Integ: i}) }) ||
			(e.AEAD() && Answers(ChildSuite{Enc: e}))
	}) {
		want := l.acc.Child[0]
		fix := "child-proposal enc " + string(want.Enc)
		if want.Integ != "" {
			fix += "; child-proposal integrity " + string(want.Integ)
		}
		l.add(l.profileCmd(ifc, "child-proposal enc", "child-proposal integrity"), Warning, "answer-child", fix+" (also)",
			"%s: Azure accepts the Child SA proposal (enc %s, integrity %s) but never offers it: Child SAs the IX starts come up, ones Azure starts are refused (soft-ix then makes one itself; a hardware IX waits for its own rekey)",
			ifc.Name, list(pr.ChildEnc), list(pr.ChildIntegrity))
		offered = true
	}
	if !offered {
		want := l.acc.Child[0]
		fix := "child-proposal enc " + string(want.Enc)
		if want.Integ != "" {
			fix += "; child-proposal integrity " + string(want.Integ)
		}
		l.add(l.profileCmd(ifc, "child-proposal enc", "child-proposal integrity"), Error, row, fix,
			"%s: no Child SA proposal (enc %s, integrity %s) is one %s accept: the tunnel never carries traffic",
			ifc.Name, list(pr.ChildEnc), list(pr.ChildIntegrity), l.which())
		return
	}
	pfs := l.acc.Child[0].PFS
	if pr.ChildPFS == pfs {
		return
	}
	pos := l.profileCmd(ifc, "child-pfs")
	switch {
	case pfs == "" && !l.acc.Custom && slices.Contains(AnswerPFS, pr.ChildPFS):
		l.add(pos, Warning, "answer-child", "no child-pfs, or a custom policy with that pfsGroup on the connection",
			"%s: child-pfs %s: Azure answers the IX's PFS, but offers none itself, so only the rekeys the IX starts get PFS (soft-ix takes Azure's without; a hardware IX may refuse them)",
			ifc.Name, pr.ChildPFS)
	case pfs == "":
		row := "default-pfs"
		if l.acc.Custom {
			row = "custom-policy"
		}
		l.add(pos, Error, row, "no child-pfs (remove it), or a custom policy with that pfsGroup on the connection",
			"%s: child-pfs %s, but %s use no PFS and accept none of that group: the IX's rekeys are refused",
			ifc.Name, pr.ChildPFS, l.which())
	case pr.ChildPFS == "":
		l.add(pos, Error, "custom-policy", "child-pfs "+string(pfs),
			"%s: no child-pfs, but the connection's policy requires PFS group %s: Azure refuses the Child SA", ifc.Name, pfs)
	default:
		l.add(pos, Error, "custom-policy", "child-pfs "+string(pfs),
			"%s: child-pfs %s, but the connection's policy requires PFS group %s", ifc.Name, pr.ChildPFS, pfs)
	}
}

func (l *linter) lifetimes(ifc *config.Interface, pr config.Profile) {
	if pr.Lifetime > l.acc.IKELifetime {
		def := ""
		if pr.Lifetime == config.DefaultSALifetime {
			def = " (the IX default)"
		}
		l.add(l.profileCmd(ifc, "sa-lifetime"), Info, "ike-lifetime", fmt.Sprintf("sa-lifetime %d to match Azure", secs(l.acc.IKELifetime)),
			"%s: IKE SA lifetime %d s%s is longer than Azure's %d s: Azure rekeys the IKE SA first (IKEv2 does not negotiate lifetimes)",
			ifc.Name, secs(pr.Lifetime), def, secs(l.acc.IKELifetime))
	}
	if pr.ChildLifetime > l.acc.ChildLifetime {
		l.add(l.profileCmd(ifc, "child-lifetime"), Info, "child-lifetime", fmt.Sprintf("child-lifetime %d", secs(l.acc.ChildLifetime)),
			"%s: Child SA lifetime %d s is longer than Azure's %d s: Azure rekeys first", ifc.Name, secs(pr.ChildLifetime), secs(l.acc.ChildLifetime))
	}
	if pr.ChildLifetimeKB > l.acc.ChildLifetimeKB {
		l.add(l.profileCmd(ifc, "child-lifetime"), Info, "child-lifetime", fmt.Sprintf("child-lifetime ... kilobytes %d", l.acc.ChildLifetimeKB),
			"%s: Child SA volume limit %d KB is above Azure's %d KB: Azure rekeys first", ifc.Name, pr.ChildLifetimeKB, l.acc.ChildLifetimeKB)
	}
}

func (l *linter) bgp() {
	b := l.cfg.BGP
	if b == nil {
		return
	}
	if ReservedASN(b.ASN) {
		l.add(b.Pos, Error, "reserved-asn", "router bgp with a private ASN Azure does not reserve (e.g. 65050)",
			"router bgp %d: Azure reserves AS %d and will not peer with it", b.ASN, b.ASN)
	}
	if n := len(b.Networks); n > MaxPrefixes {
		l.add(b.Pos, Error, "prefix-limit", "advertise aggregates",
			"router bgp %d advertises %d networks: Azure accepts at most %d from one peer and drops the session above that", b.ASN, n, MaxPrefixes)
	}
	viaTunnel := map[string][]string{}
	for _, n := range b.Neighbors {
		if !n.Addr.Is4() {
			continue
		}
		if n.RemoteAS == b.ASN {
			l.add(n.Pos, Error, "ebgp", fmt.Sprintf("neighbor %s remote-as <Azure's ASN, %d unless changed>", n.Addr, DefaultAzureASN),
				"neighbor %s remote-as %d is the local AS: Azure speaks eBGP only", n.Addr, n.RemoteAS)
		}
		switch {
		case IsLinkLocal(n.Addr) && !InAPIPARange(n.Addr):
			l.add(n.Pos, Error, "apipa", fmt.Sprintf("the custom APIPA address set on the gateway, in %s-%s", APIPAFirst, APIPALast),
				"neighbor %s: Azure uses APIPA BGP addresses only in %s-%s, so it will never peer from this address", n.Addr, APIPAFirst, APIPALast)
		case !IsLinkLocal(n.Addr) && !n.Addr.IsPrivate() && !netip.MustParsePrefix("100.64.0.0/10").Contains(n.Addr):
			l.add(n.Pos, Warning, "bgp-peer", "the gateway's bgpPeeringAddress (az network vnet-gateway show)",
				"neighbor %s is a public address: Azure's BGP address is in its GatewaySubnet or a custom APIPA address", n.Addr)
		}
		tun, ok := l.tunnelFor(n.Addr)
		if !ok {
			fix := fmt.Sprintf("ip route %s/32 Tunnel0.0 (the tunnel to that gateway instance)", n.Addr)
			if ts := l.cfg.Tunnels(); len(ts) > 0 {
				fix = fmt.Sprintf("ip route %s/32 %s", n.Addr, ts[0].Name)
			}
			l.add(n.Pos, Error, "bgp-host-route", fix,
				"neighbor %s: no route sends it into a tunnel, so the BGP session to Azure cannot come up", n.Addr)
			continue
		}
		viaTunnel[tun] = append(viaTunnel[tun], n.Addr.String())
	}
	if len(l.cfg.Tunnels()) > 1 {
		for tun, peers := range viaTunnel {
			if len(peers) > 1 {
				l.add(b.Pos, Warning, "active-active", "route each BGP address into the tunnel to its own instance",
					"BGP peers %s all go through %s: with an active-active gateway each instance's BGP address belongs in the tunnel to that instance",
					strings.Join(peers, ", "), tun)
			}
		}
	}
}

// tunnelFor returns the tunnel the longest matching route (or a tunnel's
// own subnet) sends a into.
func (l *linter) tunnelFor(a netip.Addr) (string, bool) {
	best, bits := "", -1
	for _, r := range l.cfg.Routes {
		if r.Prefix.Contains(a) && r.Prefix.Bits() > bits {
			best, bits = r.Interface, r.Prefix.Bits()
		}
	}
	for _, ifc := range l.cfg.Interfaces {
		if ifc.Address.IsValid() && ifc.Address.Masked().Contains(a) && ifc.Address.Bits() > bits {
			best, bits = ifc.Name, ifc.Address.Bits()
		}
	}
	if ifc := l.cfg.Interface(best); ifc != nil && ifc.Kind == config.KindTunnel {
		return ifc.Name, true
	}
	return "", false
}

func secs(d time.Duration) int { return int(d / time.Second) }

func list[T ~string](s []T) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return strings.Join(out, " ")
}
