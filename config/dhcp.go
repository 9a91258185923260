package config

// The IX's DHCP server: "ip dhcp enable" and the "ip dhcp profile NAME"
// blocks at the top level (entries of cmd_global.go's table), the profile
// block's own table, and "ip dhcp binding NAME" on the interface that
// serves one (an entry of cmd_interface.go's table).
//
//	ip dhcp enable
//	ip dhcp profile lan
//	  assignable-range 192.168.2.100 192.168.2.199
//	  subnet-mask 255.255.255.0
//	  default-gateway 192.168.2.1
//	  dns-server 192.0.2.53 192.0.2.54
//	  domain-name branch.example
//	  lease-time 3600
//	  fixed-assignment 192.168.2.50 02:00:00:00:00:50
//	interface GigaEthernet1.0
//	  ip address 192.168.2.1/24
//	  ip dhcp binding lan

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DHCPProfile is an "ip dhcp profile NAME" block: what the server hands
// out on the interfaces bound to it. A zero field is not configured; the
// interface then supplies it (see the field comments).
type DHCPProfile struct {
	Name string
	// RangeFirst and RangeLast are "assignable-range A B", the pool;
	// invalid: the interface's subnet without its network, broadcast and
	// own addresses.
	RangeFirst, RangeLast netip.Addr
	// MaskBits is "subnet-mask M" as a prefix length; 0: the interface's.
	MaskBits int
	// DefaultGateway is option 3; invalid: the interface's address.
	DefaultGateway netip.Addr
	// DNSServers is option 6 ("dns-server A [B]"); empty: none sent.
	DNSServers []netip.Addr
	// DomainName is option 15 ("domain-name D").
	DomainName string
	// LeaseTime is "lease-time SECONDS"; 0: DefaultDHCPLease.
	LeaseTime time.Duration
	// Fixed are the "fixed-assignment A MAC" lines: a static binding of
	// an address to a client's hardware address.
	Fixed []*DHCPFixed

	Extra []*Verbatim // not-emulated lines of the block
	Pos   Pos
}

// DHCPFixed is "fixed-assignment ADDRESS MAC".
type DHCPFixed struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
	Pos  Pos
}

// DefaultDHCPLease is the lease time of a profile without "lease-time".
const DefaultDHCPLease = 24 * time.Hour

// DHCPProfile returns the "ip dhcp profile" named name, or nil.
func (c *Config) DHCPProfile(name string) *DHCPProfile {
	for _, p := range c.DHCPProfiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// dhcpEnableCommand is "ip dhcp enable" at the top level (cmd_global.go):
// the switch of the server. IX prints it after the static routes.
var dhcpEnableCommand = &command[*Config]{
	words: []string{"ip", "dhcp", "enable"}, quiet: true,
	help: "run the DHCP server on the interfaces with ip dhcp binding", section: "ip route",
	set: func(p *parser, l *line, t []token, neg bool, c *Config) {
		if p.done(l, t, 3, "ip dhcp enable") {
			c.DHCPServer, c.DHCPServerPos = !neg, p.pos(l, t[0].col)
		}
	},
	get: func(c *Config) [][]string {
		if !c.DHCPServer {
			return nil
		}
		return [][]string{{"ip dhcp enable"}}
	},
}

// dhcpProfileCommand is "ip dhcp profile NAME" at the top level
// (cmd_global.go); it opens the block dhcpProfileTable reads. IX prints
// the profiles after proxy-dns, before router bgp.
var dhcpProfileCommand = &command[*Config]{
	words: []string{"ip", "dhcp", "profile"}, quiet: true, args: []Arg{{Kind: ArgName, Help: "NAME"}},
	opens: dhcpProfileTable, help: "what the DHCP server hands out", section: "ip dhcp profile",
	set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.dhcpProfileCmd(l, t, neg) },
	print: func(w *printer, c *Config) {
		for _, pr := range c.DHCPProfiles {
			w.dhcpProfile(pr)
		}
	},
}

// dhcpBindingCommand is "ip dhcp binding PROFILE" in an interface
// (cmd_interface.go); the interface's other "ip dhcp ..." forms are kept,
// not emulated.
var dhcpBindingCommand = &command[*Interface]{
	words: []string{"ip", "dhcp", "binding"}, args: []Arg{{Kind: ArgName, Help: "PROFILE"}},
	help: "serve DHCP on the interface with an ip dhcp profile", set: (*parser).dhcpBinding,
	get: func(ifc *Interface) [][]string {
		if ifc.DHCPBinding == "" {
			return nil
		}
		return [][]string{{"ip dhcp binding", quoteWord(ifc.DHCPBinding)}}
	},
}

