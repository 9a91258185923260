package config

import (
	"slices"
	"strings"
	"sync"
)

// The grammar of every block is one table of commands (one file a block:
// cmd_global.go, cmd_interface.go, cmd_tunnel.go, cmd_profile.go,
// cmd_bgp.go, routemap.go, acl.go, dhcp.go). An entry holds the keywords
// that select the command, the arguments that follow them, how a line sets
// the model (set) and how the model prints back (get), side by side, in the
// order Print writes them. The same table gives the typo hints and, through
// Grammar, the CLI's completion and "?". parse.go only splits the file into
// blocks.
//
// A new block is one more file: its table, and the command that opens it,
// whose set makes the block the open one (openTable) and whose opens names
// the table; that command is then one entry in the table of the block that
// opens it (cmd_global.go for a top-level block), where Print writes the
// block. Grammar, Blocks and the CLI find the new table from there.
// dhcp.go is an example: dhcpProfileTable, and dhcpProfileCommand, whose
// set (dhcpProfileCmd) calls openTable.

// ArgKind is the kind of value an argument of a command takes.
type ArgKind int

// The kinds of arguments.
const (
	ArgKeyword    ArgKind = iota // one of Arg.Words
	ArgName                      // a name chosen by the operator (profile, list, route-map)
	ArgText                      // free text to the end of the line
	ArgNumber                    // a decimal number from Arg.Min to Arg.Max
	ArgAddr                      // an IPv4 or IPv6 address
	ArgIPv4                      // an IPv4 address
	ArgPrefix                    // ADDRESS/LENGTH, a network
	ArgHostPrefix                // ADDRESS/LENGTH, a host's address and its subnet
	ArgInterface                 // an interface name
	ArgWords                     // one or more of Arg.Words
	ArgKey                       // a pre-shared key
	ArgMAC                       // a hardware address, six bytes with colons
)

// Arg describes one argument of a command, for completion, "?" and the test
// that writes a line from every command.
type Arg struct {
	Kind     ArgKind
	Help     string   // how "?" shows it: "<68-1500>", "A.B.C.D", "NAME"
	Words    []string // the keywords of ArgKeyword and ArgWords
	Min, Max uint64   // the range of ArgNumber
	Optional bool     // the command is complete without it
	With     bool     // written only with the optional argument before it ("distance" N)
	// Sample is a value of the kind the command takes here (an interface
	// of the right family, a network), for the test that writes a line
	// from every command: the Sample first, then the Words.
	Sample string
}

// Command is one command of a block as the CLI sees it.
type Command struct {
	Words []string // the keywords that select it
	Args  []Arg
	Help  string
	Opens string // the block the command opens ("" for none)
}

// command is one entry of a block's table; T is what the block sets (the
// Config, an Interface, a Profile, ...).
type command[T any] struct {
	words []string // the keywords that select the command, lower case
	args  []Arg
	help  string
	opens grammar // the table of the block it opens (nil for none)

	// key names the printed line kept lines are anchored to, when not
	// the words; keyArgs adds that many words after them ("sa-proposal
	// enc"). See keyOf.
	key     string
	keyArgs int

	// section groups commands where the block prints them: at the top
	// level the section of running-config, in router bgp "af" for the
	// commands of address-family ipv4 unicast.
	section string

	// quiet commands are no typo hint: not emulated, session words, or
	// "ip ..." at the top level, where a two-letter word would take every
	// short IX word for a typo.
	quiet bool

	// set reads a line into x; t is the whole command without "no".
	set func(p *parser, l *line, t []token, neg bool, x T)
	// get gives the lines that print what x holds (nil when unset), each
	// as words; nil for an alias printed by another entry.
	get func(x T) [][]string
	// print writes the blocks a block command opens (get and print are
	// alternatives).
	print func(w *printer, x T)
}

// table is the grammar of one block.
type table[T any] struct {
	name string // as Grammar knows it
	cmds []*command[T]
	// unknown handles a line no entry selects, with the block's own
	// message (a typo hint, or a "not emulated" warning).
	unknown func(p *parser, tb *table[T], l *line, t []token, neg bool, x T)

	hintOnce sync.Once
	hintMap  map[string][]string // hints by the words before, joined
	keyOnce  sync.Once
	keyList  []string
	byOnce   sync.Once
	byFirst  map[string][]*command[T] // the entries by their first word
}

// find returns the entry whose words select the most leading words of t.
func (tb *table[T]) find(t []token) *command[T] {
	tb.byOnce.Do(func() {
		tb.byFirst = map[string][]*command[T]{}
		for _, c := range tb.cmds {
			tb.byFirst[c.words[0]] = append(tb.byFirst[c.words[0]], c)
		}
	})
	var best *command[T]
	for _, c := range tb.byFirst[kw(t[0])] {
		if len(c.words) > len(t) || (best != nil && len(c.words) <= len(best.words)) {
			continue
		}
		ok := true
		for i, w := range c.words {
			if kw(t[i]) != w {
				ok = false
				break
			}
		}
		if ok {
			best = c
		}
	}
	return best
}

