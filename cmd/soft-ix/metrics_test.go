package main

import (
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
)

func countMetrics(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 1000)
	c.Collect(ch)
	close(ch)
	n := 0
	for range ch {
		n++
	}
	return n
}

func TestMetricsRegistry(t *testing.T) {
	reg := newRegistry(testSnapshot())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	sort.Strings(names)
	got := strings.Join(names, " ")
	for _, want := range []string{"softix_ike_sa_established", "softix_child_sas", "softix_child_sa_packets_total",
		"softix_child_sa_bytes_total", "softix_child_sa_drops_total", "softix_bgp_session_established",
		"softix_bgp_session_state", "softix_bgp_prefixes",
		"go_goroutines", "process_open_fds", "process_resident_memory_bytes", "go_gc_heap_live_bytes"} {
		if !strings.Contains(got, want) {
			t.Errorf("metric %s missing from %s", want, got)
		}
	}
}

func TestMetricsDuringIKERekey(t *testing.T) {
	// An IKE SA and its rekeyed successor, both established.
	snap := testSnapshot()
	sa := show.IKESA{Interface: "Tunnel0.0", Serial: 1, Initiator: true, Peer: netip.MustParseAddrPort("198.51.100.6:500")}
	next := sa
	next.Serial = 2
	snap.s.IKESAs = []show.IKESA{sa, next}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(snap))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape during an IKE rekey: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "softix_ike_sa_established" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 2 {
				t.Errorf("softix_ike_sa_established = %v, want 2", v)
			}
		}
	}
}
