// Command ikeload measures how many full IKEv2 setups per second a
// responder completes: IKE_SA_INIT + IKE_AUTH (PSK) + the first Child SA,
// each a new IKE SA. It runs one soft-ix ike.Manager per local address
// (-local, comma separated; each binds ADDR:500 and ADDR:4500) and keeps
// -concurrency setups in flight per address until -count setups finished
// or -time passed. A setup counts when its Child SA is installed.
//
//	ikeload -peer 192.0.2.2 -psk secret -local 192.0.2.10,192.0.2.11 -dh 2048-bit -count 2000
//
// It prints one JSON line: setups, failures, seconds, setups_per_sec.
// The established SAs are left in place (the responder keeps them); the
// process deletes them on exit. -hold keeps them up that long after the
// line is printed, so a hub benchmark can measure the responder while it
// holds them (integration/bench/hub).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/childsa"
	"github.com/soft-ix/soft-ix/internal/ixike"
)

// countingDP counts installed inbound SAs per tunnel and keeps nothing.
type countingDP struct {
	done func(tunnel string)
}

func (d *countingDP) InstallSA(sa childsa.SA) error {
	if sa.Inbound {
		d.done(sa.Tunnel)
	}
	return nil
}
func (d *countingDP) SetOutbound(string, uint32) error { return nil }
func (d *countingDP) DeleteSA(uint32, bool) error      { return nil }
func (d *countingDP) Counters(uint32, bool) (childsa.Counters, bool) {
	return childsa.Counters{}, false
}

// Result is the JSON line ikeload prints.
type Result struct {
	Setups       int64   `json:"setups"`
	Failures     int64   `json:"failures"`
	Seconds      float64 `json:"seconds"`
	SetupsPerSec float64 `json:"setups_per_sec"`
	DH           string  `json:"dh"`
}

