package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const dhcpServerConf = `ip dhcp enable
ip dhcp profile lan
  assignable-range 192.168.2.100 192.168.2.199
  subnet-mask 255.255.255.0
  default-gateway 192.168.2.1
  dns-server 192.0.2.53 192.0.2.54
  domain-name branch.example
  lease-time 3600
  fixed-assignment 192.168.2.50 02:00:00:00:00:50
  fixed-assignment 192.168.2.51 02:00:00:00:00:51
  no fixed-assignment 192.168.2.51 02:00:00:00:00:51
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  ip dhcp binding lan
  no shutdown
`

func TestDHCPServerParse(t *testing.T) {
	c, diags := mustParse(t, "d.conf", dhcpServerConf)
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	pr := c.DHCPProfile("lan")
	if !c.DHCPServer || pr == nil {
		t.Fatalf("server %v profile %v", c.DHCPServer, pr)
	}
	if pr.RangeFirst != netip.MustParseAddr("192.168.2.100") || pr.RangeLast != netip.MustParseAddr("192.168.2.199") ||
		pr.MaskBits != 24 || pr.DefaultGateway != netip.MustParseAddr("192.168.2.1") || len(pr.DNSServers) != 2 ||
		pr.DomainName != "branch.example" || pr.LeaseTime != time.Hour {
		t.Errorf("profile %+v", pr)
	}
	if len(pr.Fixed) != 1 || pr.Fixed[0].Addr != netip.MustParseAddr("192.168.2.50") || pr.Fixed[0].MAC.String() != "02:00:00:00:00:50" {
		t.Errorf("fixed assignments %+v", pr.Fixed)
	}
	if b := c.Interface("GigaEthernet1.0").DHCPBinding; b != "lan" {
		t.Errorf("binding %q", b)
	}
	checkRoundTrip(t, "d.conf", c)
	out := string(Print(c))
	for _, want := range []string{"ip dhcp enable\n", "ip dhcp profile lan\n  assignable-range 192.168.2.100 192.168.2.199\n", "  ip dhcp binding lan\n", "  fixed-assignment 192.168.2.50 02:00:00:00:00:50\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed config lacks %q:\n%s", want, out)
		}
	}
}

func TestDHCPServerErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"ip dhcp profile p\n  assignable-range 192.168.2.9 192.168.2.1\n", "first not above the last"},
		{"ip dhcp profile p\n  subnet-mask 255.0.255.0\n", "bad netmask"},
		{"ip dhcp profile p\n  fixed-assignment 192.168.2.5 zz:00\n", "bad MAC address"},
		{"ip dhcp profile p\n  lease-time 10\n", "lease-time"},
		{"ip dhcp profile p\n  default-gateway 2001:db8::1\n", "expected an IPv4 address"},
		{"ip dhcp profile p\n  dns-server 192.0.2.53 2001:db8::53\n", "expected an IPv4 address"},
		{"ip dhcp profile p\n  fixed-assignment 2001:db8::5 02:00:00:00:00:05\n", "expected an IPv4 address"},
		{"ip dhcp profile p\n  asignable-range 1.1.1.1 1.1.1.2\n", "assignable-range"},
		{"interface GigaEthernet1.0\n  ip address 192.168.2.1/24\n  ip dhcp binding nosuch\n", `no "ip dhcp profile nosuch"`},
		{"ip dhcp profile p\ninterface GigaEthernet1.0\n  ip address dhcp\n  ip dhcp binding p\n", "has no \"ip address A/L\""},
	} {
		_, diags, err := Parse("e.conf", []byte(tc.text))
		if err == nil || !strings.Contains(errorText(diags), tc.want) {
			t.Errorf("%q: want an error with %q, got %v", tc.text, tc.want, diags)
		}
	}
	// A range or fixed assignment outside the bound interface's subnet is
	// a typo IX loads: a warning saying what is handed out.
	for _, tc := range []struct{ text, want string }{
		{"assignable-range 10.0.0.1 10.0.0.9", "is outside GigaEthernet1.0's subnet 192.168.2.0/24, so the server does not run on GigaEthernet1.0"},
		{"assignable-range 192.168.2.100 192.168.200.254", "reaches outside GigaEthernet1.0's subnet 192.168.2.0/24; only the addresses inside it are handed out"},
		{"fixed-assignment 10.0.0.5 02:00:00:00:00:05", "fixed-assignment 10.0.0.5: not inside GigaEthernet1.0's subnet 192.168.2.0/24, so it is never handed out"},
	} {
		src := "ip dhcp enable\nip dhcp profile p\n  " + tc.text + "\ninterface GigaEthernet1.0\n  ip address 192.168.2.1/24\n  ip dhcp binding p\n"
		_, diags, err := Parse("w.conf", []byte(src))
		if err != nil || !strings.Contains(errorText(diags), "warning: ") || !strings.Contains(errorText(diags), tc.want) {
			t.Errorf("%q: want a warning with %q, got %v %v", tc.text, tc.want, err, diags)
		}
	}
	// A binding without "ip dhcp enable" is a warning: the IX serves nothing.
	_, diags, err := Parse("w.conf", []byte("ip dhcp profile p\ninterface GigaEthernet1.0\n  ip address 192.168.2.1/24\n  ip dhcp binding p\n"))
	if err != nil || !strings.Contains(errorText(diags), "no \"ip dhcp enable\"") {
		t.Errorf("binding without enable: %v %v", err, diags)
	}
}

