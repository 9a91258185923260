package azemu

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azure"
	"github.com/soft-ix/soft-ix/ike"
)

// TestPolicyIsTheTable: the emulator offers exactly the table's lists, in
// its order, which are the lists ike's own AzurePolicy documents.
func TestPolicyIsTheTable(t *testing.T) {
	p, err := Config{}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	ref := ike.AzurePolicy()
	if len(p.IKEOffer) != len(azure.DefaultIKE) || len(p.ChildOffer) != len(azure.DefaultChild) {
		t.Fatalf("offers %d/%d, table %d/%d", len(p.IKEOffer), len(p.ChildOffer), len(azure.DefaultIKE), len(azure.DefaultChild))
	}
	for i := range p.IKEOffer {
		if p.IKEOffer[i] != ref.IKEOffer[i] {
			t.Errorf("IKE offer %d: %+v, ike.AzurePolicy has %+v", i, p.IKEOffer[i], ref.IKEOffer[i])
		}
	}
	for i := range p.ChildOffer {
		if p.ChildOffer[i] != ref.ChildOffer[i] {
			t.Errorf("Child offer %d: %+v, ike.AzurePolicy has %+v", i, p.ChildOffer[i], ref.ChildOffer[i])
		}
	}
	if !slices.Equal(p.ChildPFSAnswer, ref.ChildPFSAnswer) || len(p.ChildPFSAnswer) != len(azure.AnswerPFS) || p.ESN {
		t.Errorf("PFS answered %v (ike.AzurePolicy %v), ESN %v: want the table's groups, no ESN", p.ChildPFSAnswer, ref.ChildPFSAnswer, p.ESN)
	}
	if p.IKELifetime != azure.IKELifetime || p.ChildLifetime != azure.ChildLifetime || p.ChildLifetimeKB != azure.ChildLifetimeKB ||
		p.DPDInterval != azure.DPDTimeout {
		t.Errorf("lifetimes %v %v %d, DPD %v", p.IKELifetime, p.ChildLifetime, p.ChildLifetimeKB, p.DPDInterval)
	}
}

// TestCustomPolicyConnection: a connection with a custom IPsec/IKE policy
// offers and accepts exactly its one combination (row "custom-policy"):
// PFS offered and required, nothing answered beyond it, its Child SA
// lifetimes and the connection's DPD timeout.
func TestCustomPolicyConnection(t *testing.T) {
	doc := []byte(`{"connectionType": "IPsec", "connectionMode": "ResponderOnly", "dpdTimeoutSeconds": 30,
  "ipsecPolicies": [{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
  "ipsecIntegrity": "GCMAES256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "PFS2048"}]}`)
	acc, err := azure.ConnectionAccepts(doc)
	if err != nil || !acc.Custom {
		t.Fatal(acc, err)
	}
	c := Config{Connection: &acc, Mode: acc.Mode}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	names := func(as []ike.Algorithm) (out []string) {
		for _, a := range as {
			out = append(out, a.Name)
		}
		return out
	}
	if len(p.IKEOffer) != 1 || len(p.ChildOffer) != 1 || len(p.IKEDH) != 1 || len(p.ChildPFS) != 1 || len(p.ChildPFSAnswer) != 0 {
		t.Fatalf("offers IKE %d Child %d, DH %v, PFS %v, PFS answered %v: want the one combination",
			len(p.IKEOffer), len(p.ChildOffer), names(p.IKEDH), names(p.ChildPFS), names(p.ChildPFSAnswer))
	}
	if p.ChildLifetime != time.Hour || p.IKELifetime != azure.IKELifetime || p.DPDInterval != 30*time.Second {
		t.Errorf("Child lifetime %v, IKE %v, DPD %v", p.ChildLifetime, p.IKELifetime, p.DPDInterval)
	}
	ic := ike.Config{Tunnels: []ike.TunnelConfig{{Name: "Tunnel0.0"}}}
	var tuning ike.CoreConfig
	if err := c.IKE(&ic, &tuning); err != nil {
		t.Fatal(err)
	}
	if tuning.DPDTimeout != 30*time.Second || ic.Tunnels[0].Direction != ike.ResponderOnly {
		t.Errorf("DPD timeout %v, direction %v", tuning.DPDTimeout, ic.Tunnels[0].Direction)
	}
}

