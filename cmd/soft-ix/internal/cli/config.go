package cli

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/soft-ix/soft-ix/config"
)

// The configuration commands of the interactive session's "configure"
// mode: completion and "?" come from the config package's command tables
// (config.Grammar), the same ones that parse and print the file, so the
// session offers exactly what the file may hold.

// configLine marks a node after which a configuration command is complete.
const configLine ID = -1

// configRoots are the grammar trees of the config blocks, built once.
var configRoots = func() map[string][]*node {
	// The neighbor words first: router bgp's "neighbor A" leads into them.
	m := map[string][]*node{config.BlockNeighbor: configNodes(config.Grammar(config.BlockNeighbor), nil)}
	for _, b := range config.Blocks() {
		if b != config.BlockNeighbor {
			m[b] = configNodes(config.Grammar(b), m)
		}
	}
	return m
}()

// configNodes builds the tree of one block's commands: the words of each
// command as keywords (commands sharing their first words share nodes),
// then its arguments.
func configNodes(cmds []config.Command, roots map[string][]*node) []*node {
	var level []*node
	for _, c := range cmds {
		cur := &level
		var last *node
		for _, w := range c.Words {
			i := slices.IndexFunc(*cur, func(n *node) bool { return n.kind == kwArg && n.word == w })
			if i < 0 {
				*cur = append(*cur, &node{word: w, kind: kwArg})
				i = len(*cur) - 1
			}
			last = (*cur)[i]
			cur = &last.next
		}
		last.help = c.Help
		args := argNodes(c.Args)
		if c.Opens == config.BlockNeighbor {
			// "neighbor A" goes on with the neighbor commands.
			for _, n := range lastNodes(args) {
				n.next = append(n.next, roots[c.Opens]...)
				n.id = None
			}
		}
		last.next = append(last.next, args...)
		if len(args) == 0 || allOptional(c.Args) {
			last.id = configLine
		}
	}
	return level
}

// lastNodes are the nodes that end a chain of arguments.
func lastNodes(level []*node) []*node {
	var out []*node
	for _, n := range level {
		if len(n.next) == 0 {
			out = append(out, n)
		} else {
			out = append(out, lastNodes(n.next)...)
		}
	}
	return out
}

func allOptional(args []config.Arg) bool {
	return len(args) == 0 || args[0].Optional
}

// argNodes builds the nodes of args; what may follow each argument is the
// next one, and after an optional group also what follows the group.
func argNodes(args []config.Arg) []*node {
	n := len(args)
	follow := make([][]*node, n+1) // what may stand where argument i does
	end := make([]bool, n+1)       // the command may end before argument i
	end[n] = true
	for i := n - 1; i >= 0; i-- {
		// What may come where argument i stands: it, or, when it
		// starts an optional group, what follows the group.
		j := i + 1
		for j < n && args[j].With {
			j++
		}
		nodes := valueNodes(args[i])
		follow[i] = nodes
		end[i] = false
		if args[i].Optional {
			follow[i] = append(slices.Clone(nodes), follow[j]...)
			end[i] = end[j]
		}
		for _, nd := range nodes {
			nd.next = follow[i+1]
			if end[i+1] {
				nd.id = configLine
			}
			if args[i].Kind == config.ArgWords || args[i].Kind == config.ArgText {
				nd.next = append(slices.Clone(nodes), nd.next...) // repeats
				nd.id = configLine
			}
		}
	}
	return follow[0]
}

// valueNodes are the nodes of one argument: its keywords, and a value
// node unless it is only keywords.
func valueNodes(a config.Arg) []*node {
	var out []*node
	for _, w := range a.Words {
		out = append(out, &node{word: w, kind: kwArg})
	}
	if a.Kind != config.ArgKeyword && a.Kind != config.ArgWords {
		help := a.Help
		if help == "" {
			help = "WORD"
		}
		out = append(out, &node{word: help, kind: valueArg, arg: a, min: int(a.Min), max: int(a.Max)})
	}
	return out
}

// matchValue reports whether word is a value of the argument.
func matchValue(a config.Arg, word string) bool {
	switch a.Kind {
	case config.ArgNumber:
		return isNumber(word)
	case config.ArgAddr:
		ad, err := netip.ParseAddr(word)
		return err == nil && ad.Zone() == ""
	case config.ArgIPv4:
		ad, err := netip.ParseAddr(word)
		return err == nil && ad.Is4()
	case config.ArgPrefix, config.ArgHostPrefix:
		_, err := netip.ParsePrefix(word)
		return err == nil
	case config.ArgMAC:
		mac, err := net.ParseMAC(word)
		return err == nil && len(mac) == 6
	case config.ArgInterface:
		if _, err := netip.ParseAddr(word); err == nil {
			return strings.Contains(a.Help, "A.B.C.D")
		}
		_, _, err := config.NormalizeInterfaceName(word)
		return err == nil
	}
	return word != ""
}

func isNumber(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ConfigComplete is Complete for a line of a configuration block (see
// config.Blocks; "" is the top level).
func ConfigComplete(block, line string) []string { return complete(configRoots[block], line) }

// ConfigHelpLines is HelpLines for a line of a configuration block.
func ConfigHelpLines(block, line string) []string {
	return helpLines(configRoots[block], line)
}

// ConfigOpens returns the block a configuration line opens ("interface
// GigaEthernet0.0": "interface"), and whether it does.
func ConfigOpens(block, line string) (string, bool) {
	words := strings.Fields(strings.ToLower(line))
	for _, c := range config.Grammar(block) {
		if c.Opens == "" || c.Opens == config.BlockNeighbor || len(words) < len(c.Words) {
			continue
		}
		if slices.Equal(words[:len(c.Words)], c.Words) {
			return c.Opens, true
		}
	}
	return "", false
}
