package router

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/tun"
	"github.com/soft-ix/soft-ix/tun/nft"
)

// This file translates the IX packet filters ("ip access-list", "ip
// access-list dynamic", "ip filter") and NAPT ("ip napt enable", "ip napt
// static", "ip napt service") into package nft's rule set, and says which
// lines it cannot translate (see Unenforced).
//
// IX semantics kept here: the filters of one interface and direction are
// evaluated by ascending sequence number, the entries of a list in their
// order, and the first entry that matches decides; once a direction has a
// filter, a packet no entry matches is dropped (which is why published IX
// files end with "ip filter permit-all 100000 in"). A filter naming a list
// that does not exist matches nothing. Static lists are stateless, as on
// the IX: return traffic needs its own permit, or a dynamic list (see
// filterChain).

// Unenforced lists the lines of cfg that ask for packet filtering or
// address translation soft-ix does not carry out (see firewall), each
// with the reason, as diagnostics (severity Error) in source order. maps
// is --map: a filter on a GigaEthernet soft-ix does not run is not
// enforced either.
//
// An IX that filters its WAN or translates its LAN behind NAPT is a
// security boundary; a file whose filter or NAPT lines soft-ix cannot
// carry out would otherwise run with the WAN open. The daemon refuses
// such a file (start, reload, check) unless the operator says
// EnforcementFlag. Only the interfaces soft-ix models count (GigaEthernet,
// Tunnel, Loopback, Null): the lines of other interface families
// (FastEthernet, Dialer, BVI, ...) are kept with their whole block, and
// soft-ix runs no such interface, so nothing passes through it
// unfiltered.
//
// A Tunnel interface that encrypts with IPsec in a way soft-ix does not
// speak (IKEv1's "tunnel mode ipsec", "ether-ip ipsec", "l2tp-lns ipsec",
// ...) is refused the same way: soft-ix leaves it down, so what the file
// routes into it would take another route, the default one to the
// internet included, unencrypted.
func Unenforced(cfg *config.Config, maps map[string]string) []config.Diagnostic {
	_, _, bad := firewall(cfg, maps)
	bad = append(bad, unencryptedTunnels(cfg)...)
	slices.SortStableFunc(bad, func(a, b config.Diagnostic) int { return a.Pos.Line - b.Pos.Line })
	return bad
}

// unencryptedTunnels lists, as Unenforced's diagnostics, the Tunnel
// interfaces not shut down whose mode asks for IPsec other than IKEv2's.
func unencryptedTunnels(cfg *config.Config) []config.Diagnostic {
	var bad []config.Diagnostic
	for _, ifc := range cfg.Interfaces {
		if ifc.Kind != config.KindTunnel || ifc.Tunnel == nil || ifc.Shutdown || ifc.Tunnel.Mode == "ipsec-ikev2" {
			continue
		}
		for _, w := range strings.Fields(ifc.Tunnel.Mode) {
			if w == "ipsec" || w == "ipsec-ikev2" {
				bad = append(bad, config.Diagnostic{Pos: ifc.Tunnel.ModePos, Severity: config.Error, Msg: fmt.Sprintf(
					"\"tunnel mode %s\" on %s is not enforced: soft-ix speaks IPsec only as \"tunnel mode ipsec-ikev2\", so %s stays down and what is routed into it would leave by another route unencrypted",
					ifc.Tunnel.Mode, ifc.Name, ifc.Name)})
				break
			}
		}
	}
	return bad
}

// EnforcementFlag is the flag that accepts running with unenforced lines.
const EnforcementFlag = "--allow-unenforced"

// linkOf is the Linux interface that packets of an IX interface arrive on
// and leave by, or "" when there is none: a GigaEthernet without --map,
// Null0.0, and a Loopback: Linux delivers packets for a loopback's address
// through the interface they arrived on, so no packet ever passes the
// dummy link soft-ix creates for it, and a filter there would match
// nothing.
func linkOf(ifc *config.Interface, maps map[string]string) string {
	switch ifc.Kind {
	case config.KindGigaEthernet:
		return maps[ifc.Name]
	case config.KindTunnel:
		return ifc.Name // the TUN device has the IX name (package esp)
	}
	return ""
}

// ruleRef says which IX entry an nft rule stands for, for the counters.
type ruleRef struct {
	Interface string
	Out       bool
	Seq       uint32
	List      string
	Entry     int // index in the list; -1 for the implicit drop
}