func main() {
	var (
		peer        = flag.String("peer", "", "responder address")
		psk         = flag.String("psk", "", "pre-shared key (keyed by the responder's address ID)")
		locals      = flag.String("local", "", "local addresses, comma separated (one Manager each)")
		enc         = flag.String("enc", "aes-cbc-256", "IKE enc")
		integ       = flag.String("integ", "sha1", "IKE integrity")
		dh          = flag.String("dh", "1024-bit", "IKE DH group (IX name: 1024-bit, 2048-bit, ...)")
		cenc        = flag.String("child-enc", "aes-cbc-256", "child enc")
		cinteg      = flag.String("child-integ", "sha2-256", "child integrity")
		count       = flag.Int("count", 1000, "setups to complete (bounded)")
		maxTime     = flag.Duration("time", 30*time.Second, "stop after this long (bounded)")
		concurrency = flag.Int("concurrency", 16, "setups in flight per local address")
		timeout     = flag.Duration("setup-timeout", 10*time.Second, "a setup not done by then counts as failed")
		hold        = flag.Duration("hold", 0, "keep the SAs up this long after printing the result (bounded by 10m)")
	)
	flag.Parse()
	if *peer == "" || *locals == "" || *count <= 0 || *count > 1000000 || *hold < 0 || *hold > 10*time.Minute {
		fmt.Fprintln(os.Stderr, "ikeload: -peer, -local and 0 < -count <= 1000000 are required, -hold at most 10m")
		os.Exit(2)
	}
	peerAddr := netip.MustParseAddr(*peer)
	var addrs []netip.Addr
	for _, s := range strings.Split(*locals, ",") {
		addrs = append(addrs, netip.MustParseAddr(strings.TrimSpace(s)))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("IKELOAD_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), *maxTime)
	defer cancel()

	var setups, failures, started atomic.Int64
	total := int64(*count)
	perWorker := (*count + len(addrs) - 1) / len(addrs)
	start := time.Now()
	// setupsDone counts workers whose setups are finished; each then keeps
	// its Manager (and SAs) until release is closed.
	var wg, setupsDone sync.WaitGroup
	release := make(chan struct{})
	for _, local := range addrs {
		wg.Add(1)
		setupsDone.Add(1)
		go func() {
			defer wg.Done()
			runWorker(ctx, log, workerConfig{
				local: local, peer: peerAddr, psk: *psk, n: perWorker, concurrency: *concurrency, timeout: *timeout,
				profile: &config.Profile{
					Enc: []config.EncAlg{config.EncAlg(*enc)}, Integrity: []config.IntegAlg{config.IntegAlg(*integ)},
					DH: []config.DHGroup{config.DHGroup(*dh)}, ChildEnc: []config.EncAlg{config.EncAlg(*cenc)},
					ChildIntegrity: []config.IntegAlg{config.IntegAlg(*cinteg)}, Lifetime: 8 * time.Hour, ChildLifetime: 8 * time.Hour,
				},
			}, &setups, &failures, &started, total, func() { setupsDone.Done(); <-release })
		}()
	}
	setupsDone.Wait()
	el := time.Since(start).Seconds()
	res := Result{Setups: setups.Load(), Failures: failures.Load(), Seconds: el, DH: *dh}
	if el > 0 {
		res.SetupsPerSec = float64(res.Setups) / el
	}
	json.NewEncoder(os.Stdout).Encode(res)
	time.Sleep(*hold)
	close(release)
	wg.Wait()
}

type workerConfig struct {
	local, peer netip.Addr
	psk         string
	n           int
	concurrency int
	timeout     time.Duration
	profile     *config.Profile
}

// runWorker runs one Manager and keeps wc.concurrency setups in flight.
// When they are done it calls finished, which returns when the Manager may
// stop (and delete its SAs).
func runWorker(ctx context.Context, log *slog.Logger, wc workerConfig, setups, failures, started *atomic.Int64, total int64, finished func()) {
	cfg := &config.Config{
		PSKs:           []*config.PSK{{ID: config.Identity{Type: config.IDIPv4, Value: wc.peer.String()}, Key: []byte(wc.psk)}},
		DefaultProfile: wc.profile,
	}
	for i := 0; i < wc.n; i++ {
		cfg.Interfaces = append(cfg.Interfaces, &config.Interface{Name: fmt.Sprintf("Tunnel%d.0", i), Kind: config.KindTunnel,
			Tunnel: &config.Tunnel{Mode: "ipsec-ikev2", Peer: wc.peer, SourceAddress: wc.local}})
	}
	var mu sync.Mutex
	pending := map[string]time.Time{}
	// Room for every setup: InstallSA runs under the Manager's lock and
	// must never block on this loop, which calls Manager.Initiate.
	doneC := make(chan struct{}, wc.n)
	dp := &countingDP{done: func(tun string) {
		mu.Lock()
		_, ok := pending[tun]
		delete(pending, tun)
		mu.Unlock()
		if ok {
			setups.Add(1)
			doneC <- struct{}{}
		}
	}}
	ic, err := ixike.Config(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ikeload:", err)
		os.Exit(1)
	}
	m, err := ike.NewManager(ike.ManagerConfig{Config: ic, DataPlane: dp, Logger: log, ListenAddr: wc.local,
		Tuning: ike.CoreConfig{RetransmitBase: 2 * time.Second, RetransmitTries: 2, DPDDisabled: true, NoInitialContact: true,
			// The generator reuses its DH keys (RFC 7296 §2.12) so that it costs
			// less than the responder it measures.
			DHReuse: time.Minute}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ikeload:", err)
		os.Exit(1)
	}
	mctx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { m.Run(mctx); close(runDone) }()
	defer func() { stop(); <-runDone }()
	defer finished()

	next := 0
	launch := func() bool {
		if next >= wc.n || started.Add(1) > total {
			return false
		}
		name := fmt.Sprintf("Tunnel%d.0", next)
		next++
		mu.Lock()
		pending[name] = time.Now()
		mu.Unlock()
		m.Initiate(name)
		return true
	}
	inFlight := 0
	for inFlight < wc.concurrency && launch() {
		inFlight++
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for inFlight > 0 {
		select {
		case <-ctx.Done():
			mu.Lock()
			failures.Add(int64(len(pending)))
			mu.Unlock()
			return
		case <-doneC:
			inFlight--
			if launch() {
				inFlight++
			}
		case <-tick.C:
			now := time.Now()
			mu.Lock()
			var expired []string
			for n, t0 := range pending {
				if now.Sub(t0) > wc.timeout {
					expired = append(expired, n)
				}
			}
			for _, n := range expired {
				delete(pending, n)
			}
			mu.Unlock()
			for range expired {
				failures.Add(1)
				inFlight--
				if launch() {
					inFlight++
				}
			}
		}
	}
}
