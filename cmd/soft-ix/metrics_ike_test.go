package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/ike"
)

// ikeCounting is a snapshot with ike.Manager-style counters.
func ikeCounting() fakeSnapshot {
	snap := testSnapshot()
	snap.s.IKE = &router.IKEStats{IKE: ike.Stats{
		Sent:        ike.ExchangeCounts{IKESAInit: 2, IKEAuth: 1},
		Received:    ike.ExchangeCounts{Informational: 7},
		Retransmits: 3,
		Failures:    ike.FailureCounts{AuthFailed: 1, UnknownSPI: 4, ResendMismatch: 8, ResendLimited: 9},
		IKERekeys:   5, DPDProbes: 6, InvalidSPISent: 4,
	}}
	return snap
}

// TestMetricsIKECounters: ike.Manager.Stats reaches the endpoint as
// counters labelled by exchange and direction, and by failure reason.
func TestMetricsIKECounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(ikeCounting()))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"softix_ike_exchanges_total direction=sent exchange=IKE_SA_INIT":       2,
		"softix_ike_exchanges_total direction=sent exchange=IKE_AUTH":          1,
		"softix_ike_exchanges_total direction=received exchange=INFORMATIONAL": 7,
		"softix_ike_exchanges_total direction=received exchange=IKE_AUTH":      0,
		"softix_ike_failures_total reason=authentication_failed":               1,
		"softix_ike_failures_total reason=unknown_spi":                         4,
		"softix_ike_failures_total reason=timeout":                             0,
		"softix_ike_failures_total reason=resend_mismatch":                     8,
		"softix_ike_failures_total reason=resend_rate_limited":                 9,
		"softix_ike_retransmits_total":                                         3,
		"softix_ike_sa_rekeys_total":                                           5,
		"softix_ike_dpd_probes_total":                                          6,
		"softix_ike_invalid_spi_sent_total":                                    4,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