// ID is the nft rule ID (shown as its comment in "nft list table").
func (r ruleRef) ID() string {
	dir := "in"
	if r.Out {
		dir = "out"
	}
	if r.Entry < 0 {
		return fmt.Sprintf("%s %s implicit deny", r.Interface, dir)
	}
	return fmt.Sprintf("%s %s %d %s #%d", r.Interface, dir, r.Seq, r.List, r.Entry+1)
}

// firewall translates cfg into the rule set soft-ix installs, with the
// rules' references, and lists (as Error diagnostics) the filter and NAPT
// lines it cannot translate. maps is --map.
func firewall(cfg *config.Config, maps map[string]string) (nft.Config, map[string]ruleRef, []config.Diagnostic) {
	var fw nft.Config
	refs := map[string]ruleRef{}
	var bad []config.Diagnostic
	var nextMark uint32
	fail := func(pos config.Pos, format string, args ...any) {
		bad = append(bad, config.Diagnostic{Pos: pos, Severity: config.Error, Msg: fmt.Sprintf(format, args...)})
	}
	for _, ifc := range cfg.Interfaces {
		dev := linkOf(ifc, maps)
		why := ""
		switch {
		case dev != "":
		case ifc.Kind == config.KindGigaEthernet:
			why = fmt.Sprintf("%s is not mapped to a Linux interface (add --map %s=DEV)", ifc.Name, ifc.Name)
		case ifc.Kind == config.KindLoopback:
			why = fmt.Sprintf("no packet passes %s on Linux (packets for its address arrive on other interfaces)", ifc.Name)
		default:
			why = fmt.Sprintf("soft-ix runs no Linux interface for %s", ifc.Name)
		}
		if ifc.NAPT {
			if why != "" {
				fail(ifc.NAPTPos, "\"ip napt enable\" on %s is not carried out: %s", ifc.Name, why)
			} else {
				fw.Masquerade = append(fw.Masquerade, dev)
			}
		}
		var hairpin netip.Addr
		if ifc.NAPTHairpin {
			switch {
			case !ifc.NAPT:
				fail(ifc.NAPTHairpinPos, "\"ip napt hairpinning\" on %s is not carried out: the interface has no \"ip napt enable\"", ifc.Name)
			case why != "":
				fail(ifc.NAPTHairpinPos, "\"ip napt hairpinning\" on %s is not carried out: %s", ifc.Name, why)
			case !ifc.Address.IsValid():
				fail(ifc.NAPTHairpinPos, "\"ip napt hairpinning\" on %s is not carried out: it needs the interface's address in the file (ip address A/L)", ifc.Name)
			default:
				hairpin = ifc.Address.Addr()
			}
		}
		for _, f := range ifc.NAPTForwards {
			text := strings.Join(f.Words(), " ")
			switch {
			case f.InsideIf != "":
				// To the router itself: Linux delivers what arrives for
				// its own address locally, NAPT or not; nothing to add.
			case !ifc.NAPT:
				fail(f.Pos, "%q on %s is not carried out: the interface has no \"ip napt enable\"", text, ifc.Name)
			case why != "":
				fail(f.Pos, "%q on %s is not carried out: %s", text, ifc.Name, why)
			default:
				fw.Forwards = append(fw.Forwards, nft.Forward{ID: ifc.Name + " " + text, Device: dev, Protocol: f.Protocol, Port: f.Port, To: f.Inside, Hairpin: hairpin})
			}
		}
		// A dynamic filter marks the sessions it lets through; the chain
		// of the other direction lets their packets back in.
		var marks [2]uint32 // by direction: in, out
		for _, f := range ifc.Filters {
			if d := dirIndex(f.Out); cfg.DynamicList(f.List) != nil && marks[d] == 0 {
				marks[d] = nft.DynamicMarkBase + nextMark
				nextMark++
			}
		}
		notEnforced := func(f *config.Filter, reason string) {
			fail(f.Pos, "%q on %s is not enforced: %s, so the interface would pass what it denies", strings.Join(f.Words(), " "), ifc.Name, reason)
		}
		for _, out := range []bool{false, true} {
			if why != "" {
				for _, f := range ifc.Filters {
					if f.Out == out {
						notEnforced(f, why)
					}
				}
				continue
			}
			d := dirIndex(out)
			if ch, ok := filterChain(cfg, ifc, dev, out, marks[d], marks[1-d], refs, notEnforced); ok {
				fw.Chains = append(fw.Chains, ch)
			}
		}
		for _, v := range ifc.Extra {
			w := strings.Fields(strings.ToLower(v.Text))
			if len(w) < 2 || w[0] == "no" {
				continue // a "no" line asks for nothing
			}
			// Filter and NAPT lines carry no secrets: they are quoted whole.
			switch {
			case w[0] == "ipv6" && w[1] == "filter":
				fail(v.Pos, "%q on %s: soft-ix does not enforce IPv6 filters, the interface would pass what it denies", v.Text, ifc.Name)
			case w[0] == "ip" && w[1] == "filter":
				fail(v.Pos, "%q on %s: soft-ix does not enforce this form of packet filter, the interface would pass what it denies", v.Text, ifc.Name)
			case w[0] == "ip" && w[1] == "napt" && len(w) > 2 && w[2] == "translation":
				// Timers and table sizes ("ip napt translation
				// tcp-timeout 7440", "... max-entries 4096") tune the
				// translation table but let nothing through that the
				// file denies: the kernel's conntrack defaults apply,
				// and config warns that the line is not emulated.
			case w[0] == "ip" && w[1] == "napt":
				fail(v.Pos, "%q on %s: soft-ix does not carry out this NAPT command", v.Text, ifc.Name)
			}
		}
	}
	slices.SortStableFunc(bad, func(a, b config.Diagnostic) int { return a.Pos.Line - b.Pos.Line })
	return fw, refs, bad
}

