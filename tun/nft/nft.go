// Package nft enforces soft-ix's packet filters and NAPT in the kernel with
// nftables, through github.com/google/nftables (netlink, no nft binary).
//
// Everything lives in one table soft-ix owns (family ip, named Table by
// default). Apply replaces the whole table in one netlink batch, so the
// kernel switches from the old rule set to the new one atomically: there
// is no moment with the filters half loaded or absent. Remove deletes the
// table; a start after a crash simply replaces what the crashed run left.
// Other tables are never read or written.
//
// The family is ip, not inet: the filters are IX "ip filter" lines, which
// match IPv4 only; IPv6 traffic is not this package's business (the
// daemon refuses "ipv6 filter" lines it cannot enforce).
//
// The layout Apply builds:
//
//	chain input   (filter hook input,   policy accept): iifname X jump in-X
//	chain forward (filter hook forward, policy accept): iifname X jump in-X; oifname Y jump out-Y
//	chain output  (filter hook output,  policy accept): oifname Y jump out-Y
//	chain in-X / out-Y: one rule per entry, first match wins:
//	    permit -> return (the packet goes on to the next check), deny -> drop;
//	    and a last rule that drops what no entry matched
//	chain postrouting (nat hook postrouting): oifname Z, source not a local
//	    address -> masquerade
//	chain prerouting (nat hook prerouting): iifname Z, destination a local
//	    address, protocol [and port] -> dnat to the inside host
//
// Every entry rule and every final drop counts packets and bytes; Counters
// reads them by the ID the caller gave.
package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Table is the name of the table soft-ix owns when Config.Table is empty.
const Table = "softix"

// Config is the complete rule set: Apply makes the kernel's table exactly
// this.
type Config struct {
	// Table names the table (default Table); tests use their own.
	Table string
	// Chains are the filter lists applied to interfaces, at most one per
	// device and direction.
	Chains []Chain
	// Masquerade lists the devices whose forwarded traffic leaves with the
	// device's own address (IX "ip napt enable"). Traffic the host itself
	// sends (IKE, ESP) keeps its address.
	Masquerade []string
	// Forwards send packets that arrive on a device for one of the host's
	// own addresses to an inside host (IX "ip napt static" / "ip napt
	// service" port forwards).
	Forwards []Forward
}

// Forward is one destination NAT: Protocol (to Port, for tcp and udp)
// arriving on Device for a local address goes to To (same port).
type Forward struct {
	ID       string // names its counter, like Rule.ID
	Device   string
	Protocol int
	Port     uint16 // 0: any (protocols without ports)
	To       netip.Addr
	// Hairpin, when valid, is Device's address: packets for it arriving
	// on other devices (the LAN) are forwarded too, and leave
	// masqueraded, so that the inside host answers through the router
	// (IX "ip napt hairpinning").
	Hairpin netip.Addr
}

// HairpinMark is the conntrack mark of hairpinned connections, which the
// nat postrouting chain masquerades.
const HairpinMark = DynamicMarkBase + 0xffff

// Chain is the rules one device applies in one direction, in evaluation
// order. A packet no rule matches is dropped.
type Chain struct {
	Device string // Linux interface name
	Out    bool   // packets leaving Device; false: packets arriving on it
	Rules  []Rule
	// DropID names the counter of the final drop (see Counters).
	DropID string
	// SessionMarks: packets of connections carrying one of these conntrack
	// marks (set by a SetMark rule of a chain of the other direction) pass
	// before any rule: the return traffic of a stateful (IX dynamic)
	// filter.
	SessionMarks []uint32
}

// Rule matches IPv4 packets; zero fields match anything (see Any).
type Rule struct {
	// ID names the rule's counter (see Counters); unique in a Config.
	ID     string
	Permit bool
	// Protocol is the IP protocol number, or -1 for every protocol.
	Protocol int
	Src, Dst netip.Prefix // invalid or /0: any
	// SrcPorts and DstPorts apply to TCP and UDP; nil is any.
	SrcPorts, DstPorts *PortRange
	// ICMPType applies to ICMP; -1 is any.
	ICMPType int
	// SetMark, when not zero, marks the connection of a permitted packet
	// (see Chain.SessionMarks). It replaces the connection's mark: the
	// rule set should own conntrack marks (see DynamicMarkBase).
	SetMark uint32
}

