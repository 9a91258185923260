package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// azeEventRe is the line "soft-ix lab --events" prints per event.
var azeEventRe = regexp.MustCompile(`(?m)^event (\w+) (\S+) (\S+): interrupted (\d+) ms.*bound (\S+) \(row ([\w-]+)\): (within|OVER)$`)

// TestAzureEmulatorActiveActiveEvents runs "soft-ix lab --static
// --active-active --events rekey,maintenance,failover": the IX (the file
// "soft-ix azure config" writes) against two Azure instances run with
// --emulate azure. Both tunnels must carry traffic (ECMP over flows), an
// instance must rekey both SAs on its (scaled) lifetimes without
// interrupting traffic, and in each event the LAN-to-VNet probe stream must come back within what
// Azure documents for an active-standby gateway (rows
// planned-maintenance and unplanned-failover); the gaps are logged.
func TestAzureEmulatorActiveActiveEvents(t *testing.T) {
	nslab.Require(t, "ping")
	bin := softIXBinary(t)
	for _, v := range []struct {
		name string
		args []string
		ecmp bool // both tunnels carry traffic
	}{
		// Lifetimes / 1000 (IKE SA 28.8 s, Child SA 27 s): the instances
		// rekey during the run, first while the probe stream watches.
		{"static", []string{"--static", "--emulate-time-scale", "1000", "--events", "rekey,maintenance,failover"}, true},
		// BGP: the IX's best path goes through one instance, the other's
		// session stands by.
		{"bgp", []string{"--events", "maintenance,failover"}, false},
	} {
		t.Run(v.name, func(t *testing.T) {
			if left := labLeftovers(t); len(left) > 0 {
				testenv.Unavailable(t, "another soft-ix lab is running here (%v)", left)
			}
			args := append([]string{"lab", "--once", "--active-active"}, v.args...)
			start := time.Now()
			out, stderr, st := runBin(t, bin, args...)
			t.Logf("soft-ix %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Second))
			if st != 0 {
				t.Fatalf("status %d\n%s\n%s", st, out, stderr)
			}
			m := regexp.MustCompile(`ESP packets per instance from 32 LAN flows: \[(\d+) (\d+)\]`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no per-instance ESP counts in\n%s", out)
			}
			t.Logf("%s", m[0])
			for i, s := range m[1:] {
				if n, _ := strconv.Atoi(s); n == 0 && v.ecmp {
					t.Errorf("instance %d carried no traffic: %s", i+1, m[0])
				}
			}
			want := strings.Split(v.args[len(v.args)-1], ",")
			seen := map[string]bool{}
			for _, e := range azeEventRe.FindAllStringSubmatch(out, -1) {
				t.Logf("%s", e[0])
				seen[e[1]] = true
				if e[7] != "within" {
					t.Errorf("event %s: traffic not back within %s: %s", e[1], e[5], e[0])
				}
			}
			for _, w := range want {
				if !seen[w] {
					t.Errorf("event %s not reported in\n%s", w, out)
				}
			}
			if left := labLeftovers(t); len(left) > 0 {
				t.Errorf("the lab left %v", left)
			}
		})
	}
}

// azeEmulatorConf is an Azure gateway instance for the BGP rule tests:
// AS 65010 speaking from 172.16.0.6 to the on-premises peer 10.2.2.2 of
// AS remoteAS, over a link standing in for the tunnel.
func azeEmulatorConf(remoteAS int) string {
	return fmt.Sprintf(`hostname azure-gw
interface GigaEthernet2.0
  ip address 172.16.0.6/32
  no shutdown
!
router bgp 65010
  neighbor 10.2.2.2 remote-as %d
  neighbor 10.2.2.2 update-source GigaEthernet2.0
  neighbor 10.2.2.2 ebgp-multihop 255
  address-family ipv4 unicast
    network 172.16.0.0/16
!
ip route 10.2.2.2/32 GigaEthernet2.0
`, remoteAS)
}

// azeAnnounce lists n /24 prefixes from 10.64.0.0 out of dev.
func azeAnnounce(n int, dev string) []nslab.DeviceRoute {
	rs := make([]nslab.DeviceRoute, n)
	for i := range rs {
		rs[i] = nslab.DeviceRoute{Prefix: fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256), Device: dev}
	}
	return rs
}