func dirIndex(out bool) int {
	if out {
		return 1
	}
	return 0
}

// filterList resolves the list a filter names to the static list whose
// entries decide: a dynamic list (evaluated before a static list of the
// same name, as NEC documents) stands for its "access" list.
func filterList(cfg *config.Config, name string) (acl string, dynamic bool) {
	if d := cfg.DynamicList(name); d != nil {
		return d.Access, true
	}
	return name, false
}

// filterChain builds the chain of one interface and direction; ok is
// false when the direction has no filter, or when one of its filters
// cannot be translated (reported through unenforced): a chain missing one
// of its filters would not be the IX's. mark is the conntrack mark the
// direction's dynamic filters set (0: none), session the mark of the
// other direction's, whose sessions come back through this chain.
func filterChain(cfg *config.Config, ifc *config.Interface, dev string, out bool, mark, session uint32, refs map[string]ruleRef,
	unenforced func(*config.Filter, string)) (nft.Chain, bool) {
	var fs []*config.Filter
	for _, f := range ifc.Filters {
		if f.Out == out {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nft.Chain{}, false
	}
	slices.SortStableFunc(fs, func(a, b *config.Filter) int { return int(int64(a.Seq) - int64(b.Seq)) })
	ch := nft.Chain{Device: dev, Out: out}
	if session != 0 {
		ch.SessionMarks = []uint32{session}
	}
	ok := true
	for _, f := range fs {
		name, dynamic := filterList(cfg, f.List)
		kept := cfg.KeptAccessListLines(name)
		if dynamic {
			kept = append(cfg.KeptAccessListLines(f.List), kept...)
		}
		if len(kept) > 0 {
			unenforced(f, fmt.Sprintf("access list %q has a line soft-ix does not translate (%s)", name, kept[0].Pos))
			ok = false
			continue
		}
		acl := cfg.AccessList(name)
		if acl == nil {
			continue // matches nothing; Validate warned
		}
		for i, e := range acl.Entries {
			ref := ruleRef{Interface: ifc.Name, Out: out, Seq: f.Seq, List: name, Entry: i}
			r, matches := aclRule(e)
			if !matches {
				continue
			}
			if dynamic && r.Permit {
				r.SetMark = mark
			}
			r.ID = ref.ID()
			refs[r.ID] = ref
			ch.Rules = append(ch.Rules, r)
		}
	}
	drop := ruleRef{Interface: ifc.Name, Out: out, Entry: -1}
	ch.DropID = drop.ID()
	refs[ch.DropID] = drop
	return ch, ok
}

// aclRule translates one entry; matches is false for an entry no packet
// can match ("dport gt 65535"), which is left out.
func aclRule(e *config.ACLEntry) (r nft.Rule, matches bool) {
	r = nft.Rule{Permit: e.Permit, Protocol: e.Protocol, ICMPType: e.ICMPType}
	if e.Protocol == config.ProtoAny {
		r.Protocol = -1
	}
	if e.Src.Bits() > 0 {
		r.Src = e.Src
	}
	if e.Dst.Bits() > 0 {
		r.Dst = e.Dst
	}
	var ok1, ok2 bool
	r.SrcPorts, ok1 = portRange(e.SrcPort)
	r.DstPorts, ok2 = portRange(e.DstPort)
	return r, ok1 && ok2
}

func portRange(m config.PortMatch) (*nft.PortRange, bool) {
	switch m.Op {
	case config.PortAny:
		return nil, true
	case config.PortEq:
		return &nft.PortRange{Lo: m.Lo, Hi: m.Lo}, true
	case config.PortRange:
		return &nft.PortRange{Lo: m.Lo, Hi: m.Hi}, true
	case config.PortGt:
		if m.Lo == 0xffff {
			return nil, false
		}
		return &nft.PortRange{Lo: m.Lo + 1, Hi: 0xffff}, true
	case config.PortLt:
		if m.Lo == 0 {
			return nil, false
		}
		return &nft.PortRange{Lo: 0, Hi: m.Lo - 1}, true
	}
	return nil, false
}

// filterViews is what "show ip filter" and "show ip access-list" print:
// cfg's filters and lists with the kernel's counter of each entry. An
// entry without a rule (a filter run unenforced) has no count.
func (r *Router) filterViews(cfg *config.Config) ([]show.FilterDirection, []show.AccessList, error) {
	counts := map[string]nft.Counter{}
	if r.fw != nil && len(r.fwRefs) > 0 {
		var err error
		if counts, err = r.fw.Counters(); err != nil {
			return nil, nil, err
		}
	}
	count := func(ref ruleRef) show.FilterCount {
		if _, ok := r.fwRefs[ref.ID()]; !ok {
			return show.FilterCount{}
		}
		n := counts[ref.ID()]
		return show.FilterCount{Packets: n.Packets, Bytes: n.Bytes, HasCount: true}
	}
	var dirs []show.FilterDirection
	for _, ifc := range cfg.Interfaces {
		for _, out := range []bool{false, true} {
			var fs []*config.Filter
			for _, f := range ifc.Filters {
				if f.Out == out {
					fs = append(fs, f)
				}
			}
			if len(fs) == 0 {
				continue
			}
			slices.SortStableFunc(fs, func(a, b *config.Filter) int { return int(int64(a.Seq) - int64(b.Seq)) })
			deny := ruleRef{Interface: ifc.Name, Out: out, Entry: -1}
			d := show.FilterDirection{Interface: ifc.Name, Out: out, Deny: count(deny)}
			_, d.Enforced = r.fwRefs[deny.ID()]
			for _, f := range fs {
				af := show.AppliedFilter{Seq: f.Seq, List: f.List}
				name, _ := filterList(cfg, f.List)
				if acl := cfg.AccessList(name); acl != nil {
					for i, e := range acl.Entries {
						fc := count(ruleRef{Interface: ifc.Name, Out: out, Seq: f.Seq, List: name, Entry: i})
						fc.Text = strings.Join(e.Words(), " ")
						af.Entries = append(af.Entries, fc)
					}
				}
				d.Filters = append(d.Filters, af)
			}
			dirs = append(dirs, d)
		}
	}
	var lists []show.AccessList
	for _, acl := range cfg.AccessLists {
		l := show.AccessList{Name: acl.Name}
		for i, e := range acl.Entries {
			fc := show.FilterCount{Text: strings.Join(e.Words(), " ")}
			for id, ref := range r.fwRefs {
				if ref.List == acl.Name && ref.Entry == i {
					n := counts[id]
					fc.Packets += n.Packets
					fc.Bytes += n.Bytes
					fc.HasCount = true
				}
			}
			l.Entries = append(l.Entries, fc)
		}
		lists = append(lists, l)
	}
	return dirs, lists, nil
}

// naptView names the protocols of the kernel's translations as IX does.
func naptView(ts []tun.Translation) []show.NAPTTranslation {
	out := make([]show.NAPTTranslation, 0, len(ts))
	for _, t := range ts {
		p := strconv.Itoa(int(t.Protocol))
		switch t.Protocol {
		case config.ProtoTCP:
			p = "tcp"
		case config.ProtoUDP:
			p = "udp"
		case config.ProtoICMP:
			p = "icmp"
		}
		out = append(out, show.NAPTTranslation{Protocol: p, Inside: t.Inside, Outside: t.Outside, Remote: t.Remote, Forwarded: t.Forwarded, Timeout: t.Timeout})
	}
	return out
}

// hasRules reports whether c asks the kernel for any filter or NAPT rule.
func hasRules(c nft.Config) bool {
	return len(c.Chains) > 0 || len(c.Masquerade) > 0 || len(c.Forwards) > 0
}

// filtered reports whether cfg has packet filters or NAPT the router
// installs in the kernel.
func (r *Router) filtered(cfg *config.Config) bool {
	rules, _, _ := firewall(cfg, r.opts.Maps)
	return hasRules(rules)
}

// errFramesFiltered refuses a reload that adds packet filters or NAPT
// under --raw-esp packet (see rawESPFor).
var errFramesFiltered = errors.New("--raw-esp packet: raw ESP moves as Ethernet frames past the IP stack, which the packet filters and NAPT would not see; restart soft-ix with --raw-esp auto or socket to add them")

// rawESPFor moves raw ESP between Ethernet frames and the raw IP socket
// as a configuration's packet filters and NAPT require (see rawESPMode),
// for a reload: under --raw-esp auto to the socket when it has filters
// (filtered), back to frames when it has none; under --raw-esp packet
// filters are refused. Failing to return to frames is logged, not an
// error: the socket is only slower.
func (r *Router) rawESPFor(filtered bool) error {
	if r.ipsec == nil || r.opts.RawESP == "" {
		return nil
	}
	mode, err := esp.ParseRawESPMode(r.opts.RawESP)
	if err != nil || mode == esp.RawESPSocket {
		return nil
	}
	switch {
	case r.frames && filtered:
		if mode == esp.RawESPPacket {
			return errFramesFiltered
		}
		if err := r.ipsec.setRawESP(esp.RawESPSocket); err != nil {
			return fmt.Errorf("raw ESP cannot leave Ethernet frames, which the new packet filters and NAPT would not see: %w", err)
		}
		r.frames = false
		r.log.Info("raw ESP moved to the raw IP socket: the configuration now has packet filters or NAPT, which Ethernet frames would bypass", "flag", "--raw-esp auto")
	case !r.frames && !filtered:
		if err := r.ipsec.setRawESP(mode); err != nil {
			r.log.Warn("raw ESP stays on the raw IP socket", "err", err)
			return nil
		}
		r.frames = true
		r.log.Info("raw ESP moves as Ethernet frames again: the configuration has no packet filters or NAPT left", "flag", "--raw-esp auto")
	}
	return nil
}

// rawESPMode is how the ESP engine moves raw ESP for cfg, from
// Options.RawESP. Ethernet frames on a packet socket skip the host's
// netfilter output hooks, and the receive ring takes raw ESP before the
// input hooks, so the filters the file asks for would never see the
// router's own ESP: an out or in filter would not apply to it, and a
// dynamic filter would keep no state for the peer's answers. So with any
// filter or NAPT, "auto" keeps the raw IP socket (and says so) and
// "packet" is refused; a filter is never bypassed quietly.
func (r *Router) rawESPMode(cfg *config.Config) (string, error) {
	r.frames = false
	mode, err := esp.ParseRawESPMode(r.opts.RawESP)
	if err != nil || r.opts.RawESP == "" {
		return string(esp.RawESPSocket), err
	}
	if mode == esp.RawESPSocket {
		return string(mode), nil
	}
	if r.filtered(cfg) {
		if mode == esp.RawESPPacket {
			return "", errors.New("--raw-esp packet: raw ESP as Ethernet frames would bypass the packet filters and NAPT this configuration asks for; use --raw-esp socket")
		}
		r.log.Info("raw ESP goes through the raw IP socket: the configuration has packet filters or NAPT, which Ethernet frames would bypass", "flag", "--raw-esp auto")
		return string(esp.RawESPSocket), nil
	}
	r.frames = true
	return string(mode), nil
}