// TestDHCPNoForms: the "no" forms leave the model as if the line had
// never been there, so it prints and parses back the same.
func TestDHCPNoForms(t *testing.T) {
	for _, src := range []string{
		"ip dhcp profile p\n  fixed-assignment 192.168.2.5 02:00:00:00:00:05\n  no fixed-assignment 192.168.2.5 02:00:00:00:00:05\n",
		"ip dhcp profile p\nno ip dhcp profile p\n",
		"ip dhcp enable\nno ip dhcp enable\n",
	} {
		c, _ := mustParse(t, "n.conf", src)
		checkRoundTrip(t, "n.conf", c)
	}
}

func errorText(diags []Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

func TestDHCPDiff(t *testing.T) {
	a, _ := mustParse(t, "a.conf", dhcpServerConf)
	b, _ := mustParse(t, "b.conf", strings.Replace(dhcpServerConf, "lease-time 3600", "lease-time 7200", 1))
	if ch := Diff(a, b); !ch.DHCPChanged || ch.Empty() {
		t.Errorf("lease-time change: %+v", ch)
	}
	if ch := Diff(a, a); ch.DHCPChanged {
		t.Errorf("no change: %+v", ch)
	}
}

func TestDHCPRouteWithoutDHCPInterface(t *testing.T) {
	_, diags := mustParse(t, "r.conf", "interface GigaEthernet0.0\n  ip address 203.0.113.94/24\nip route default GigaEthernet0.0 dhcp\n")
	if !strings.Contains(errorText(diags), "warning: ip route 0.0.0.0/0 GigaEthernet0.0 dhcp: GigaEthernet0.0 has no \"ip address dhcp\"") {
		t.Errorf("no warning: %v", diags)
	}
	_, diags = mustParse(t, "r.conf", "interface GigaEthernet0.0\n  ip address dhcp\nip route default GigaEthernet0.0 dhcp\n")
	if len(diags) != 0 {
		t.Errorf("diagnostics for a dhcp route through a dhcp interface: %v", diags)
	}
}

// TestDHCPProfileKeptLinesInactive: "soft-ix check" lists the lines of
// an "ip dhcp profile" block soft-ix keeps without acting on, as it does
// for every other block's.
func TestDHCPProfileKeptLinesInactive(t *testing.T) {
	c, _ := mustParse(t, "k.conf", "ip dhcp enable\nip dhcp profile lan\n  assignable-range 192.168.2.100 192.168.2.200\n  ntp-server 192.168.2.1\n!\n")
	in := c.Inactive()
	if len(in) != 1 || in[0].Text != "ntp-server 192.168.2.1" {
		t.Errorf("Inactive() = %v", in)
	}
}
