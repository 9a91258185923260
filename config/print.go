package config

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Print writes c as canonical IX running-config text, in the order and
// indentation IX uses: hostname, ip route (with ip dhcp enable and the
// access lists), ip prefix-list, ikev2 authentication psk, ikev2
// default-profile, ikev2 profile blocks, ip dhcp profile blocks, route-map
// blocks, router bgp, then the interface blocks, with "!" between sections
// and sub-commands indented two spaces (four inside address-family).
// Within a section the config's order is kept. Pre-shared keys are printed as configured ("key char K" or
// "key hex H"), so the output reloads; treat it as secret.
//
// Lines soft-ix keeps without acting on (Verbatim) are written back as they
// were written, in their block, after the command or section they followed
// in the source: the output is the whole configuration.
//
// Parse(Print(c)) yields c again (ignoring positions), and Print is
// idempotent.
func Print(c *Config) []byte { return printConfig(c, true) }

// PrintActive is Print without the lines soft-ix keeps but does not act on:
// what a reload has to compare. Kept lines may hold secrets IX stores in
// clear (PPP passwords, IKEv1 keys), so this is also the text to summarise
// in logs.
func PrintActive(c *Config) []byte { return printConfig(c, false) }

func printConfig(c *Config, all bool) []byte {
	w := printer{all: all, c: c}
	w.printGlobal(c)
	return w.Bytes()
}

type printer struct {
	bytes.Buffer
	all bool // also the lines soft-ix keeps without acting on
	c   *Config
}

func (w *printer) profile(pr *Profile) {
	for _, l := range profileTable.lines(profileIn{pr: pr}, "") {
		w.line(2, l.words...)
	}
	w.kept(2, pr.Extra)
	w.bang()
}

// extras writes the kept top-level commands that followed section after,
// each with its block; a block, or the group, ends with "!" so that what
// follows is not read into it.
func (w *printer) extras(after string) {
	if !w.all {
		return
	}
	open := false
	for _, v := range w.c.Extra {
		if v.After != after {
			continue
		}
		w.line(0, v.Text)
		for _, s := range v.Sub {
			w.line(2, s)
		}
		open = true
		if len(v.Sub) > 0 || opensBlock(textTokens(v.Text)) {
			w.bang()
			open = false
		}
	}
	if open {
		w.bang()
	}
}

// kept writes the kept lines of a block, with their own blocks one level
// deeper (address families under router bgp).
func (w *printer) kept(in int, vs []*Verbatim) {
	if !w.all {
		return
	}
	for _, v := range vs {
		w.line(in, v.Text)
		for _, s := range v.Sub {
			w.line(in+2, s)
		}
	}
}

// textTokens splits a kept line into words, as the lexer does.
func textTokens(s string) []token {
	l, _, _ := lexLine(0, s)
	if len(l.toks) == 0 {
		return []token{{text: "!"}}
	}
	return l.toks
}

func (w *printer) line(indent int, words ...string) {
	w.WriteString(strings.Repeat(" ", indent))
	for i, s := range words {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(s)
	}
	w.WriteByte('\n')
}

func (w *printer) bang() { w.WriteString("!\n") }

func idText(id Identity) string { return "id " + string(id.Type) + " " + quoteWord(id.Value) }

func secs(d time.Duration) string { return fmt.Sprint(int64(d / time.Second)) }

func (w *printer) iface(ifc *Interface) {
	w.line(0, "interface", ifc.Name)
	w.ifaceKept(ifc, "")
	lines := interfaceTable.lines(ifc, "")
	for i, l := range lines {
		w.line(2, l.words...)
		if i+1 < len(lines) && lines[i+1].key == l.key {
			continue // kept lines follow the last of several ("ip filter")
		}
		w.ifaceKept(ifc, l.key)
	}
}

func (w *printer) ifaceKept(ifc *Interface, after string) {
	if !w.all {
		return
	}
	for _, v := range ifc.Extra {
		if v.After == after {
			w.line(2, v.Text)
		}
	}
}
