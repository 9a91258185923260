package config

import "strings"

// token is one word of a config line.
type token struct {
	text   string
	col    int  // 1-based byte column of the token's first byte (the quote when quoted)
	quoted bool // written as "..." (the quotes are not part of text)
}

// line is one non-blank, non-comment line of a config file.
type line struct {
	num    int
	indent int // leading blanks, in bytes
	raw    string
	toks   []token
}

// isBlank reports the bytes the lexer treats as white space. It is a fixed
// ASCII set so that lexing and printing agree byte for byte.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimBlank(s string) string {
	i, j := 0, len(s)
	for i < j && isBlank(s[i]) {
		i++
	}
	for j > i && isBlank(s[j-1]) {
		j--
	}
	return s[i:j]
}

// lexLine splits one source line into tokens. A "!" as the first non-blank
// byte makes the whole line a comment (IX prints "!" between blocks and
// before its header lines); elsewhere "!" is an ordinary byte, since keys and
// descriptions may contain it. A token that starts with a double quote runs
// to the next double quote (or the end of the line when there is none).
// comment reports a comment line; closes reports a "!" in column 1, which
// ends any open block unless the next command is indented into it.
func lexLine(num int, raw string) (l line, comment, closes bool) {
	l = line{num: num, raw: raw}
	i := 0
	for i < len(raw) && isBlank(raw[i]) {
		i++
	}
	l.indent = i
	if i < len(raw) && raw[i] == '!' {
		return l, true, i == 0
	}
	for i < len(raw) {
		if isBlank(raw[i]) {
			i++
			continue
		}
		start := i
		if raw[i] == '"' {
			end := strings.IndexByte(raw[i+1:], '"')
			if end < 0 {
				l.toks = append(l.toks, token{text: raw[i+1:], col: start + 1, quoted: true})
				break
			}
			l.toks = append(l.toks, token{text: raw[i+1 : i+1+end], col: start + 1, quoted: true})
			i += end + 2
			continue
		}
		for i < len(raw) && !isBlank(raw[i]) {
			i++
		}
		l.toks = append(l.toks, token{text: raw[start:i], col: start + 1})
	}
	return l, false, false
}

// restText is the rest of the line from token t on, as free text: blanks
// around it are dropped and one pair of enclosing double quotes is removed.
func (l *line) restText(t token) string {
	s := trimBlank(l.raw[t.col-1:])
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// quoteText writes free text so that restText reads it back unchanged.
func quoteText(s string) string {
	if s == "" || trimBlank(s) != s || (len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"') {
		return `"` + s + `"`
	}
	return s
}

// quoteWord writes a single-token value (hostname, key) so that the lexer
// reads it back as one token with the same text.
func quoteWord(s string) string {
	if s == "" || s[0] == '"' || strings.IndexFunc(s, func(r rune) bool { return r < 0x80 && isBlank(byte(r)) }) >= 0 {
		return `"` + s + `"`
	}
	return s
}
