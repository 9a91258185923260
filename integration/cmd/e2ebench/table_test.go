package main

import (
	"strings"
	"testing"
)

// TestRTTVerdict: the added-RTT bar holds only when every raw ESP suite
// the run measured is at most wireguard-go's, and the verdict names the
// one above.
func TestRTTVerdict(t *testing.T) {
	for _, tc := range []struct{ wg, cbc, gcm, want string }{
		{"495", "418", "420", "met"},
		{"461", "434", "461", "met"},
		{"461", "434", "483", "NOT MET (gcm 483 us)"},
		{"438", "463", "439", "NOT MET (cbc 463, gcm 439 us)"},
		{"438", "n/a", "400", "met"},
		{"438", "n/a", "500", "NOT MET (gcm 500 us)"},
		{"438", "n/a", "n/a", "n/a"},
	} {
		if got := rttVerdict(tc.wg, tc.cbc, tc.gcm); got != tc.want {
			t.Errorf("wg %s, cbc %s, gcm %s: %q, want %q", tc.wg, tc.cbc, tc.gcm, got, tc.want)
		}
	}
}

// TestPerPacketPath: with plain-pp in the run the table prints raw ESP's
// share of it; without it, no such line.
func TestPerPacketPath(t *testing.T) {
	res := map[string]*results{
		"plain-pp":   {mbps: []string{"2943", "2900", "3000"}},
		"swan-cbc":   {mbps: []string{"421", "456", "416"}},
		"softix-cbc": {mbps: []string{"1541", "1504", "1666"}},
		"softix-gcm": {mbps: []string{"1650", "1485", "1718"}},
	}
	set := settings{rounds: 3, secs: 5, pings: 200, contenders: []string{"plain-pp", "swan-cbc", "softix-cbc", "softix-gcm"}}
	var out strings.Builder
	printTable(&out, set, res, "0", "0")
	for _, want := range []string{
		"soft-ix raw ESP / plain-pp   = cbc 0.52, gcm 0.56",
		"plain-pp=2943 raw-over-pp=cbc:0.52,gcm:0.56",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	set.contenders = set.contenders[1:]
	delete(res, "plain-pp")
	out.Reset()
	printTable(&out, set, res, "0", "0")
	if strings.Contains(out.String(), "/ plain-pp") {
		t.Errorf("table without plain-pp prints a ratio to it:\n%s", out.String())
	}
}

// TestPathBudget: with plain-pp and host CPU in the run, the table
// prints each tunnel's host cores per Gbit/s above the bare per-packet
// path, their ratio, and what the bare path alone would take at 6x
// strongSwan's rate.
func TestPathBudget(t *testing.T) {
	res := map[string]*results{
		"plain-pp":   {mbps: []string{"3000", "3000", "3000"}, host: []string{"150", "150", "150"}},
		"swan-cbc":   {mbps: []string{"500", "500", "500"}, host: []string{"175", "175", "175"}},
		"softix-cbc": {mbps: []string{"1600", "1600", "1600"}, host: []string{"200", "200", "200"}},
	}
	set := settings{rounds: 3, secs: 5, pings: 200, contenders: []string{"plain-pp", "swan-cbc", "softix-cbc"}}
	var out strings.Builder
	printTable(&out, set, res, "0", "0")
	for _, want := range []string{
		"host cores per Gbit/s: plain-pp 0.5000; above it: soft-ix raw cbc 0.750, gcm n/a; strongswan-cbc 3.000, wireguard-go n/a",
		"own cost per bit, strongswan-cbc / soft-ix raw cbc = 4.00",
		"at 6x strongswan-cbc (3000 Mbit/s) plain-pp's cost alone would take 1.50 of the",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