// run dispatches one line; it returns the entry that took it, or nil.
func (tb *table[T]) run(p *parser, l *line, t []token, neg bool, x T) *command[T] {
	c := tb.find(t)
	if c == nil {
		tb.unknown(p, tb, l, t, neg, x)
		return nil
	}
	c.set(p, l, t, neg, x)
	return c
}

// hints are the words at position i of the commands whose words before it
// are prefix: what a misspelt word is compared with.
func (tb *table[T]) hints(prefix ...string) []string {
	tb.hintOnce.Do(func() {
		tb.hintMap = map[string][]string{}
		for _, c := range tb.cmds {
			if c.quiet {
				continue
			}
			for i, w := range c.words {
				k := strings.Join(c.words[:i], " ")
				if !slices.Contains(tb.hintMap[k], w) {
					tb.hintMap[k] = append(tb.hintMap[k], w)
				}
			}
		}
	})
	return tb.hintMap[strings.Join(prefix, " ")]
}

// keyOfTokens is keyOf for a parsed line (without "no").
func (c *command[T]) keyOfTokens(t []token) string {
	switch {
	case c.key != "":
		return c.key
	case c.keyArgs == 0 && len(c.words) == 1:
		return c.words[0]
	}
	n := min(len(c.words)+c.keyArgs, len(t))
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ToLower(t[i].text))
	}
	return b.String()
}

// keyOf names the line words (a printed or parsed command without "no")
// for anchoring kept lines.
func (c *command[T]) keyOf(words []string) string {
	if c.key != "" {
		return c.key
	}
	n := len(c.words) + c.keyArgs
	if len(words) < n {
		n = len(words)
	}
	return strings.ToLower(strings.Join(words[:n], " "))
}

// keys lists the anchor keys the table's lines can have, in print order.
func (tb *table[T]) keys() []string {
	tb.keyOnce.Do(func() { tb.keyList = tb.listKeys() })
	return tb.keyList
}

func (tb *table[T]) listKeys() []string {
	var out []string
	add := func(k string) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for _, c := range tb.cmds {
		switch {
		case c.key != "":
			add(c.key)
		case c.keyArgs > 0 && len(c.args) > 0:
			for _, w := range c.args[0].Words {
				add(strings.Join(c.words, " ") + " " + w)
			}
		default:
			add(strings.Join(c.words, " "))
		}
	}
	return out
}

// keyedLine is one printed command and the key kept lines are anchored to.
type keyedLine struct {
	key   string
	words []string
}

// lines gives what x holds, in table order, each line with its key.
func (tb *table[T]) lines(x T, section string) []keyedLine {
	var out []keyedLine
	for _, c := range tb.cmds {
		if c.get == nil || c.section != section {
			continue
		}
		for _, ws := range c.get(x) {
			f := strings.Fields(strings.Join(ws, " "))
			if f[0] == "no" {
				f = f[1:]
			}
			out = append(out, keyedLine{c.keyOf(f), ws})
		}
	}
	return out
}

func (tb *table[T]) public() []Command {
	out := make([]Command, 0, len(tb.cmds))
	for _, c := range tb.cmds {
		cmd := Command{Words: slices.Clone(c.words), Args: slices.Clone(c.args), Help: c.help}
		if c.opens != nil {
			cmd.Opens = c.opens.blockName()
		}
		out = append(out, cmd)
	}
	return out
}

// grammar is a table seen without its type: what Grammar and Blocks walk.
type grammar interface {
	blockName() string
	public() []Command
	opened() []grammar // the tables of the blocks its commands open
}

func (tb *table[T]) blockName() string { return tb.name }

func (tb *table[T]) opened() []grammar {
	var out []grammar
	for _, c := range tb.cmds {
		if c.opens != nil {
			out = append(out, c.opens)
		}
	}
	return out
}

// grammars lists every table reachable from the top level, the top level
// first: a block's file is found through the command that opens it.
func grammars() []grammar {
	out := []grammar{globalTable}
	for i := 0; i < len(out); i++ {
		for _, g := range out[i].opened() {
			if !slices.ContainsFunc(out, func(o grammar) bool { return o.blockName() == g.blockName() }) {
				out = append(out, g)
			}
		}
	}
	return out
}

// Block names for Grammar.
const (
	BlockGlobal      = ""
	BlockInterface   = "interface"
	BlockProfile     = "ikev2 profile"
	BlockBGP         = "router bgp"
	BlockNeighbor    = "neighbor" // the words after "neighbor A" in router bgp
	BlockRouteMap    = "route-map"
	BlockDHCPProfile = "ip dhcp profile"
)

// Blocks lists the blocks Grammar knows, the top level first.
func Blocks() []string {
	var out []string
	for _, g := range grammars() {
		out = append(out, g.blockName())
	}
	return out
}

// Grammar returns the commands soft-ix understands in a block (see Blocks),
// in the order Print writes them; nil for an unknown block. The ikev2
// commands of a Tunnel interface are in BlockInterface; "ikev2
// default-profile" opens a BlockProfile too.
func Grammar(block string) []Command {
	for _, g := range grammars() {
		if g.blockName() == block {
			return g.public()
		}
	}
	return nil
}