// dhcpProfileTable is the block of an "ip dhcp profile", in the order IX
// prints it.
var dhcpProfileTable = &table[*DHCPProfile]{
	name: BlockDHCPProfile,
	cmds: []*command[*DHCPProfile]{
		{
			words: []string{"assignable-range"},
			args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D", Sample: "192.168.2.100"},
				{Kind: ArgIPv4, Help: "A.B.C.D", Sample: "192.168.2.199"}},
			help: "the pool of addresses handed out", set: (*parser).dhcpRange,
			get: func(pr *DHCPProfile) [][]string {
				if !pr.RangeFirst.IsValid() {
					return nil
				}
				return [][]string{{"assignable-range", pr.RangeFirst.String(), pr.RangeLast.String()}}
			},
		},
		{
			words: []string{"subnet-mask"}, args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D", Sample: "255.255.255.0"}},
			help: "the netmask handed out", set: (*parser).dhcpMask,
			get: func(pr *DHCPProfile) [][]string {
				if pr.MaskBits == 0 {
					return nil
				}
				return [][]string{{"subnet-mask", net.IP(net.CIDRMask(pr.MaskBits, 32)).String()}}
			},
		},
		{
			words: []string{"default-gateway"}, args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D"}},
			help: "the router handed out", set: (*parser).dhcpGateway,
			get: func(pr *DHCPProfile) [][]string {
				if !pr.DefaultGateway.IsValid() {
					return nil
				}
				return [][]string{{"default-gateway", pr.DefaultGateway.String()}}
			},
		},
		{
			words: []string{"dns-server"}, args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D"}, {Kind: ArgIPv4, Help: "A.B.C.D", Optional: true}},
			help: "the DNS servers handed out", set: (*parser).dhcpDNS,
			get: func(pr *DHCPProfile) [][]string {
				if len(pr.DNSServers) == 0 {
					return nil
				}
				words := []string{"dns-server"}
				for _, d := range pr.DNSServers {
					words = append(words, d.String())
				}
				return [][]string{words}
			},
		},
		{
			words: []string{"domain-name"}, args: []Arg{{Kind: ArgName, Help: "DOMAIN"}},
			help: "the domain name handed out", set: (*parser).dhcpDomain,
			get: func(pr *DHCPProfile) [][]string {
				if pr.DomainName == "" {
					return nil
				}
				return [][]string{{"domain-name", quoteWord(pr.DomainName)}}
			},
		},
		{
			words: []string{"lease-time"}, args: []Arg{{Kind: ArgNumber, Help: "<60-4294967295>", Min: 60, Max: 4294967295}},
			help: "how long a lease lasts, in seconds", set: (*parser).dhcpLease,
			get: func(pr *DHCPProfile) [][]string {
				if pr.LeaseTime == 0 {
					return nil
				}
				return [][]string{{"lease-time", secs(pr.LeaseTime)}}
			},
		},
		{
			words: []string{"fixed-assignment"},
			args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D", Sample: "192.168.2.50"},
				{Kind: ArgMAC, Help: "HH:HH:HH:HH:HH:HH", Sample: "02:00:00:00:00:50"}},
			help: "an address kept for one client's hardware address", set: (*parser).dhcpFixed,
			get: func(pr *DHCPProfile) [][]string {
				var out [][]string
				for _, f := range pr.Fixed {
					out = append(out, []string{"fixed-assignment", f.Addr.String(), f.MAC.String()})
				}
				return out
			},
		},
	},
	unknown: func(p *parser, tb *table[*DHCPProfile], l *line, t []token, neg bool, pr *DHCPProfile) {
		p.unknown(l, t, 0, "ip dhcp profile "+pr.Name+": ", tb.hints())
	},
}

// dhcpProfileCmd: ip dhcp profile NAME opens a profile's block.
func (p *parser) dhcpProfileCmd(l *line, t []token, neg bool) {
	p.block = blockSkip // until the name checks out
	name, ok := p.profileName(l, t, 3, "ip dhcp profile")
	if !ok {
		return
	}
	if neg {
		p.cfg.DHCPProfiles = slices.DeleteFunc(p.cfg.DHCPProfiles, func(d *DHCPProfile) bool { return d.Name == name })
		return
	}
	pr := p.cfg.DHCPProfile(name)
	if pr == nil {
		pr = &DHCPProfile{Name: name, Pos: p.pos(l, t[0].col)}
		p.cfg.DHCPProfiles = append(p.cfg.DHCPProfiles, pr)
	}
	openTable(p, dhcpProfileTable, pr, func(v *Verbatim) { pr.Extra = append(pr.Extra, v) })
}

