package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// The table e2e.sh has always printed: medians over the rounds, the
// ratios to the targets, and one SUMMARY line for scripts and tests.

// median is the median of the figures ("n/a" if none): the middle one,
// or the mean of the two middle ones.
func median(vals []string) string {
	if len(vals) == 0 {
		return "n/a"
	}
	s := append([]string(nil), vals...)
	sort.SliceStable(s, func(i, j int) bool { return num(s[i]) < num(s[j]) })
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return formatNum((num(s[n/2-1]) + num(s[n/2])) / 2)
}

// num is a figure's value, 0 for one that is not a number (as sort -n
// and awk take it).
func num(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// formatNum prints a computed figure as awk's print does (%.6g).
func formatNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// ratio is a / b with two decimals, "n/a" when either is missing or b is 0.
func ratio(a, b string) string {
	if a == "n/a" || b == "n/a" || num(b) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", num(a)/num(b))
}

// rttVerdict says whether soft-ix's added RTTs over raw ESP, CBC and
// GCM, are at most wireguard-go's wg, and which is above if not. A suite
// the run did not measure ("n/a") is left out; "n/a" when neither was.
func rttVerdict(wg, cbc, gcm string) string {
	var above []string
	measured := 0
	for _, s := range []struct{ name, v string }{{"cbc", cbc}, {"gcm", gcm}} {
		if s.v == "n/a" {
			continue
		}
		measured++
		if num(s.v) > num(wg) {
			above = append(above, s.name+" "+s.v)
		}
	}
	switch {
	case measured == 0:
		return "n/a"
	case len(above) > 0:
		return "NOT MET (" + strings.Join(above, ", ") + " us)"
	}
	return "met"
}

// minus is a - b, "n/a" when either is missing.
func minus(a, b string) string {
	if a == "n/a" || b == "n/a" {
		return "n/a"
	}
	return formatNum(num(a) - num(b))
}

// perGbit is, per round, the cores (from a CPU %, 100 = one core) per
// Gbit/s moved in the same round; "n/a" rounds and rounds that moved
// nothing are left out.
func perGbit(cpu, mbps []string) []string {
	var out []string
	for i := range mbps {
		if i < len(cpu) && num(mbps[i]) > 0 && cpu[i] != "n/a" {
			out = append(out, fmt.Sprintf("%.4f", num(cpu[i])/100/(num(mbps[i])/1000)))
		}
	}
	return out
}

func printTable(w io.Writer, set settings, res map[string]*results, loadStart, loadEnd string) {
	mbps, rtt := map[string]string{}, map[string]string{}
	endGbit, hostGbit := map[string]string{}, map[string]string{}
	// get is a median, "n/a" for a contender not in the run.
	get := func(m map[string]string, c string) string {
		if v, ok := m[c]; ok {
			return v
		}
		return "n/a"
	}
	for _, c := range set.contenders {
		mbps[c] = median(res[c].mbps)
		rtt[c] = median(res[c].rtt)
		endGbit[c] = median(perGbit(res[c].cpu, res[c].mbps))
		hostGbit[c] = median(perGbit(res[c].host, res[c].mbps))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "End-to-end LAN host -> VNet host, iperf3 TCP %ds (+%ds warm-up), ping -c %d -i 0.01\n", set.secs, set.warmup, set.pings)
	fmt.Fprintf(w, "nproc %d; load average at start %s, at end %s; rounds %d\n", runtime.NumCPU(), loadStart, loadEnd, set.rounds)
	row := "%-16s %10s %-26s %9s %10s %9s %10s %9s %10s %8s\n"
	fmt.Fprintf(w, row, "contender", "Mbit/s", "(runs)", "RTT us", "added us", "CPU %", "CPU/Gbit", "host %", "host/Gbit", "retr")
	for _, c := range set.contenders {
		fmt.Fprintf(w, row, c, mbps[c], "("+strings.Join(res[c].mbps, " ")+")", rtt[c], minus(rtt[c], get(rtt, "plain")),
			median(res[c].cpu), endGbit[c], median(res[c].host), hostGbit[c], median(res[c].retr))
	}
	fmt.Fprintln(w, "(Mbit/s, RTT, CPU, retr: medians over rounds; CPU is both tunnel endpoints' processes, 100 = one core;")
	fmt.Fprintln(w, " CPU/Gbit: their cores per Gbit/s moved, median of the rounds; host: the same for the whole machine,")
	fmt.Fprintln(w, " every namespace's forwarding, TCP and iperf3 included;")
	fmt.Fprintln(w, " added us = RTT minus the no-tunnel RTT over the same hops)")
	rCBC := ratio(get(mbps, "softix-cbc"), get(mbps, "swan-cbc"))
	rGCM := ratio(get(mbps, "softix-gcm"), get(mbps, "wg"))
	addGCM := minus(get(rtt, "softix-gcm"), get(rtt, "plain"))
	addCBC := minus(get(rtt, "softix-cbc"), get(rtt, "plain"))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "soft-ix-cbc / strongswan-cbc = %s   (target >= 6)\n", rCBC)
	fmt.Fprintf(w, "soft-ix-gcm / wireguard-go   = %s   (target >= 1.0)\n", rGCM)
	fmt.Fprintf(w, "soft-ix added RTT median     = gcm %s us, cbc %s us   (target < 100)\n", addGCM, addCBC)
	// Where every contender saturates the machine's cores, the Mbit/s
	// ratio also carries how much CPU the rest of the path (iperf3, TCP,
	// the routers' forwarding) takes at each one's rate; the endpoints'
	// CPU per bit is what a machine with cores to spare would show.
	cpuCBC := ratio(get(endGbit, "swan-cbc"), get(endGbit, "softix-cbc"))
	cpuGCM := ratio(get(endGbit, "wg"), get(endGbit, "softix-gcm"))
	fmt.Fprintf(w, "endpoint CPU per bit, strongswan-cbc / soft-ix-cbc = %s, wireguard-go / soft-ix-gcm = %s\n", cpuCBC, cpuGCM)
	// The ratios of softix-KIND-cbc and -gcm (ESP in UDP 4500) to
	// strongSwan and wireguard-go, printed when they ran.
	udpRatio := map[string]string{}
	for _, k := range []struct{ kind, title string }{{"encap", "--force-udp-encap, no NAT"}, {"nat", "IX behind NAT"}} {
		cbc := ratio(get(mbps, "softix-"+k.kind+"-cbc"), get(mbps, "swan-cbc"))
		gcm := ratio(get(mbps, "softix-"+k.kind+"-gcm"), get(mbps, "wg"))
		udpRatio[k.kind+"-cbc"], udpRatio[k.kind+"-gcm"] = cbc, gcm
		if cbc == "n/a" && gcm == "n/a" {
			continue
		}
		fmt.Fprintf(w, "with ESP in UDP 4500 (%s), the others' wire format:\n", k.title)
		fmt.Fprintf(w, "soft-ix-%s-cbc / strongswan-cbc = %s   (target >= 5)\n", k.kind, cbc)
		fmt.Fprintf(w, "soft-ix-%s-gcm / wireguard-go   = %s   (target >= 1.0)\n", k.kind, gcm)
		fmt.Fprintf(w, "soft-ix-%s added RTT median     = gcm %s us, cbc %s us\n", k.kind,
			minus(get(rtt, "softix-"+k.kind+"-gcm"), get(rtt, "plain")), minus(get(rtt, "softix-"+k.kind+"-cbc"), get(rtt, "plain")))
	}
	// Raw ESP, the wire format a user gets by default, against the same
	// engine's ESP in UDP, and its added RTT against wireguard-go's.
	rawCBC := ratio(get(mbps, "softix-cbc"), get(mbps, "softix-encap-cbc"))
	rawGCM := ratio(get(mbps, "softix-gcm"), get(mbps, "softix-encap-gcm"))
	addWG := minus(get(rtt, "wg"), get(rtt, "plain"))
	if rawCBC != "n/a" || rawGCM != "n/a" {
		fmt.Fprintf(w, "raw ESP / ESP in UDP 4500    = cbc %s, gcm %s   (target >= 0.9)\n", rawCBC, rawGCM)
	}
	if addWG != "n/a" {
		fmt.Fprintf(w, "wireguard-go added RTT median = %s us   (soft-ix raw ESP, both suites: not above it): %s\n",
			addWG, rttVerdict(addWG, addCBC, addGCM))
	}
	// Raw ESP against the bare path carrying every packet alone
	// (plain-pp): how near the tunnel comes to what the machine's
	// per-packet path moves with no tunnel at all. Not a ceiling: one
	// flow's forwarding there runs in one CPU's softirq, while a tunnel
	// splits the path between its threads.
	ppCBC := ratio(get(mbps, "softix-cbc"), get(mbps, "plain-pp"))
	ppGCM := ratio(get(mbps, "softix-gcm"), get(mbps, "plain-pp"))
	if get(mbps, "plain-pp") != "n/a" {
		fmt.Fprintf(w, "soft-ix raw ESP / plain-pp   = cbc %s, gcm %s   (plain-pp: no tunnel, every packet alone)\n", ppCBC, ppGCM)
		printPathBudget(w, set, mbps, hostGbit)
	}
	rFiltGCM := ratio(get(mbps, "softix-filt-gcm"), get(mbps, "softix-gcm"))
	rFiltCBC := ratio(get(mbps, "softix-filt-cbc"), get(mbps, "softix-cbc"))
	if rFiltGCM != "n/a" || rFiltCBC != "n/a" {
		fmt.Fprintln(w, "with a branch's WAN filter and NAPT (nftables), against the same without:")
		fmt.Fprintf(w, "soft-ix-filt-gcm / soft-ix-gcm = %s   (target >= 0.9)\n", rFiltGCM)
		fmt.Fprintf(w, "soft-ix-filt-cbc / soft-ix-cbc = %s   (target >= 0.9)\n", rFiltCBC)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "SUMMARY rounds=%d nproc=%d load=%q softix-cbc=%s swan-cbc=%s ratio=%s softix-gcm=%s wg=%s ratio=%s plain=%s added-rtt-us=gcm:%s,cbc:%s"+
		" nat-cbc=%s nat-cbc-ratio=%s nat-gcm=%s nat-gcm-ratio=%s encap-cbc=%s encap-cbc-ratio=%s encap-gcm=%s encap-gcm-ratio=%s"+
		" filt-gcm=%s filt-gcm-ratio=%s filt-cbc=%s filt-cbc-ratio=%s cpu-per-bit-cbc-ratio=%s cpu-per-bit-gcm-ratio=%s"+
		" raw-over-encap=cbc:%s,gcm:%s wg-added-rtt-us=%s plain-pp=%s raw-over-pp=cbc:%s,gcm:%s\n",
		set.rounds, runtime.NumCPU(), loadStart, get(mbps, "softix-cbc"), get(mbps, "swan-cbc"), rCBC, get(mbps, "softix-gcm"), get(mbps, "wg"), rGCM,
		get(mbps, "plain"), addGCM, addCBC,
		get(mbps, "softix-nat-cbc"), udpRatio["nat-cbc"], get(mbps, "softix-nat-gcm"), udpRatio["nat-gcm"],
		get(mbps, "softix-encap-cbc"), udpRatio["encap-cbc"], get(mbps, "softix-encap-gcm"), udpRatio["encap-gcm"],
		get(mbps, "softix-filt-gcm"), rFiltGCM, get(mbps, "softix-filt-cbc"), rFiltCBC, cpuCBC, cpuGCM, rawCBC, rawGCM, addWG,
		get(mbps, "plain-pp"), ppCBC, ppGCM)
}