// TestAzureEmulatorBGPRules runs soft-ix --emulate azure against BIRD
// as the on-premises router, over a veth standing in for the tunnel:
// Azure refuses a local network gateway with a reserved ASN (row
// reserved-asn; the emulator does not start), accepts the table's 4000
// prefixes, and drops the session when a peer sends one more (row
// prefix-limit).
func TestAzureEmulatorBGPRules(t *testing.T) {
	lab := nslab.NewForTest(t, "azebgp", "bird", "birdc")
	ix, err := lab.Namespace("ix")
	if err != nil {
		t.Fatal(err)
	}
	az, err := lab.Namespace("azure")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(ix, "ix0", "10.2.2.2/32", az, "az0", "172.16.0.6/32"); err != nil {
		t.Fatal(err)
	}
	if err := ix.IP("route", "add", "172.16.0.6/32", "dev", "ix0"); err != nil {
		t.Fatal(err)
	}

	// A reserved ASN: Azure refuses it, the emulator stops with the row.
	out, err := nslab.RunSoftIX(az, "--emulate", "azure", "-c", writeLabFile(t, lab, "reserved.conf", azeEmulatorConf(65515)),
		"--map", "GigaEthernet2.0=az0", "--host-interfaces", "--socket", lab.Path("reserved.sock"))
	if err == nil || !strings.Contains(out, "reserved ASN") || !strings.Contains(out, "row reserved-asn") {
		t.Errorf("emulator with neighbor remote-as 65515: err %v, output:\n%s", err, out)
	}
	// iBGP: Azure speaks eBGP only.
	out, err = nslab.RunSoftIX(az, "--emulate", "azure", "-c", writeLabFile(t, lab, "ibgp.conf", azeEmulatorConf(65010)),
		"--map", "GigaEthernet2.0=az0", "--host-interfaces", "--socket", lab.Path("ibgp.sock"))
	if err == nil || !strings.Contains(out, "row ebgp") {
		t.Errorf("emulator with neighbor remote-as 65010 (its own): err %v, output:\n%s", err, out)
	}

	x, err := nslab.StartSoftIXDaemon(az, nslab.SoftIXOptions{Name: "azure", Config: azeEmulatorConf(65050),
		Map: map[string]string{"GigaEthernet2.0": "az0"}, Args: []string{"--emulate", "azure", "--host-interfaces"}})
	if err != nil {
		t.Fatal(err)
	}
	birdConf := nslab.BGPConfig{Name: "ix", RouterID: "10.2.2.2", LocalAS: 65050, SourceAddr: "10.2.2.2",
		PeerAddr: "172.16.0.6", PeerAS: 65010, Multihop: 2,
		Announce: azeAnnounce(4000, "ix0"), Reach: []nslab.DeviceRoute{{Prefix: "172.16.0.6/32", Device: "ix0"}}}
	bird, err := nslab.StartBGP(ix, birdConf)
	if err != nil {
		t.Fatal(err)
	}
	if err := bird.WaitEstablished("peer", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// All 4000 arrive and the session stays.
	err = nslab.WaitFor(60*time.Second, "4000 prefixes at the emulator", func() error {
		s, err := x.Command("show", "ip", "bgp", "neighbors", "10.2.2.2", "routes")
		if err != nil {
			return err
		}
		if !strings.Contains(s, "Total number of prefixes 4000") {
			return fmt.Errorf("not yet: %q", lastLine(s))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// One more: Azure drops the session (Cease, maximum prefixes).
	birdConf.Announce = azeAnnounce(4001, "ix0")
	text, err := birdConf.Render(lab)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bird.ConfPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := bird.Birdc("configure"); err != nil {
		t.Fatalf("birdc configure: %v\n%s", err, out)
	}
	err = nslab.WaitFor(60*time.Second, "the emulator drops the session over 4000 prefixes", func() error {
		s, err := bird.Birdc("show", "protocols", "all", "peer")
		if err != nil {
			return err
		}
		if !strings.Contains(s, "Maximum number of prefixes reached") {
			return fmt.Errorf("not yet: %q", strings.TrimSpace(s))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := bird.Birdc("show", "protocols", "all", "peer")
	t.Logf("BIRD after 4001 prefixes (%v):\n%s", err, s)
}

// writeLabFile writes text to name in lab's directory and returns its path.
func writeLabFile(t *testing.T, lab *nslab.Lab, name, text string) string {
	t.Helper()
	path := lab.Path(name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
