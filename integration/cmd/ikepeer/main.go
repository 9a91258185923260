// Command ikepeer runs one soft-ix IKE Manager with a recording fake data
// plane, for interop tests against strongSwan and another soft-ix. It
// builds the IX config from flags (no parser needed) and writes the SA
// state as JSON to -state every few hundred milliseconds.
//
//	ikepeer -peer 198.51.100.6 -psk secret -auto -state /tmp/s.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/childsa"
	"github.com/soft-ix/soft-ix/internal/ixike"
)

// recDP is a data plane that only remembers SAs (no packets flow).
type recDP struct {
	mu       sync.Mutex
	sas      map[string]childsa.SA
	outbound map[string]uint32
	installs int
	deletes  int
}

func key(spi uint32, in bool) string { return fmt.Sprintf("%08x/%v", spi, in) }

func (d *recDP) InstallSA(sa childsa.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sas[key(sa.SPI, sa.Inbound)] = sa
	d.installs++
	return nil
}

func (d *recDP) SetOutbound(tunnel string, spi uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outbound[tunnel] = spi
	return nil
}

func (d *recDP) DeleteSA(spi uint32, inbound bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sas, key(spi, inbound))
	d.deletes++
	return nil
}

func (d *recDP) Counters(spi uint32, inbound bool) (childsa.Counters, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sas[key(spi, inbound)]
	return childsa.Counters{}, ok
}

// State is what -state holds.
type State struct {
	IKE      []ike.IKESAInfo   `json:"ike"`
	Child    []ike.ChildSAInfo `json:"child"`
	DP       []dpSA            `json:"dp"`
	Outbound map[string]uint32 `json:"outbound"`
	Installs int               `json:"installs"`
	Deletes  int               `json:"deletes"`
	Stats    ike.Stats         `json:"stats"`
}

type dpSA struct {
	SPI      uint32          `json:"spi"`
	Inbound  bool            `json:"inbound"`
	UDPEncap bool            `json:"udp_encap"`
	Local    string          `json:"local"`
	Remote   string          `json:"remote"`
	EncrID   childsa.EncrID  `json:"encr_id"`
	KeyBits  int             `json:"key_bits"`
	IntegID  childsa.IntegID `json:"integ_id"`
}

func list[T ~string](s string) []T {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, T(f))
		}
	}
	return out
}

func parseID(s string) config.Identity {
	if s == "" {
		return config.Identity{}
	}
	typ, val, ok := strings.Cut(s, ":")
	if !ok {
		return config.Identity{Type: config.IDIPv4, Value: s}
	}
	return config.Identity{Type: config.IDType(typ), Value: val}
}