// printPathBudget prints what the whole machine spends per bit with the
// path carrying every packet alone and no tunnel (plain-pp), which every
// raw ESP packet pays and no tunnel program can avoid, and what each
// tunnel spends above it: the part of its cost that is its own. It also
// prints what plain-pp's cost alone would take at 6x strongSwan's rate,
// against the machine's cores.
func printPathBudget(w io.Writer, set settings, mbps, hostGbit map[string]string) {
	floor, ok := hostGbit["plain-pp"]
	if !ok || floor == "n/a" {
		return
	}
	above := func(c string) string {
		v, ok := hostGbit[c]
		if !ok || v == "n/a" {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", num(v)-num(floor))
	}
	fmt.Fprintf(w, "host cores per Gbit/s: plain-pp %s; above it: soft-ix raw cbc %s, gcm %s; strongswan-cbc %s, wireguard-go %s\n",
		floor, above("softix-cbc"), above("softix-gcm"), above("swan-cbc"), above("wg"))
	fmt.Fprintf(w, "own cost per bit, strongswan-cbc / soft-ix raw cbc = %s, wireguard-go / soft-ix raw gcm = %s\n",
		ratio(above("swan-cbc"), above("softix-cbc")), ratio(above("wg"), above("softix-gcm")))
	if swan, ok := mbps["swan-cbc"]; ok && num(swan) > 0 {
		target := 6 * num(swan)
		fmt.Fprintf(w, "at 6x strongswan-cbc (%.0f Mbit/s) plain-pp's cost alone would take %.2f of the %d cores\n",
			target, num(floor)*target/1000, runtime.NumCPU())
	}
}