func TestTimeScale(t *testing.T) {
	p, err := Config{TimeScale: 100}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.IKELifetime != 288*time.Second || p.ChildLifetime != 270*time.Second || p.DPDInterval != azure.DPDTimeout {
		t.Errorf("scaled by 100: IKE %v, Child %v, DPD %v", p.IKELifetime, p.ChildLifetime, p.DPDInterval)
	}
	if err := (Config{TimeScale: -1}).Check(); err == nil {
		t.Error("negative time scale accepted")
	}
}

func TestIKEMakesEveryTunnelAzure(t *testing.T) {
	ic := ike.Config{Tunnels: []ike.TunnelConfig{{Name: "Tunnel0.0", Direction: ike.ResponderOnly}}}
	var tuning ike.CoreConfig
	if err := (Config{}).IKE(&ic, &tuning); err != nil {
		t.Fatal(err)
	}
	tc := ic.Tunnels[0]
	if !tc.ConnectAuto || tc.Direction != ike.BothDirections || len(tc.Policy.IKEOffer) == 0 || tuning.DPDTimeout != azure.DPDTimeout {
		t.Errorf("tunnel %+v, DPD timeout %v", tc, tuning.DPDTimeout)
	}
	// Windows' IKE on the wire (rows "ms-ikev2", "initial-contact",
	// "ike-fragmentation"): a fragment's IPv4 packet, UDP header and
	// non-ESP marker included, is at most 576 bytes.
	if len(tuning.VendorIDs) != len(azure.VendorIDs) || !tuning.InitialContactVendorID || tuning.FragmentSize+20+8+4 != 576 {
		t.Errorf("vendor IDs %x, INITIAL_CONTACT by vendor ID %v, fragment size %d", tuning.VendorIDs, tuning.InitialContactVendorID, tuning.FragmentSize)
	}
}

// TestIKEConnectionMode: the connection's connectionMode decides which
// side may start the tunnel; ResponderOnly never connects on its own.
func TestIKEConnectionMode(t *testing.T) {
	for _, tc := range []struct {
		mode string
		dir  ike.Direction
		auto bool
	}{{"", ike.BothDirections, true}, {"Default", ike.BothDirections, true},
		{"InitiatorOnly", ike.InitiatorOnly, true}, {"ResponderOnly", ike.ResponderOnly, false}} {
		ic := ike.Config{Tunnels: []ike.TunnelConfig{{Name: "Tunnel0.0"}}}
		c := Config{Mode: tc.mode}
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
		if err := c.IKE(&ic, nil); err != nil {
			t.Fatal(err)
		}
		if got := ic.Tunnels[0]; got.Direction != tc.dir || got.ConnectAuto != tc.auto {
			t.Errorf("mode %q: direction %v, connect auto %v", tc.mode, got.Direction, got.ConnectAuto)
		}
	}
	if err := (Config{Mode: "responderonly"}).Check(); err == nil {
		t.Error("mode responderonly accepted (Azure spells it ResponderOnly)")
	}
}

func TestBGPRules(t *testing.T) {
	for _, c := range []struct {
		remote uint32
		want   string // "" accepted
	}{{65050, ""}, {65515, "row reserved-asn"}, {8075, "row reserved-asn"}, {65010, "row ebgp"}} {
		bc := bgp.Config{ASN: 65010, Neighbors: []bgp.Neighbor{{RemoteAS: c.remote}}}
		err := Config{}.BGP(&bc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("remote-as %d: %v", c.remote, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("remote-as %d: err %v, want %q", c.remote, err, c.want)
		case c.want == "":
			n := bc.Neighbors[0]
			if n.MaxPrefixes != uint32(azure.MaxPrefixes) || n.Hold != azure.BGPHold || n.Keepalive != azure.BGPKeepalive || !n.Passive {
				t.Errorf("neighbor %+v", n)
			}
		}
	}
}
