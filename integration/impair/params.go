// Package impair is the lab's impairment element: a userspace forwarder
// that stands where the internet router's forwarding was and loses,
// delays, jitters, reorders, duplicates, corrupts, rate-limits or
// blackholes the packets it passes on. The lab kernel has no netem, so
// this is how tests get a bad internet.
//
// It works on TUN devices: the router's kernel is told (policy routing) to
// send every packet arriving from a link into a TUN device instead of
// forwarding it; the forwarder reads it there, decides its fate, and
// writes it back into the same TUN device at its send time, from where the
// kernel forwards it as usual (ARP, TTL and the routing table stay the
// kernel's job). One TUN device is one direction, with its own queue and
// random stream. integration/cmd/impair is the program, nslab's
// Scenario.Impair puts it on the seed topology's path.
//
// The decisions (Link.Push and Link.Pop) are plain code over a seeded
// random source and a caller's clock, so they are unit-tested without root.
package impair

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Params is what the impairment does to every packet. The zero value
// passes everything on at once. Percentages are 0 to 100.
type Params struct {
	Loss      float64       // % of packets dropped at random
	Delay     time.Duration // added to every packet
	Jitter    time.Duration // delay varies uniformly within ±Jitter; order is kept
	Reorder   float64       // % of packets sent out of order (see Link.Push)
	Duplicate float64       // % of packets sent twice
	Corrupt   float64       // % of packets with one bit flipped after the IP header
	Rate      int64         // bits per second leaving the link; 0 means unlimited
	Blackhole bool          // drop everything
}

// String prints p in the form Parse reads, every field.
func (p Params) String() string {
	return fmt.Sprintf("loss=%g%% delay=%v jitter=%v reorder=%g%% duplicate=%g%% corrupt=%g%% rate=%s blackhole=%s",
		p.Loss, p.Delay, p.Jitter, p.Reorder, p.Duplicate, p.Corrupt, formatRate(p.Rate), onOff(p.Blackhole))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func formatRate(bps int64) string {
	switch {
	case bps == 0:
		return "0"
	case bps%1_000_000 == 0:
		return fmt.Sprintf("%dmbit", bps/1_000_000)
	case bps%1_000 == 0:
		return fmt.Sprintf("%dkbit", bps/1_000)
	}
	return fmt.Sprintf("%dbit", bps)
}

// Apply returns p changed by settings of the form key=value:
//
//	loss=1%  delay=30ms  jitter=10ms  reorder=1%  duplicate=0.5% (or dup=)
//	corrupt=0.1%  rate=10mbit (bit, kbit, mbit, gbit; 0 = unlimited)
//	blackhole=on|off
//
// and the single word "clear", which resets everything before it. The
// '%' is optional. Keys not named keep their value in p; on an error p is
// returned unchanged with the offending setting named.
func (p Params) Apply(settings ...string) (Params, error) {
	q := p
	for _, s := range settings {
		if s == "clear" {
			q = Params{}
			continue
		}
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return p, fmt.Errorf("impair: %q: want key=value", s)
		}
		var err error
		switch key {
		case "loss":
			q.Loss, err = parsePercent(val)
		case "delay":
			q.Delay, err = parseDuration(val)
		case "jitter":
			q.Jitter, err = parseDuration(val)
		case "reorder":
			q.Reorder, err = parsePercent(val)
		case "duplicate", "dup":
			q.Duplicate, err = parsePercent(val)
		case "corrupt":
			q.Corrupt, err = parsePercent(val)
		case "rate":
			q.Rate, err = parseRate(val)
		case "blackhole":
			switch val {
			case "on", "true", "1":
				q.Blackhole = true
			case "off", "false", "0":
				q.Blackhole = false
			default:
				err = fmt.Errorf("want on or off")
			}
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return p, fmt.Errorf("impair: %q: %v", s, err)
		}
	}
	return q, nil
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("want a percentage from 0 to 100")
	}
	return v, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Minute {
		return 0, fmt.Errorf("want a duration from 0 to 1m")
	}
	return d, nil
}

func parseRate(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > 100e9/mult {
		return 0, fmt.Errorf("want a rate such as 10mbit (bit, kbit, mbit, gbit)")
	}
	return v * mult, nil
}
