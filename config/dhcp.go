package config

// The IX's DHCP server: "ip dhcp enable", the "ip dhcp profile NAME"
// blocks and "ip dhcp binding NAME" on the interface that serves one.
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

// dhcpProfileCommands are the sub-commands of "ip dhcp profile".
var dhcpProfileCommands = []string{"assignable-range", "subnet-mask", "default-gateway", "dns-server", "domain-name", "lease-time", "fixed-assignment"}

// dhcpTop handles the global "ip dhcp enable" and "ip dhcp profile NAME";
// false for the other "ip dhcp ..." commands, which the caller keeps.
func (p *parser) dhcpTop(l *line, t []token, neg bool) bool {
	if len(t) < 3 {
		return false
	}
	switch kw(t[2]) {
	case "enable":
		p.topAnchor = "ip route"
		if p.done(l, t, 3, "ip dhcp enable") {
			p.cfg.DHCPServer, p.cfg.DHCPServerPos = !neg, p.pos(l, t[0].col)
		}
		return true
	case "profile":
		p.topAnchor = "ikev2 profile"
		n, ok := p.need(l, t, 3, "ip dhcp profile", "profile name")
		if !ok || !p.done(l, t, 4, "ip dhcp profile") {
			p.block = blockSkip
			return true
		}
		if neg {
			p.cfg.DHCPProfiles = slices.DeleteFunc(p.cfg.DHCPProfiles, func(d *DHCPProfile) bool { return d.Name == n.text })
			return true
		}
		pr := p.cfg.DHCPProfile(n.text)
		if pr == nil {
			pr = &DHCPProfile{Name: n.text, Pos: p.pos(l, t[0].col)}
			p.cfg.DHCPProfiles = append(p.cfg.DHCPProfiles, pr)
		}
		p.block, p.dhcpProfile = blockDHCPProfile, pr
		return true
	}
	return false
}

// dhcpProfileSub handles a line of an "ip dhcp profile" block.
func (p *parser) dhcpProfileSub(l *line) {
	pr := p.dhcpProfile
	neg, t := splitNo(l.toks)
	cmd := kw(t[0])
	switch cmd {
	case "assignable-range":
		if neg {
			pr.RangeFirst, pr.RangeLast = netip.Addr{}, netip.Addr{}
			return
		}
		a, ok1 := p.need(l, t, 1, cmd, "first address")
		b, ok2 := p.need(l, t, 2, cmd, "last address")
		if !ok1 || !ok2 || !p.done(l, t, 3, cmd) {
			return
		}
		first, ok1 := p.addr(l, a, cmd, "first address")
		last, ok2 := p.addr(l, b, cmd, "last address")
		if !ok1 || !ok2 {
			return
		}
		if !first.Is4() || !last.Is4() || last.Less(first) {
			p.errf(l, a.col, "%s: want two IPv4 addresses, the first not above the last", cmd)
			return
		}
		pr.RangeFirst, pr.RangeLast = first, last
	case "subnet-mask":
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
	case "default-gateway":
		if neg {
			pr.DefaultGateway = netip.Addr{}
			return
		}
		if a, ok := p.need(l, t, 1, cmd, "address"); ok && p.done(l, t, 2, cmd) {
			if gw, ok := p.addr(l, a, cmd, "address"); ok {
				pr.DefaultGateway = gw
			}
		}
	case "dns-server":
		if neg {
			pr.DNSServers = nil
			return
		}
		if _, ok := p.need(l, t, 1, cmd, "address"); !ok || !p.done(l, t, 3, cmd) {
			return
		}
		var dns []netip.Addr
		for _, a := range t[1:] {
			d, ok := p.addr(l, a, cmd, "address")
			if !ok {
				return
			}
			dns = append(dns, d)
		}
		pr.DNSServers = dns
	case "domain-name":
		if neg {
			pr.DomainName = ""
			return
		}
		if d, ok := p.need(l, t, 1, cmd, "domain name"); ok && p.done(l, t, 2, cmd) {
			pr.DomainName = d.text
		}
	case "lease-time":
		if neg {
			pr.LeaseTime = 0
			return
		}
		if v, ok := p.need(l, t, 1, cmd, "seconds"); ok && p.done(l, t, 2, cmd) {
			if d, ok := p.seconds(l, v, cmd, 60, 4294967295); ok {
				pr.LeaseTime = d
			}
		}
	case "fixed-assignment":
		a, ok1 := p.need(l, t, 1, cmd, "address")
		m, ok2 := p.need(l, t, 2, cmd, "MAC address")
		if !ok1 || !ok2 || !p.done(l, t, 3, cmd) {
			return
		}
		addr, ok := p.addr(l, a, cmd, "address")
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
	default:
		p.unknown(l, t, 0, "ip dhcp profile "+pr.Name+": ", dhcpProfileCommands)
	}
}

// interfaceDHCP handles "ip dhcp binding PROFILE" in an interface; other
// "ip dhcp ..." forms are kept, not emulated.
func (p *parser) interfaceDHCP(l *line, t []token, neg bool) {
	if len(t) < 3 || kw(t[2]) != "binding" {
		p.notEmulated(l, t, "")
		return
	}
	ifc := p.iface
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
// assignments inside that interface's subnet.
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
		subnet := ifc.Address.Masked()
		if pr.RangeFirst.IsValid() && (!subnet.Contains(pr.RangeFirst) || !subnet.Contains(pr.RangeLast)) {
			v.errf(pr.Pos, "ip dhcp profile %s: assignable-range %s %s is not inside %s's subnet %s", pr.Name, pr.RangeFirst, pr.RangeLast, ifc.Name, subnet)
		}
		for _, f := range pr.Fixed {
			if !subnet.Contains(f.Addr) {
				v.errf(f.Pos, "fixed-assignment %s: not inside %s's subnet %s", f.Addr, ifc.Name, subnet)
			}
		}
	}
}

// dhcpLines prints the DHCP server's global lines.
func (w *printer) dhcpEnable() {
	if w.c.DHCPServer {
		w.line(0, "ip dhcp enable")
		w.bang()
	}
}

// dhcpProfiles prints the "ip dhcp profile" blocks.
func (w *printer) dhcpProfiles() {
	for _, pr := range w.c.DHCPProfiles {
		w.line(0, "ip dhcp profile", quoteWord(pr.Name))
		if pr.RangeFirst.IsValid() {
			w.line(2, "assignable-range", pr.RangeFirst.String(), pr.RangeLast.String())
		}
		if pr.MaskBits > 0 {
			w.line(2, "subnet-mask", net.IP(net.CIDRMask(pr.MaskBits, 32)).String())
		}
		if pr.DefaultGateway.IsValid() {
			w.line(2, "default-gateway", pr.DefaultGateway.String())
		}
		if len(pr.DNSServers) > 0 {
			words := []string{"dns-server"}
			for _, d := range pr.DNSServers {
				words = append(words, d.String())
			}
			w.line(2, words...)
		}
		if pr.DomainName != "" {
			w.line(2, "domain-name", quoteWord(pr.DomainName))
		}
		if pr.LeaseTime > 0 {
			w.line(2, "lease-time", secs(pr.LeaseTime))
		}
		for _, f := range pr.Fixed {
			w.line(2, "fixed-assignment", f.Addr.String(), f.MAC.String())
		}
		w.kept(2, pr.Extra)
		w.bang()
	}
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
