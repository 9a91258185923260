// Package cli parses IX-style command lines ("sh ip bg su") into commands:
// every keyword may be abbreviated to any unambiguous prefix, as on an IX.
// It also offers completion candidates for the interactive session.
package cli

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/soft-ix/soft-ix/config"
)

// ID names a complete command the daemon knows how to run.
type ID int

// The commands of the grammar.
const (
	None ID = iota
	ShowIKESA
	ShowChildSA
	ShowIPRoute
	ShowBGPSummary
	ShowBGPRoutes     // show ip bgp neighbors A routes
	ShowBGPAdvertised // show ip bgp neighbors A advertised-routes
	ShowRunningConfig
	ShowInterfaces
	ShowIPAccessList // show ip access-list
	ShowIPFilter     // show ip filter
	ShowNAPT         // show ip napt translation
	Ping
	ClearIKESA
	Reload
	Exit // interactive only: exit, quit
	Help // interactive only: help, ?
	// ShowBGP is "show ip bgp": the whole BGP table. Added last so the
	// other IDs keep their values.
	ShowBGP
	// Configure is interactive only: the "configure" mode, where lines
	// are checked against the configuration grammar (see config.go).
	Configure
	ShowDHCPLease // show ip dhcp lease
	ClearBGP      // clear ip bgp {* | A.B.C.D} [soft [in | out]]
	// ShowBGPNeighbors is "show ip bgp neighbors [A.B.C.D]": each
	// neighbor's session in detail.
	ShowBGPNeighbors
	Traceroute  // traceroute A.B.C.D [source A.B.C.D]
	ShowVersion // show version
	ClearNAPT   // clear ip napt translation
)

// Command is a parsed command line.
type Command struct {
	ID ID
	// Words is the line in canonical form: keywords spelled out, arguments
	// as given. The daemon receives these words.
	Words []string
	// Args holds the arguments by name: "neighbor", "peer", "dest",
	// "source", "count", "size".
	Args map[string]string
}

// Addr returns the named address argument, or the zero Addr when absent.
func (c *Command) Addr(name string) netip.Addr {
	a, _ := netip.ParseAddr(c.Args[name])
	return a
}