// DynamicMarkBase is where the conntrack marks soft-ix sets for dynamic
// filters start (0x5f100000 + n): far from the small values other tools
// tend to use.
const DynamicMarkBase = 0x5f100000

// PortRange is Lo..Hi inclusive.
type PortRange struct{ Lo, Hi uint16 }

// Counter is what a rule has matched since the table was last replaced.
type Counter struct{ Packets, Bytes uint64 }

func (c Config) table() *nftables.Table {
	name := c.Table
	if name == "" {
		name = Table
	}
	return &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
}

// Validate reports what Apply would refuse, without touching the kernel.
func (c Config) Validate() error {
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, ch := range c.Chains {
		if err := checkDevice(ch.Device); err != nil {
			return err
		}
		k := chainName(ch)
		if seen[k] {
			return fmt.Errorf("nft: two chains for %s", k)
		}
		seen[k] = true
		for _, r := range append(ch.Rules, Rule{ID: ch.DropID}) {
			if r.ID == "" {
				continue
			}
			if ids[r.ID] {
				return fmt.Errorf("nft: rule ID %q used twice", r.ID)
			}
			ids[r.ID] = true
		}
		for _, r := range ch.Rules {
			if r.Protocol < -1 || r.Protocol > 255 {
				return fmt.Errorf("nft: %s: bad protocol %d", r.ID, r.Protocol)
			}
			for _, p := range []netip.Prefix{r.Src, r.Dst} {
				if p.IsValid() && !p.Addr().Is4() {
					return fmt.Errorf("nft: %s: %s is not IPv4", r.ID, p)
				}
			}
			if (r.SrcPorts != nil || r.DstPorts != nil) && r.Protocol != unix.IPPROTO_TCP && r.Protocol != unix.IPPROTO_UDP {
				return fmt.Errorf("nft: %s: ports without tcp or udp", r.ID)
			}
			if r.ICMPType >= 0 && r.Protocol != unix.IPPROTO_ICMP {
				return fmt.Errorf("nft: %s: icmp type without icmp", r.ID)
			}
			if r.SetMark != 0 && !r.Permit {
				return fmt.Errorf("nft: %s: a mark on a deny", r.ID)
			}
		}
	}
	for _, d := range c.Masquerade {
		if err := checkDevice(d); err != nil {
			return err
		}
	}
	for _, f := range c.Forwards {
		if err := checkDevice(f.Device); err != nil {
			return err
		}
		if !f.To.Is4() || f.Protocol < 0 || f.Protocol > 255 || (f.Hairpin.IsValid() && !f.Hairpin.Is4()) ||
			(f.Port != 0) != (f.Protocol == unix.IPPROTO_TCP || f.Protocol == unix.IPPROTO_UDP) {
			return fmt.Errorf("nft: forward %s: bad protocol, port or address", f.ID)
		}
	}
	return nil
}

func checkDevice(d string) error {
	if d == "" || len(d) >= unix.IFNAMSIZ {
		return fmt.Errorf("nft: bad interface name %q", d)
	}
	return nil
}

func chainName(ch Chain) string {
	if ch.Out {
		return "out-" + ch.Device
	}
	return "in-" + ch.Device
}

// Apply replaces the table with c in one batch. On error the kernel keeps
// what it had.
func Apply(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	t := c.table()
	// Add (a no-op when it exists), delete, add again: one transaction
	// that works whether or not a table was left behind.
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	if len(c.Chains) > 0 {
		build(conn, t, c)
	}
	hairpin := false
	for _, f := range c.Forwards {
		hairpin = hairpin || f.Hairpin.IsValid()
	}
	if len(c.Masquerade) > 0 || hairpin {
		buildNAT(conn, t, c.Masquerade, hairpin)
	}
	if len(c.Forwards) > 0 {
		buildForwards(conn, t, c.Forwards)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nft: replacing table ip %s: %w", t.Name, err)
	}
	return nil
}

// Remove deletes the table (nothing when there is none).
func Remove(table string) error {
	if table == "" {
		table = Table
	}
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nft: removing table ip %s: %w", table, err)
	}
	return nil
}