// dhcpRange: assignable-range FIRST LAST
func (p *parser) dhcpRange(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "assignable-range"
	if neg {
		pr.RangeFirst, pr.RangeLast = netip.Addr{}, netip.Addr{}
		return
	}
	a, ok1 := p.need(l, t, 1, cmd, "first address")
	b, ok2 := p.need(l, t, 2, cmd, "last address")
	if !ok1 || !ok2 || !p.done(l, t, 3, cmd) {
		return
	}
	first, ok1 := p.ipv4(l, a, cmd, "first address")
	last, ok2 := p.ipv4(l, b, cmd, "last address")
	if !ok1 || !ok2 {
		return
	}
	if last.Less(first) {
		p.errf(l, a.col, "%s: %s is above %s, expected the first not above the last", cmd, first, last)
		return
	}
	pr.RangeFirst, pr.RangeLast = first, last
}

// dhcpMask: subnet-mask M, a dotted netmask.
func (p *parser) dhcpMask(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "subnet-mask"
	if neg {
		pr.MaskBits = 0
		return
	}
	m, ok := p.need(l, t, 1, cmd, "netmask (e.g. 255.255.255.0)")
	if !ok || !p.done(l, t, 2, cmd) {
		return
	}
	ip := net.ParseIP(m.text).To4()
	ones, bits := net.IPMask(ip).Size()
	if ip == nil || bits != 32 || ones == 0 {
		p.errf(l, m.col, "%s: bad netmask %q, expected a dotted mask such as 255.255.255.0", cmd, m.text)
		return
	}
	pr.MaskBits = ones
}

// The server is DHCPv4: its options and assignments hold IPv4 addresses
// only, so an IPv6 one is an error rather than a broken option.

// dhcpGateway: default-gateway A
func (p *parser) dhcpGateway(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "default-gateway"
	if neg {
		pr.DefaultGateway = netip.Addr{}
		return
	}
	if a, ok := p.need(l, t, 1, cmd, "address"); ok && p.done(l, t, 2, cmd) {
		if gw, ok := p.ipv4(l, a, cmd, "address"); ok {
			pr.DefaultGateway = gw
		}
	}
}

// dhcpDNS: dns-server A [B]
func (p *parser) dhcpDNS(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "dns-server"
	if neg {
		pr.DNSServers = nil
		return
	}
	if _, ok := p.need(l, t, 1, cmd, "address"); !ok || !p.done(l, t, 3, cmd) {
		return
	}
	var dns []netip.Addr
	for _, a := range t[1:] {
		d, ok := p.ipv4(l, a, cmd, "address")
		if !ok {
			return
		}
		dns = append(dns, d)
	}
	pr.DNSServers = dns
}

// dhcpDomain: domain-name D
func (p *parser) dhcpDomain(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "domain-name"
	if neg {
		pr.DomainName = ""
		return
	}
	if d, ok := p.need(l, t, 1, cmd, "domain name"); ok && p.done(l, t, 2, cmd) {
		pr.DomainName = d.text
	}
}

// dhcpLease: lease-time SECONDS
func (p *parser) dhcpLease(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "lease-time"
	if neg {
		pr.LeaseTime = 0
		return
	}
	if v, ok := p.need(l, t, 1, cmd, "seconds"); ok && p.done(l, t, 2, cmd) {
		if d, ok := p.seconds(l, v, cmd, 60, 4294967295); ok {
			pr.LeaseTime = d
		}
	}
}

// dhcpFixed: fixed-assignment ADDRESS MAC; a new line for the address or
// the MAC replaces the old one.
func (p *parser) dhcpFixed(l *line, t []token, neg bool, pr *DHCPProfile) {
	const cmd = "fixed-assignment"
	a, ok1 := p.need(l, t, 1, cmd, "address")
	m, ok2 := p.need(l, t, 2, cmd, "MAC address")
	if !ok1 || !ok2 || !p.done(l, t, 3, cmd) {
		return
	}
	addr, ok := p.ipv4(l, a, cmd, "address")
	if !ok {
		return
	}
	mac, err := net.ParseMAC(m.text)
	if err != nil || len(mac) != 6 {
		p.errf(l, m.col, "%s: bad MAC address %q, expected six bytes such as 02:00:00:00:00:50", cmd, m.text)
		return
	}
	pr.Fixed = slices.DeleteFunc(pr.Fixed, func(f *DHCPFixed) bool { return f.Addr == addr || strings.EqualFold(f.MAC.String(), mac.String()) })
	if !neg {
		pr.Fixed = append(pr.Fixed, &DHCPFixed{Addr: addr, MAC: mac, Pos: p.pos(l, t[0].col)})
	}
}

