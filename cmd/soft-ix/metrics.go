package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// snapshotter is what the collector reads at scrape time
// (router.Router; fakes in tests).
type snapshotter interface {
	Snapshot() router.Snapshot
}

// collector turns a snapshot into Prometheus metrics on every scrape, so
// nothing on the packet path knows about Prometheus.
type collector struct {
	src snapshotter

	ikeSA, childSAs, saPackets, saBytes, saDrops, saLifetime             *prometheus.Desc
	rekeys, installs, exchanges, failures, espDrops                      *prometheus.Desc
	ikeRetransmits, ikeRekeys, dpdProbes, invalidSPI, cookies, peerMoves *prometheus.Desc
	pathMTUUpdates, pathMTUIgnored                                       *prometheus.Desc
	bgpState, bgpEstablished, bgpPrefixes, bgpUptime                     *prometheus.Desc
	ifUp, ifPackets, ifBytes, ifErrors, ifDrops                          *prometheus.Desc
}

func newCollector(src snapshotter) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("softix_"+name, help, labels, nil)
	}
	return &collector{
		src:            src,
		ikeSA:          d("ike_sa_established", "IKE SAs established, by tunnel and peer.", "tunnel", "peer", "direction"),
		childSAs:       d("child_sas", "Child SAs installed, by tunnel.", "tunnel"),
		saPackets:      d("child_sa_packets_total", "Packets through a Child SA.", "tunnel", "spi", "direction"),
		saBytes:        d("child_sa_bytes_total", "Octets through a Child SA.", "tunnel", "spi", "direction"),
		saDrops:        d("child_sa_drops_total", "Packets dropped on a Child SA, by reason.", "tunnel", "spi", "direction", "reason"),
		saLifetime:     d("child_sa_remaining_seconds", "Seconds until the Child SA expires.", "tunnel", "spi"),
		rekeys:         d("child_sa_rekeys_total", "Child SAs installed to replace a live one (rekeys)."),
		installs:       d("child_sa_installs_total", "Outbound Child SAs installed."),
		espDrops:       d("esp_drops_total", "Packets dropped outside any SA, by reason.", "reason"),
		exchanges:      d("ike_exchanges_total", "IKE requests sent (started by us) and received (started by peers), by exchange type.", "exchange", "direction"),
		failures:       d("ike_failures_total", "IKE failures and dropped messages, by reason.", "reason"),
		ikeRetransmits: d("ike_retransmits_total", "IKE requests retransmitted for want of an answer."),
		ikeRekeys:      d("ike_sa_rekeys_total", "IKE SAs replaced by a rekey, started by either side."),
		dpdProbes:      d("ike_dpd_probes_total", "IKE liveness checks (DPD) sent."),
		invalidSPI:     d("ike_invalid_spi_sent_total", "INVALID_IKE_SPI notifies sent for requests naming unknown IKE SAs."),
		cookies:        d("ike_cookies_sent_total", "IKE_SA_INIT requests answered with a COOKIE (too many half-open SAs)."),
		peerMoves:      d("ike_peer_nat_moves_total", "Peers behind a NAT followed to a new address or port after an authenticated packet from there."),
		pathMTUUpdates: d("esp_path_mtu_updates_total", "ICMP fragmentation needed / packet too big messages about our ESP that lowered a tunnel's path MTU."),
		pathMTUIgnored: d("esp_path_mtu_ignored_total", "ICMP fragmentation needed / packet too big messages about ESP that no outbound SA sent lately, or not below the configured MTU."),
		bgpState:       d("bgp_session_state", "BGP session state (1 for the current state).", "neighbor", "state"),
		bgpEstablished: d("bgp_session_established", "1 when the BGP session is established.", "neighbor"),
		bgpPrefixes:    d("bgp_prefixes", "Prefixes received from / advertised to a neighbor.", "neighbor", "direction"),
		bgpUptime:      d("bgp_session_state_seconds", "Seconds in the current session state.", "neighbor"),
		ifUp:           d("interface_up", "1 when the IX interface's Linux device is up.", "interface"),
		ifPackets:      d("interface_packets_total", "Packets through the interface.", "interface", "direction"),
		ifBytes:        d("interface_bytes_total", "Bytes through the interface.", "interface", "direction"),
		ifErrors:       d("interface_errors_total", "Errors on the interface.", "interface", "direction"),
		ifDrops:        d("interface_drops_total", "Drops on the interface.", "interface", "direction"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Snapshot()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	// While an IKE SA is rekeyed the old and the new one are both
	// established: count them, since one label set may appear only once
	// per scrape (a duplicate fails the whole scrape).
	type ikeKey struct{ tunnel, peer, dir string }
	ikeSAs := map[ikeKey]int{}
	for _, sa := range s.IKESAs {
		dir := "responder"
		if sa.Initiator {
			dir = "initiator"
		}
		ikeSAs[ikeKey{sa.Interface, sa.Peer.Addr().String(), dir}]++
	}
	for k, n := range ikeSAs {
		gauge(c.ikeSA, float64(n), k.tunnel, k.peer, k.dir)
	}
	perTunnel := map[string]int{}
	for _, sa := range s.ChildSAs {
		perTunnel[sa.Interface]++
		for _, side := range []struct {
			dir string
			spi uint32
			c   childsa.Counters
		}{{"out", sa.SPIOut, sa.Out}, {"in", sa.SPIIn, sa.In}} {
			spi := fmt.Sprintf("0x%08x", side.spi)
			counter(c.saPackets, side.c.Packets, sa.Interface, spi, side.dir)
			counter(c.saBytes, side.c.Octets, sa.Interface, spi, side.dir)
			for reason, v := range dropReasons(side.c, side.dir == "in") {
				counter(c.saDrops, v, sa.Interface, spi, side.dir, reason)
			}
		}
		gauge(c.saLifetime, sa.RemainLifetime.Seconds(), sa.Interface, fmt.Sprintf("0x%08x", sa.SPIIn))
	}
	for t, n := range perTunnel {
		gauge(c.childSAs, float64(n), t)
	}
	if st := s.IKE; st != nil {
		counter(c.rekeys, st.Rekeys)
		counter(c.installs, st.ChildSAsInstalled)
		for k, v := range st.DataPlaneDrops {
			counter(c.espDrops, v, k)
		}
		for k, v := range st.IKE.Sent.ByName() {
			counter(c.exchanges, v, k, "sent")
		}
		for k, v := range st.IKE.Received.ByName() {
			counter(c.exchanges, v, k, "received")
		}
		for k, v := range st.IKE.Failures.ByReason() {
			counter(c.failures, v, k)
		}
		counter(c.ikeRetransmits, st.IKE.Retransmits)
		counter(c.ikeRekeys, st.IKE.IKERekeys)
		counter(c.dpdProbes, st.IKE.DPDProbes)
		counter(c.invalidSPI, st.IKE.InvalidSPISent)
		counter(c.cookies, st.IKE.CookiesSent)
		counter(c.peerMoves, st.IKE.PeerMoves)
		counter(c.pathMTUUpdates, st.PathMTUUpdates)
		counter(c.pathMTUIgnored, st.PathMTUIgnored)
	}
	if b := s.BGP; b != nil {
		for _, n := range b.Neighbors {
			a := n.Addr.String()
			est := 0.0
			if n.State == "ESTABLISHED" {
				est = 1
			}
			gauge(c.bgpEstablished, est, a)
			gauge(c.bgpState, 1, a, n.State)
			gauge(c.bgpUptime, n.UpDown.Seconds(), a)
			gauge(c.bgpPrefixes, float64(n.Accepted), a, "received")
			gauge(c.bgpPrefixes, float64(n.Advertised), a, "advertised")
		}
	}
	for _, i := range s.Interfaces {
		if i.Linux == "" {
			continue
		}
		up := 0.0
		if i.Up {
			up = 1
		}
		gauge(c.ifUp, up, i.Name)
		if i.HasCounters {
			counter(c.ifPackets, i.RxPackets, i.Name, "in")
			counter(c.ifPackets, i.TxPackets, i.Name, "out")
			counter(c.ifBytes, i.RxBytes, i.Name, "in")
			counter(c.ifBytes, i.TxBytes, i.Name, "out")
			counter(c.ifErrors, i.RxErrors, i.Name, "in")
			counter(c.ifErrors, i.TxErrors, i.Name, "out")
			counter(c.ifDrops, i.RxDropped, i.Name, "in")
			counter(c.ifDrops, i.TxDropped, i.Name, "out")
		}
	}
}

// dropReasons names the per-SA error counters as the IX statistics do.
func dropReasons(c childsa.Counters, inbound bool) map[string]uint64 {
	m := map[string]uint64{
		"cipher_failure":  c.CipherFailure,
		"out_of_memory":   c.OutOfMemory,
		"ts_unacceptable": c.TSUnacceptable,
		"misc_error":      c.MiscError,
	}
	if inbound {
		m["invalid_sa"] = c.InvalidSA
		m["replay_detected"] = c.ReplayDetected
		m["integrity_failure"] = c.IntegrityFailure
		m["packet_truncated"] = c.PacketTruncated
		m["invalid_padding"] = c.InvalidPadding
		m["unknown_protocol"] = c.UnknownProtocol
	}
	return m
}

// metricsAddr applies the loopback default: ":9477" and "9477" listen on
// 127.0.0.1; an explicit host (0.0.0.0, an address) is used as given.
func metricsAddr(s string) (string, error) {
	if _, err := fmt.Sscanf(s, "%d", new(int)); err == nil && !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("--metrics %q: want HOST:PORT or :PORT", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// newRegistry holds soft-ix's collector plus the Go runtime's and the
// process's own figures (go_goroutines, process_open_fds,
// process_resident_memory_bytes): what shows a leak over a soak or a
// series of reloads.
func newRegistry(src snapshotter) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// go_gc_heap_live_bytes (the heap the last collection kept) tells a
	// leak from the collector's pacing: RSS grows towards about twice the
	// live heap between collections whether or not anything leaks.
	heapLive := collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}
	reg.MustRegister(newCollector(src), collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(heapLive)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveMetrics starts the Prometheus endpoint at addr (/metrics) and
// returns a function that stops it.
func serveMetrics(addr string, src snapshotter, log *slog.Logger) (func(), error) {
	addr, err := metricsAddr(addr)
	if err != nil {
		return nil, err
	}
	reg := newRegistry(src)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint", "err", err)
		}
	}()
	log.Info("metrics endpoint", "addr", "http://"+addr+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