func build(conn *nftables.Conn, t *nftables.Table, c Config) {
	accept := nftables.ChainPolicyAccept
	base := map[string]*nftables.Chain{}
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"input", nftables.ChainHookInput}, {"forward", nftables.ChainHookForward}, {"output", nftables.ChainHookOutput}} {
		base[h.name] = conn.AddChain(&nftables.Chain{
			Name: h.name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: h.hook,
			Priority: nftables.ChainPriorityFilter, Policy: &accept,
		})
	}
	// Regular chains first: a jump must name a chain the batch already has.
	for _, ch := range c.Chains {
		rc := conn.AddChain(&nftables.Chain{Name: chainName(ch), Table: t})
		for _, m := range ch.SessionMarks {
			conn.AddRule(&nftables.Rule{Table: t, Chain: rc, Exprs: []expr.Any{
				&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(m)},
				&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictReturn},
			}})
		}
		for _, r := range ch.Rules {
			conn.AddRule(&nftables.Rule{Table: t, Chain: rc, Exprs: ruleExprs(r), UserData: comment(r.ID)})
		}
		conn.AddRule(&nftables.Rule{Table: t, Chain: rc, UserData: comment(ch.DropID), Exprs: []expr.Any{
			&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	// The in-chains before the out-chains in forward: a packet is checked
	// where it arrives, then where it leaves, as on the IX.
	for _, out := range []bool{false, true} {
		for _, ch := range c.Chains {
			if ch.Out != out {
				continue
			}
			hooks := []string{"input", "forward"}
			if out {
				hooks = []string{"forward", "output"}
			}
			for _, h := range hooks {
				conn.AddRule(&nftables.Rule{Table: t, Chain: base[h], Exprs: append(ifname(out, ch.Device),
					&expr.Verdict{Kind: expr.VerdictJump, Chain: chainName(ch)})})
			}
		}
	}
}

func buildNAT(conn *nftables.Conn, t *nftables.Table, devs []string, hairpin bool) {
	accept := nftables.ChainPolicyAccept
	post := conn.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource, Policy: &accept,
	})
	// Packets the host sends from one of its own addresses (soft-ix's IKE
	// and ESP, BGP) leave untranslated: "fib saddr type local" -> accept,
	// which in a nat chain means "no NAT for this connection".
	conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	for _, d := range devs {
		conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: append(ifname(true, d), &expr.Counter{}, &expr.Masq{})})
	}
	if hairpin {
		conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(HairpinMark)},
			&expr.Counter{}, &expr.Masq{},
		}})
	}
}

// nativeUint32 is how the kernel writes an address type into a register.
// buildForwards adds the port forwards: a nat prerouting chain where a
// packet arriving on the device for a local address, of the protocol (and
// to the port), is sent on to the inside host.
func buildForwards(conn *nftables.Conn, t *nftables.Table, fs []Forward) {
	accept := nftables.ChainPolicyAccept
	pre := conn.AddChain(&nftables.Chain{
		Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting,
		Priority: nftables.ChainPriorityNATDest, Policy: &accept,
	})
	for _, f := range fs {
		// From outside: arriving on the device, for one of our addresses.
		e := ifname(false, f.Device)
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(unix.RTN_LOCAL)})
		conn.AddRule(&nftables.Rule{Table: t, Chain: pre, UserData: comment(f.ID), Exprs: append(e, dnat(f, false)...)})
		if f.Hairpin.IsValid() {
			// From inside: arriving elsewhere, for the device's address.
			a := f.Hairpin.As4()
			e := []expr.Any{
				&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifnameData(f.Device)},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
			}
			conn.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(e, dnat(f, true)...)})
		}
	}
}

// dnat matches a forward's protocol and port and sends the packet to its
// inside host; hairpin also marks the connection for the masquerade.
func dnat(f Forward, hairpin bool) []expr.Any {
	e := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(f.Protocol)}},
	}
	if f.Port != 0 {
		e = append(e, portMatch(&PortRange{Lo: f.Port, Hi: f.Port}, 2)...)
	}
	e = append(e, &expr.Counter{})
	if hairpin {
		e = append(e,
			&expr.Immediate{Register: 1, Data: nativeUint32(HairpinMark)},
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})
	}
	to := f.To.As4()
	nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, Specified: true}
	e = append(e, &expr.Immediate{Register: 1, Data: to[:]})
	if f.Port != 0 {
		e = append(e, &expr.Immediate{Register: 2, Data: []byte{byte(f.Port >> 8), byte(f.Port)}})
		nat.RegProtoMin = 2
	}
	return append(e, nat)
}