// Int returns the named number argument, or def when absent.
func (c *Command) Int(name string, def int) int {
	v, ok := c.Args[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}

type argKind int

const (
	kwArg argKind = iota // a keyword, matched by prefix
	addrArg
	numArg
	valueArg // a configuration command's argument (see config.go)
)

// node is one word of the grammar. Keywords match by prefix; arguments
// (addrArg, numArg) match a value and store it under name.
type node struct {
	word     string
	kind     argKind
	name     string // argument name for addrArg/numArg
	min, max int    // range for numArg
	ipv6     bool   // an addrArg that takes IPv6 addresses too
	help     string
	id       ID // non-zero when a command may end after this word
	next     []*node
	arg      config.Arg // for valueArg
}

func kw(word, help string, id ID, next ...*node) *node {
	return &node{word: word, kind: kwArg, help: help, id: id, next: next}
}

var root = buildGrammar()

func buildGrammar() []*node {
	// ping A [source B] [count N] [size N], options in any order.
	var pingOpts []*node
	src := &node{kind: addrArg, name: "source", word: "A.B.C.D", help: "source address", id: Ping}
	cnt := &node{kind: numArg, name: "count", word: "<1-65535>", min: 1, max: 65535, help: "number of echo requests", id: Ping}
	size := &node{kind: numArg, name: "size", word: "<0-65507>", min: 0, max: 65507, help: "ICMP data bytes", id: Ping}
	pingOpts = []*node{
		kw("source", "source address of the echo requests", None, src),
		kw("count", "number of echo requests (default 5)", None, cnt),
		kw("size", "data bytes per request (default 56)", None, size),
	}
	src.next, cnt.next, size.next = pingOpts, pingOpts, pingOpts
	dest := &node{kind: addrArg, name: "dest", word: "A.B.C.D", help: "destination address", id: Ping, next: pingOpts}
	traceSrc := &node{kind: addrArg, name: "source", word: "A.B.C.D", help: "source address", id: Traceroute}
	traceDest := &node{kind: addrArg, name: "dest", word: "A.B.C.D", help: "destination address", id: Traceroute, next: []*node{
		kw("source", "source address of the probes", None, traceSrc),
	}}

	neighbor := &node{kind: addrArg, name: "neighbor", word: "A.B.C.D", help: "neighbor address", id: ShowBGPNeighbors, next: []*node{
		kw("routes", "routes learned from the neighbor", ShowBGPRoutes),
		kw("advertised-routes", "routes advertised to the neighbor", ShowBGPAdvertised),
	}}
	peer := &node{kind: addrArg, name: "peer", word: "A.B.C.D", ipv6: true, help: "IKE peer address (IPv4 or IPv6)", id: ClearIKESA}
	// clear ip bgp {* | A.B.C.D} [soft [in | out]]
	bgpSoft := kw("soft", "keep the session: apply the route-maps again, both ways", ClearBGP,
		kw("in", "to the routes the neighbor sent", ClearBGP),
		kw("out", "and send the neighbor its routes again", ClearBGP),
	)
	bgpNeighbor := &node{kind: addrArg, name: "neighbor", word: "A.B.C.D", help: "neighbor address", id: ClearBGP, next: []*node{bgpSoft}}

	return []*node{
		kw("show", "show running system information", None,
			kw("ikev2", "IKEv2 information", None,
				kw("sa", "IKE SAs", ShowIKESA),
				kw("child-sa", "Child SAs", ShowChildSA),
			),
			kw("ip", "IP information", None,
				kw("route", "IP routing table", ShowIPRoute),
				kw("access-list", "access lists, with the packets each entry matched", ShowIPAccessList),
				kw("filter", "packet filters of each interface, with their counters", ShowIPFilter),
				kw("dhcp", "DHCP information", None,
					kw("lease", "leases: of the WAN's DHCP client, and those the LAN's server granted", ShowDHCPLease),
				),
				kw("napt", "NAPT information", None,
					kw("translation", "connections the kernel translates (masquerade and port forwards)", ShowNAPT),
				),
				kw("bgp", "BGP table", ShowBGP,
					kw("summary", "BGP neighbor summary", ShowBGPSummary),
					kw("neighbors", "BGP neighbors: their sessions, or the routes of one", ShowBGPNeighbors, neighbor),
				),
			),
			kw("running-config", "current configuration", ShowRunningConfig),
			kw("version", "the daemon's version and uptime", ShowVersion),
			kw("interfaces", "interface status and counters", ShowInterfaces),
		),
		kw("ping", "send ICMP echo requests", None, dest),
		kw("traceroute", "trace the route to a host (UDP probes, 3 per hop, up to 30 hops)", None, traceDest),
		kw("clear", "reset functions", None,
			kw("ikev2", "IKEv2", None,
				kw("sa", "delete IKE SAs and their Child SAs (then renegotiate)", ClearIKESA,
					kw("peer", "only the SAs with this peer", None, peer),
				),
			),
			kw("ip", "IP", None,
				kw("bgp", "reset BGP sessions (a hard reset closes them; they come up again)", None,
					kw("*", "every neighbor", ClearBGP, bgpSoft),
					bgpNeighbor,
				),
				kw("napt", "NAPT", None,
					kw("translation", "forget the translated connections (they start over with the rules in force)", ClearNAPT),
				),
			),
		),
		kw("reload", "re-read the configuration file and apply the changes", Reload),
	}
}

// interactiveRoot adds the session-only commands.
var interactiveRoot = append(append([]*node{}, root...),
	kw("exit", "end the session", Exit),
	kw("quit", "end the session", Exit),
	kw("help", "list commands", Help),
	kw("configure", "check configuration lines against soft-ix's grammar (TAB and ? complete them)", Configure),
)

// Error is a parse error pointing at one word of the line.
type Error struct {
	Word int // index of the offending word; len(words) when one is missing
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Parse parses the words of a command line as given on the soft-ix command
// line or to the control socket.
func Parse(words []string) (*Command, error) { return parse(root, words) }

// ParseInteractive also accepts the session commands (exit, quit, help).
func ParseInteractive(words []string) (*Command, error) { return parse(interactiveRoot, words) }

func parse(level []*node, words []string) (*Command, error) {
	if len(words) == 0 {
		return nil, &Error{Word: 0, Msg: "% Incomplete command"}
	}
	cmd := &Command{Args: map[string]string{}}
	var last *node
	for i, w := range words {
		n, err := match(level, w)
		if err != nil {
			return nil, &Error{Word: i, Msg: err.Error()}
		}
		switch n.kind {
		case kwArg:
			cmd.Words = append(cmd.Words, n.word)
		default:
			cmd.Words = append(cmd.Words, w)
			cmd.Args[n.name] = w
		}
		last = n
		level = n.next
	}
	if last.id == None {
		return nil, &Error{Word: len(words), Msg: fmt.Sprintf("%% Incomplete command: %q needs %s", strings.Join(cmd.Words, " "), expected(level))}
	}
	cmd.ID = last.id
	return cmd, nil
}

// match finds the grammar node that word selects among the candidates.
// An exact keyword wins over prefixes; several prefix matches are ambiguous.
func match(level []*node, word string) (*node, error) {
	if len(level) == 0 {
		return nil, fmt.Errorf("%% Too many arguments at %q", word)
	}
	var hits, values []*node
	for _, n := range level {
		switch n.kind {
		case kwArg:
			if n.word == word {
				return n, nil
			}
			if strings.HasPrefix(n.word, word) {
				hits = append(hits, n)
			}
		case valueArg:
			if !matchValue(n.arg, word) {
				continue
			}
			if n.arg.Kind == config.ArgNumber {
				if v, err := strconv.ParseUint(word, 10, 64); err != nil || v < n.arg.Min || v > n.arg.Max {
					return nil, fmt.Errorf("%% Invalid value %q: expected %d-%d", word, n.arg.Min, n.arg.Max)
				}
			}
			values = append(values, n)
		case addrArg:
			if a, err := netip.ParseAddr(word); err == nil && (a.Is4() || n.ipv6) {
				hits = append(hits, n)
			}
		case numArg:
			if v, err := strconv.Atoi(word); err == nil {
				if v < n.min || v > n.max {
					return nil, fmt.Errorf("%% Invalid value %q: expected %d-%d", word, n.min, n.max)
				}
				hits = append(hits, n)
			}
		}
	}
	if len(hits) == 0 && len(values) > 0 {
		hits = values[:1] // a keyword abbreviation wins over a free value
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return nil, fmt.Errorf("%% Invalid input %q: expected %s", word, expected(level))
	default:
		var names []string
		for _, h := range hits {
			names = append(names, h.word)
		}
		return nil, fmt.Errorf("%% Ambiguous command %q: %s", word, strings.Join(names, ", "))
	}
}

func expected(level []*node) string {
	var names []string
	for _, n := range level {
		names = append(names, n.word)
	}
	if len(names) == 0 {
		return "nothing more"
	}
	return strings.Join(names, " | ")
}

// Complete returns the keywords that complete the last (partial) word of
// line, sorted; none when the words before it do not parse. A line ending
// in a space completes a new word.
func Complete(line string) []string { return complete(interactiveRoot, line) }

func complete(level []*node, line string) []string {
	words := strings.Fields(line)
	partial := ""
	if len(words) > 0 && !strings.HasSuffix(line, " ") {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	for _, w := range words {
		n, err := match(level, w)
		if err != nil {
			return nil
		}
		level = n.next
	}
	var out []string
	for _, n := range level {
		if n.kind == kwArg && strings.HasPrefix(n.word, partial) && !slices.Contains(out, n.word) {
			out = append(out, n.word)
		}
	}
	sort.Strings(out)
	return out
}

// HelpLines describes what may follow line, one "word  help" entry a line,
// for "?" and "help" in the interactive session.
func HelpLines(line string) []string { return helpLines(interactiveRoot, line) }

func helpLines(level []*node, line string) []string {
	words := strings.Fields(line)
	var last *node
	for _, w := range words {
		n, err := match(level, w)
		if err != nil {
			return []string{err.Error()}
		}
		last = n
		level = n.next
	}
	var out []string
	for _, n := range level {
		out = append(out, fmt.Sprintf("  %-20s %s", n.word, n.help))
	}
	if last != nil && last.id != None {
		out = append(out, fmt.Sprintf("  %-20s %s", "<cr>", ""))
	}
	return out
}

// Usage lists every command of the grammar, one per line, for --help.
func Usage() []string {
	var out []string
	var walk func(prefix string, level []*node, depth int)
	walk = func(prefix string, level []*node, depth int) {
		for _, n := range level {
			p := strings.TrimSpace(prefix + " " + n.word)
			if n.word == "source" || n.word == "count" || n.word == "size" {
				continue // printed with ping below
			}
			if n.id != None && n.id != Ping {
				out = append(out, p)
			}
			if depth < 8 {
				walk(p, n.next, depth+1)
			}
		}
	}
	walk("", root, 0)
	out = append(out, "ping A.B.C.D [source A.B.C.D] [count N] [size N]")
	sort.Strings(out)
	return out
}
