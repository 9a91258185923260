package esp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// dropTestNet moves the calling goroutine's thread into a new network
// namespace with one veth device holding 192.0.2.1 and returns the claim
// of that address. The thread stays locked: it ends with the test, and
// the namespace with it.
func dropTestNet(t *testing.T) rxClaim {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(t, "needs root for a network namespace: %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", "dtA", "type", "veth", "peer", "name", "dtB"},
		{"addr", "add", "192.0.2.1/24", "dev", "dtA"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	a, err := net.InterfaceByName("dtA")
	if err != nil {
		t.Fatal(err)
	}
	return rxClaim{addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, devs: []rxDev{{index: a.Index, name: "dtA"}}}
}

// netdevTable returns the namespace's netdev table of that name and the
// number of its rules (nil when there is none).
func netdevTable(t *testing.T, name string) (*nftables.Table, int) {
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyNetdev)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name != name {
			continue
		}
		chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyNetdev)
		if err != nil {
			t.Fatal(err)
		}
		rules := 0
		for _, ch := range chains {
			if ch.Table.Name == name {
				rs, err := conn.GetRules(tb, ch)
				if err != nil {
					t.Fatal(err)
				}
				rules += len(rs)
			}
		}
		return tb, rules
	}
	return nil, 0
}

// tableFlags returns a listed table's flags: google/nftables v0.3.0
// decodes them in host order, nftables sends them in network order.
func tableFlags(tb *nftables.Table) uint32 {
	return binary.BigEndian.Uint32(binary.NativeEndian.AppendUint32(nil, tb.Flags))
}

// TestDropTableOwned: the table belongs to the engine's netlink socket.
// Another socket cannot take it (a second daemon falls back to the raw
// socket with that reason), and it is gone when the socket closes, as it
// is when the kernel closes a killed daemon's sockets.
func TestDropTableOwned(t *testing.T) {
	c := dropTestNet(t)
	d := newDropTable(false, nil)
	if err := d.apply(c); err != nil {
		t.Fatal(err)
	}
	tb, rules := netdevTable(t, "softix_esp_rx4")
	if tb == nil || tableFlags(tb)&nftTableOwner == 0 || rules != 1 {
		t.Fatalf("table %+v with %d rules, want one owned by the socket with 1 rule", tb, rules)
	}
	// Applying again (an address change) keeps it owned and exact.
	c2 := c
	c2.addrs = append(c2.addrs, netip.MustParseAddr("192.0.2.9"))
	if err := d.apply(c2); err != nil {
		t.Fatal(err)
	}
	if tb, rules := netdevTable(t, "softix_esp_rx4"); tb == nil || tableFlags(tb)&nftTableOwner == 0 || rules != 2 {
		t.Fatalf("after the second claim: table %+v with %d rules, want 2", tb, rules)
	}

	other := newDropTable(false, nil)
	err := other.apply(c)
	if err == nil || !strings.Contains(err.Error(), "another running process") {
		t.Errorf("a second socket's apply: %v, want the table refused as another process's", err)
	}
	if _, rules := netdevTable(t, "softix_esp_rx4"); rules != 2 {
		t.Errorf("the refused apply changed the table: %d rules", rules)
	}

	// What the kernel does to a killed process's socket.
	unix.Close(d.fd)
	d.fd = -1
	if tb, _ := netdevTable(t, "softix_esp_rx4"); tb != nil {
		t.Fatalf("table %+v outlived its socket", tb)
	}
	// Now the other socket may have it.
	if err := other.apply(c); err != nil {
		t.Fatal(err)
	}
	if err := other.close(); err != nil {
		t.Fatal(err)
	}
	if tb, _ := netdevTable(t, "softix_esp_rx4"); tb != nil {
		t.Fatalf("table %+v outlived close", tb)
	}
}

// TestDropTableReplacesPlain: a table of the same name that no socket
// owns (left by an earlier version, or by a run on a kernel without owned
// tables) is replaced at the first apply.
func TestDropTableReplacesPlain(t *testing.T) {
	c := dropTestNet(t)
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	stale := conn.AddTable(&nftables.Table{Name: "softix_esp_rx6", Family: nftables.TableFamilyNetdev})
	conn.AddChain(&nftables.Chain{Name: "old", Table: stale})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	d := newDropTable(true, nil)
	defer d.close()
	c.addrs = []netip.Addr{netip.MustParseAddr("2001:db8::1")}
	if err := d.apply(c); err != nil {
		t.Fatal(err)
	}
	tb, rules := netdevTable(t, "softix_esp_rx6")
	if tb == nil || tableFlags(tb)&nftTableOwner == 0 || rules != 1 {
		t.Fatalf("table %+v with %d rules, want the stale one replaced by an owned one with 1 rule", tb, rules)
	}
}

// TestDropTableEmptyClaim: the zero claim leaves no table, also on a
// socket's first use (the engine's check that nftables works).
func TestDropTableEmptyClaim(t *testing.T) {
	dropTestNet(t)
	d := newDropTable(false, nil)
	defer d.close()
	for range 2 {
		if err := d.apply(rxClaim{}); err != nil {
			t.Fatal(err)
		}
		if tb, _ := netdevTable(t, "softix_esp_rx4"); tb != nil {
			t.Fatalf("table %+v for the zero claim", tb)
		}
	}
}

// TestDropTableNoCapability: without CAP_NET_ADMIN the kernel refuses the
// whole transaction, and the error says so rather than blaming another
// process for the table.
func TestDropTableNoCapability(t *testing.T) {
	c := dropTestNet(t)
	// Capabilities belong to a thread: this locked one ends with the test.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	d := newDropTable(false, nil)
	err := d.apply(c)
	var whole batchError
	if !errors.As(err, &whole) || !errors.Is(err, unix.EPERM) || strings.Contains(err.Error(), "another") {
		t.Fatalf("apply without CAP_NET_ADMIN: %v, want the transaction refused with EPERM", err)
	}
	if d.fd >= 0 {
		t.Error("the socket stayed open after the refusal")
	}
}