func nativeUint32(v uint32) []byte {
	return binary.NativeEndian.AppendUint32(nil, v)
}

// comment stores a rule's ID as an nft comment, so "nft list table ip
// softix" shows which IX entry a rule is.
func comment(id string) []byte {
	if id == "" {
		return nil
	}
	return userdata.AppendString(nil, userdata.TypeComment, id)
}

func ifname(out bool, dev string) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if out {
		key = expr.MetaKeyOIFNAME
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameData(dev)},
	}
}

// ifnameData is an interface name as the kernel compares it: IFNAMSIZ
// bytes, zero padded.
func ifnameData(dev string) []byte {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, dev)
	return name
}

// ruleExprs compiles one rule: protocol, addresses, ports or ICMP type,
// then a counter and the verdict.
func ruleExprs(r Rule) []expr.Any {
	var e []expr.Any
	if r.Protocol >= 0 {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(r.Protocol)}})
	}
	e = append(e, prefixMatch(r.Src, 12)...)
	e = append(e, prefixMatch(r.Dst, 16)...)
	e = append(e, portMatch(r.SrcPorts, 0)...)
	e = append(e, portMatch(r.DstPorts, 2)...)
	if r.ICMPType >= 0 {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(r.ICMPType)}})
	}
	if r.SetMark != 0 {
		e = append(e,
			&expr.Immediate{Register: 1, Data: nativeUint32(r.SetMark)},
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})
	}
	v := expr.VerdictDrop
	if r.Permit {
		// Return, not accept: in the forward hook the packet still has to
		// pass the out-filter of the interface it leaves by.
		v = expr.VerdictReturn
	}
	return append(e, &expr.Counter{}, &expr.Verdict{Kind: v})
}

func prefixMatch(p netip.Prefix, offset uint32) []expr.Any {
	if !p.IsValid() || p.Bits() == 0 {
		return nil
	}
	p = p.Masked()
	addr := p.Addr().As4()
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
	if p.Bits() < 32 {
		mask := net4Mask(p.Bits())
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]})
}

func net4Mask(bits int) []byte {
	m := uint32(0xffffffff) << (32 - bits)
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

func portMatch(pr *PortRange, offset uint32) []expr.Any {
	if pr == nil || (pr.Lo == 0 && pr.Hi == 0xffff) {
		return nil
	}
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2}
	be := func(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
	if pr.Lo == pr.Hi {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be(pr.Lo)}}
	}
	return []expr.Any{load, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be(pr.Lo), ToData: be(pr.Hi)}}
}

// Counters reads the counter of every rule that has an ID, by ID: the
// entries of each chain and its final drop.
func Counters(table string) (map[string]Counter, error) {
	if table == "" {
		table = Table
	}
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nft: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nft: listing chains: %w", err)
	}
	out := map[string]Counter{}
	for _, ch := range chains {
		if ch.Table.Name != table || !(strings.HasPrefix(ch.Name, "in-") || strings.HasPrefix(ch.Name, "out-") || ch.Name == "prerouting") {
			continue
		}
		rules, err := conn.GetRules(t, ch)
		if err != nil {
			return nil, fmt.Errorf("nft: rules of %s: %w", ch.Name, err)
		}
		for _, r := range rules {
			id, ok := userdata.GetString(r.UserData, userdata.TypeComment)
			if !ok || id == "" {
				continue
			}
			for _, x := range r.Exprs {
				if c, ok := x.(*expr.Counter); ok {
					out[id] = Counter{Packets: c.Packets, Bytes: c.Bytes}
				}
			}
		}
	}
	return out, nil
}

// Tables lists the names of the ip-family tables in the namespace (for
// tests and diagnostics; Apply and Remove never touch another table).
func Tables() ([]string, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nft: %w", err)
	}
	ts, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nft: listing tables: %w", err)
	}
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	return names, nil
}
