package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind is the kind of a lexical token.
type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tString
	tNumber   // an integer, possibly negative
	tDuration // 5m, 1h30m
	tTime     // an RFC 3339 time
	tDown     // ->
	tUp       // <-
	tLBrace
	tRBrace
	tLBracket
	tRBracket
	tLParen
	tRParen
	tComma
	tColon
	tDot
	tPipe
	tAt
	tEq    // =
	tNeq   // !=
	tRe    // =~
	tNre   // !~
	tGt    // >
	tGte   // >=
	tLt    // <
	tLte   // <=
	tEqEq  // ==
	tError // a character that starts no token
)

var tokenNames = map[tokenKind]string{
	tEOF: "end of query", tIdent: "name", tString: "string", tNumber: "number", tDuration: "duration",
	tTime: "time", tDown: `"->"`, tUp: `"<-"`, tLBrace: `"{"`, tRBrace: `"}"`, tLBracket: `"["`, tRBracket: `"]"`,
	tLParen: `"("`, tRParen: `")"`, tComma: `","`, tColon: `":"`, tDot: `"."`, tPipe: `"|"`, tAt: `"@"`,
	tEq: `"="`, tNeq: `"!="`, tRe: `"=~"`, tNre: `"!~"`,
	tGt: `">"`, tGte: `">="`, tLt: `"<"`, tLte: `"<="`, tEqEq: `"=="`,
}

func (k tokenKind) String() string { return tokenNames[k] }

// Pos is a place in the query text: line and column from 1, in characters.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

type token struct {
	kind tokenKind
	text string // as written; for a string, its value
	pos  Pos
}

// describe is how an error message names the token.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return fmt.Sprintf("%q", t.text)
	case tError:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// Error is a query that cannot be parsed or run: where, and what went wrong.
type Error struct {
	Pos Pos
	Msg string
	// Limit is the flag of the limit that refused the query (--query.max-steps), empty for
	// any other error: a refusal is the server's choice, not a mistake in the query.
	Limit string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// lex splits a query into tokens. Comments run from # to the end of the line.
func lex(src string) ([]token, error) {
	var out []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		pos := Pos{line, col}
		switch {
		case r == '#':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			advance(j)
			continue
		case unicode.IsSpace(r):
			advance(size)
			continue
		case r == '"' || r == '\'' || r == '`':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, &Error{Pos: pos, Msg: err.Error()}
			}
			out = append(out, token{tString, s, pos})
			advance(n)
			continue
		case isDigit(r) || (r == '-' && i+1 < len(src) && isDigit(rune(src[i+1]))):
			kind, n := lexNumberLike(src[i:])
			out = append(out, token{kind, src[i : i+n], pos})
			advance(n)
			continue
		case isIdentStart(r):
			n := 0
			for n < len(src)-i {
				c, s := utf8.DecodeRuneInString(src[i+n:])
				if !isIdentPart(c) {
					break
				}
				n += s
			}
			out = append(out, token{tIdent, src[i : i+n], pos})
			advance(n)
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		kind, n := tError, size
		switch two {
		case "->":
			kind, n = tDown, 2
		case "<-":
			kind, n = tUp, 2
		case "!=":
			kind, n = tNeq, 2
		case "=~":
			kind, n = tRe, 2
		case "!~":
			kind, n = tNre, 2
		case ">=":
			kind, n = tGte, 2
		case "<=":
			kind, n = tLte, 2
		case "==":
			kind, n = tEqEq, 2
		default:
			kind = map[rune]tokenKind{'{': tLBrace, '}': tRBrace, '[': tLBracket, ']': tRBracket, '(': tLParen,
				')': tRParen, ',': tComma, ':': tColon, '.': tDot, '|': tPipe, '@': tAt, '=': tEq, '>': tGt, '<': tLt}[r]
			if kind == tEOF {
				kind = tError
			}
		}
		if kind == tError {
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
		out = append(out, token{kind, src[i : i+n], pos})
		advance(n)
	}
	out = append(out, token{tEOF, "", Pos{line, col}})
	return out, nil
}

// lexString reads a quoted string as PromQL does: "…" and '…' with Go escapes, `…` raw.
func lexString(s string) (value string, n int, err error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\n' && q != '`':
			return "", 0, fmt.Errorf("unterminated string: a newline inside %c…%c", q, q)
		case c == '\\' && q != '`':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '"', '\'', '`', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$', '-', '/':
				if e != '\\' && e != '"' && e != '\'' && e != '`' {
					b.WriteByte('\\') // a regexp escape ("nginx:1\.25") keeps its backslash
				}
				b.WriteByte(e)
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c in string", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string: no closing %c", q)
}

// lexNumberLike reads a number, a duration (5m, 1h30m) or an RFC 3339 time
// (2026-11-20T10:00:00Z), whichever is longest.
func lexNumberLike(s string) (tokenKind, int) {
	n := 0
	if s[0] == '-' {
		n = 1
	}
	for n < len(s) && isDigit(rune(s[n])) {
		n++
	}
	// An RFC 3339 time: digits, then '-' and the rest of the date and time.
	if n == 4 && n < len(s) && s[n] == '-' {
		m := n
		for m < len(s) && strings.ContainsRune("0123456789-:T.Z+", rune(s[m])) {
			m++
		}
		return tTime, m
	}
	// A duration: number-unit pairs.
	m := n
	for m < len(s) {
		unit := 0
		for _, u := range []string{"ms", "s", "m", "h", "d", "w", "y"} {
			if strings.HasPrefix(s[m:], u) {
				unit = len(u)
				break
			}
		}
		if unit == 0 {
			break
		}
		m += unit
		k := m
		for k < len(s) && isDigit(rune(s[k])) {
			k++
		}
		if k == m {
			break
		}
		m = k
	}
	if m > n {
		return tDuration, m
	}
	// A number with a fraction: unix seconds.
	if n < len(s) && s[n] == '.' && n+1 < len(s) && isDigit(rune(s[n+1])) {
		n++
		for n < len(s) && isDigit(rune(s[n])) {
			n++
		}
	}
	return tNumber, n
}

func isDigit(r rune) bool      { return r >= '0' && r <= '9' }
func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