// dhcpBinding: ip dhcp binding PROFILE
func (p *parser) dhcpBinding(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.DHCPBinding = ""
		return
	}
	if n, ok := p.need(l, t, 3, "ip dhcp binding", "profile name"); ok && p.done(l, t, 4, "ip dhcp binding") {
		ifc.DHCPBinding, ifc.DHCPBindingPos = n.text, p.pos(l, t[0].col)
	}
}

// dhcpRoutes warns of "ip route ... IF dhcp" through an interface that
// takes no address from DHCP: the route never gets a next hop.
func (v *validator) dhcpRoutes() {
	for _, r := range v.c.Routes {
		if !r.DHCP {
			continue
		}
		if ifc := v.c.Interface(r.Interface); ifc == nil || !ifc.DHCP {
			v.warnf(r.Pos, "ip route %s %s dhcp: %s has no \"ip address dhcp\", so the route never has a next hop and stays inactive", r.Prefix, r.Interface, r.Interface)
		}
	}
}

// dhcpServer checks the server's references: a binding names a profile
// that exists, on an interface with an address; a pool and fixed
// assignments inside that interface's subnet (a warning: IX loads it).
func (v *validator) dhcpServer() {
	v.dhcpRoutes()
	for _, ifc := range v.c.Interfaces {
		if ifc.DHCPBinding == "" {
			continue
		}
		pr := v.c.DHCPProfile(ifc.DHCPBinding)
		switch {
		case pr == nil:
			v.errf(ifc.DHCPBindingPos, "ip dhcp binding: no \"ip dhcp profile %s\"", ifc.DHCPBinding)
			continue
		case !ifc.Address.IsValid():
			v.errf(ifc.DHCPBindingPos, "ip dhcp binding: %s has no \"ip address A/L\" for the server to answer from", ifc.Name)
			continue
		case !v.c.DHCPServer:
			v.warnf(ifc.DHCPBindingPos, "ip dhcp binding: the DHCP server is off (no \"ip dhcp enable\"), %s hands out no addresses", ifc.Name)
		}
		// Addresses outside the subnet are a typo IX loads; the server
		// hands out only the part of the range inside the subnet.
		subnet := ifc.Address.Masked()
		switch first, last := pr.RangeFirst, pr.RangeLast; {
		case !first.IsValid() || (subnet.Contains(first) && subnet.Contains(last)):
		case last.Less(subnet.Addr()) || lastAddr(subnet).Less(first):
			v.warnf(pr.Pos, "ip dhcp profile %s: assignable-range %s %s is outside %s's subnet %s, so the server does not run on %s", pr.Name, first, last, ifc.Name, subnet, ifc.Name)
		default:
			v.warnf(pr.Pos, "ip dhcp profile %s: assignable-range %s %s reaches outside %s's subnet %s; only the addresses inside it are handed out", pr.Name, first, last, ifc.Name, subnet)
		}
		for _, f := range pr.Fixed {
			if !subnet.Contains(f.Addr) {
				v.warnf(f.Pos, "fixed-assignment %s: not inside %s's subnet %s, so it is never handed out", f.Addr, ifc.Name, subnet)
			}
		}
	}
}

// dhcpProfile prints an "ip dhcp profile" block.
func (w *printer) dhcpProfile(pr *DHCPProfile) {
	w.line(0, "ip dhcp profile", quoteWord(pr.Name))
	for _, l := range dhcpProfileTable.lines(pr, "") {
		w.line(2, l.words...)
	}
	w.kept(2, pr.Extra)
	w.bang()
}

// equalDHCP compares the DHCP server parts of two configs: the switch,
// the profiles and the bindings.
func equalDHCP(a, b *Config) bool {
	if a.DHCPServer != b.DHCPServer || len(a.DHCPProfiles) != len(b.DHCPProfiles) {
		return false
	}
	for i, p := range a.DHCPProfiles {
		if string(Print(&Config{DHCPProfiles: []*DHCPProfile{p}})) != string(Print(&Config{DHCPProfiles: []*DHCPProfile{b.DHCPProfiles[i]}})) {
			return false
		}
	}
	binding := func(c *Config) map[string]string {
		m := map[string]string{}
		for _, i := range c.Interfaces {
			if i.DHCPBinding != "" {
				m[i.Name] = i.DHCPBinding
			}
		}
		return m
	}
	ba, bb := binding(a), binding(b)
	if len(ba) != len(bb) {
		return false
	}
	for k, v := range ba {
		if bb[k] != v {
			return false
		}
	}
	return true
}
