package config

import (
	"os"
	"strings"
	"testing"
)

func TestLexLine(t *testing.T) {
	l, comment, closes := lexLine(3, "\t  ikev2 peer \"a b\" x\"y\r")
	if comment || closes || l.indent != 3 || len(l.toks) != 4 {
		t.Fatalf("lexLine = %+v %v %v", l, comment, closes)
	}
	want := []token{{"ikev2", 4, false}, {"peer", 10, false}, {"a b", 15, true}, {`x"y`, 21, false}}
	for i, w := range want {
		if l.toks[i] != w {
			t.Errorf("token %d = %+v, want %+v", i, l.toks[i], w)
		}
	}
	if _, c, cl := lexLine(1, "!"); !c || !cl {
		t.Error(`"!" in column 1 must be a closing comment`)
	}
	if _, c, cl := lexLine(1, "  ! note"); !c || cl {
		t.Error(`an indented "!" is a comment that closes nothing`)
	}
	l, _, _ = lexLine(1, `description "unterminated text`)
	if len(l.toks) != 2 || l.toks[1].text != "unterminated text" || l.restText(l.toks[1]) != `"unterminated text` {
		t.Errorf("unterminated quote: %+v / %q", l.toks, l.restText(l.toks[1]))
	}
}

func TestQuoting(t *testing.T) {
	for _, s := range []string{"plain", "two words", " lead", "trail ", `"quoted"`, `"`, `a"b`, "tab\there", "!bang"} {
		l, _, _ := lexLine(1, "description "+quoteText(s))
		if got := l.restText(l.toks[1]); got != s {
			t.Errorf("quoteText(%q) reads back as %q", s, got)
		}
	}
	for _, s := range []string{"plain", "two words", "P@ss!w0rd", `a"b`, "x\ty"} {
		l, _, _ := lexLine(1, "key "+quoteWord(s))
		if len(l.toks) != 2 || l.toks[1].text != s {
			t.Errorf("quoteWord(%q) reads back as %+v", s, l.toks)
		}
	}
}

func TestCRLFAndTabs(t *testing.T) {
	src := ("ikev2 authentication psk id ipv4 192.0.2.1 key char k\r\ninterface Tunnel0.0\r\n\ttunnel mode ipsec-ikev2\r\n\tip tcp adjust-mss auto\r\n\tikev2 peer 192.0.2.1 authentication psk\r\n!\r\n")
	c, diags := mustParse(t, "crlf.conf", src)
	if len(diags) != 1 || !strings.Contains(diags[0].Msg, "no ip address") {
		t.Errorf("diags %v", diags)
	}
	if string(c.PSKs[0].Key) != "k" || c.Interface("Tunnel0.0").Tunnel.Mode != "ipsec-ikev2" {
		t.Errorf("config %+v", c)
	}
}

func TestErrorListHasEveryError(t *testing.T) {
	_, diags, err := Parse("e.conf", []byte("hostname\nip route 10.0.0.1/8 Null0.0\nntp server 192.0.2.1\n"))
	list, ok := err.(ErrorList)
	if !ok || len(list) != 2 || len(diags) != 3 {
		t.Fatalf("err %v, diags %v", err, diags)
	}
	want := "e.conf:1:9: error: hostname: missing name\ne.conf:2:10: error: ip route: prefix \"10.0.0.1/8\" has host bits set, expected 10.0.0.0/8"
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err.Error(), want)
	}
	if s := diags[2].String(); s != `e.conf:3:1: warning: "ntp" is not emulated by soft-ix; kept but inactive (further ones are not reported)` {
		t.Errorf("warning text %s", s)
	}
}

func BenchmarkParseFullIX2215(b *testing.B) {
	src, err := os.ReadFile("testdata/ix2215-full.conf")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, _, err := Parse("ix.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}
