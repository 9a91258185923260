package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
	d, _ := testDaemon(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(d))
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
		"softix_bgp_session_state", "softix_bgp_prefixes"} {
		if !strings.Contains(got, want) {
			t.Errorf("metric %s missing from %s", want, got)
		}
	}
}