func main() {
	var (
		local      = flag.String("local", "", "local address (ikev2 source-address)")
		peer       = flag.String("peer", "", "peer address, or \"any\"")
		peerID     = flag.String("peer-id", "", "peer identity TYPE:VALUE (ipv4:, fqdn:, keyid:); default the peer address")
		pskID      = flag.String("psk-id", "", "identities the PSK is keyed by (TYPE:VALUE, comma separated); default peer-id")
		cookies    = flag.Int("cookie-threshold", 0, "half-open SAs before cookies are demanded (0: default)")
		psk        = flag.String("psk", "", "pre-shared key")
		auto       = flag.Bool("auto", false, "ikev2 connect-type auto")
		direction  = flag.String("direction", "", "ikev2 negotiation-direction: initiator, responder (default both)")
		enc        = flag.String("enc", "aes-cbc-256", "sa-proposal enc list")
		integ      = flag.String("integ", "sha1", "sa-proposal integrity list")
		prf        = flag.String("prf", "", "sa-proposal prf list (default follows integrity)")
		dh         = flag.String("dh", "1024-bit", "sa-proposal dh list")
		cenc       = flag.String("child-enc", "aes-cbc-256", "child-proposal enc list")
		cinteg     = flag.String("child-integ", "sha2-256", "child-proposal integrity list")
		pfs        = flag.String("pfs", "", "child-pfs group")
		lifetime   = flag.Duration("lifetime", 8*time.Hour, "sa-lifetime")
		clifetime  = flag.Duration("child-lifetime", time.Hour, "child-lifetime")
		dpd        = flag.Duration("dpd", 0, "dpd interval")
		retransmit = flag.Duration("retransmit", time.Second, "first retransmission timeout")
		retry      = flag.Duration("retry", 2*time.Second, "re-initiation backoff start")
		statePath  = flag.String("state", "", "write SA state JSON here")
		keylog     = flag.String("keylog", "", "write Wireshark key lines here")
		verbose    = flag.Bool("v", false, "debug logging")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile here")
		dhReuse    = flag.Duration("dh-reuse-under-load", 0, "reuse DH keys this long while the key pool is empty (0: never)")
		fragSize   = flag.Int("frag-size", 0, "largest IKE datagram before RFC 7383 fragmentation (0: default 1280)")
		azure      = flag.Bool("azure", false, "use Azure's default policy (ike.AzurePolicy) instead of the proposal flags")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	tun := &config.Tunnel{Mode: "ipsec-ikev2", ConnectAuto: *auto, PeerID: parseID(*peerID), NegotiationDirection: *direction}
	if *peer == "any" {
		tun.PeerAny = true
	} else {
		tun.Peer = netip.MustParseAddr(*peer)
		if tun.PeerID.Type == "" {
			tun.PeerID = config.Identity{Type: config.IDIPv4, Value: *peer}
		}
	}
	if *local != "" {
		tun.SourceAddress = netip.MustParseAddr(*local)
	}
	var psks []*config.PSK
	for _, id := range strings.Split(*pskID, ",") {
		if pid := parseID(strings.TrimSpace(id)); pid.Type != "" {
			psks = append(psks, &config.PSK{ID: pid, Key: []byte(*psk)})
		}
	}
	if len(psks) == 0 {
		psks = []*config.PSK{{ID: tun.PeerID, Key: []byte(*psk)}}
	}
	cfg := &config.Config{
		PSKs: psks,
		DefaultProfile: &config.Profile{
			Enc: list[config.EncAlg](*enc), Integrity: list[config.IntegAlg](*integ), PRF: list[config.PRFAlg](*prf),
			DH: list[config.DHGroup](*dh), ChildEnc: list[config.EncAlg](*cenc), ChildIntegrity: list[config.IntegAlg](*cinteg),
			ChildPFS: config.DHGroup(*pfs), Lifetime: *lifetime, ChildLifetime: *clifetime, DPDInterval: *dpd,
		},
		Interfaces: []*config.Interface{{Name: "Tunnel0.0", Kind: config.KindTunnel, Tunnel: tun}},
	}
	dp := &recDP{sas: map[string]childsa.SA{}, outbound: map[string]uint32{}}
	ic, err := ixike.Config(cfg)
	if err != nil {
		log.Error("ikepeer", "err", err)
		os.Exit(1)
	}
	mc := ike.ManagerConfig{Config: ic, DataPlane: dp, Logger: log,
		Tuning: ike.CoreConfig{RetransmitBase: *retransmit, RetryBase: *retry, DeleteGrace: 500 * time.Millisecond,
			CookieThreshold: *cookies, DHReuseUnderLoad: *dhReuse, FragmentSize: *fragSize}}
	if *local != "" {
		mc.ListenAddr = netip.MustParseAddr(*local)
	}
	if *azure {
		mc.Tuning.Policies = map[string]ike.Policy{"Tunnel0.0": ike.AzurePolicy()}
	}
	if *keylog != "" {
		f, err := os.Create(*keylog)
		if err != nil {
			log.Error("keylog", "err", err)
			os.Exit(1)
		}
		defer f.Close()
		mc.KeyLog = f
	}
	m, err := ike.NewManager(mc)
	if err != nil {
		log.Error("ikepeer", "err", err)
		os.Exit(1)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *statePath != "" {
		go func() {
			for ctx.Err() == nil {
				writeState(*statePath, m, dp)
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	if err := m.Run(ctx); err != nil {
		log.Error("ikepeer", "err", err)
		os.Exit(1)
	}
}

func writeState(path string, m *ike.Manager, dp *recDP) {
	st := State{IKE: m.IKESAs(), Child: m.ChildSAs(), Stats: m.Stats()}
	dp.mu.Lock()
	for _, sa := range dp.sas {
		st.DP = append(st.DP, dpSA{SPI: sa.SPI, Inbound: sa.Inbound, UDPEncap: sa.UDPEncap, Local: sa.Local.String(),
			Remote: sa.Remote.String(), EncrID: sa.EncrID, KeyBits: sa.EncrKeyBits, IntegID: sa.IntegID})
	}
	st.Outbound = map[string]uint32{}
	for k, v := range dp.outbound {
		st.Outbound[k] = v
	}
	st.Installs, st.Deletes = dp.installs, dp.deletes
	dp.mu.Unlock()
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, path)
	}
}
