package query

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/strata-obs/strata/internal/httpapi"
)

// Parse reads a query. now resolves nothing here: times are absolute (RFC 3339 or unix
// seconds); a relative offset is kept as a duration.
func Parse(src string, lim Limits) (*Query, error) {
	if lim.MaxLength > 0 && len(src) > lim.MaxLength {
		return nil, over(Pos{1, 1}, FlagMaxLength,
			fmt.Sprintf("the query is %d bytes long, more than the limit of %d", len(src), lim.MaxLength), "")
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, lim: lim}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	toks []token
	i    int
	lim  Limits
	// nMatchers counts the query's matchers against MaxMatchers.
	nMatchers int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &Error{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

// expect takes a token of a kind or fails naming what came instead.
func (p *parser) expect(k tokenKind, context string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errorf(t, "expected %s %s, got %s", k, context, t.describe())
	}
	return t, nil
}

func (p *parser) query() (*Query, error) {
	q := &Query{}
	if t := p.peek(); t.kind == tIdent && t.text == "diff" && p.toks[p.i+1].kind == tLParen {
		p.next()
		p.next()
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		q.Path = path
		var d Diff
		var second token
		for _, at := range []*time.Time{&d.From, &d.To} {
			if _, err := p.expect(tComma, "between the arguments of diff"); err != nil {
				return nil, err
			}
			second = p.peek()
			if *at, err = p.timestamp("in diff"); err != nil {
				return nil, err
			}
		}
		if _, err := p.expect(tRParen, "to close diff"); err != nil {
			return nil, err
		}
		if !d.To.After(d.From) {
			return nil, p.errorf(second, "diff: the second time must be after the first")
		}
		q.Diff = &d
		if t := p.peek(); t.kind != tEOF {
			return nil, p.errorf(t, "expected end of query after diff(…), got %s", t.describe())
		}
		return q, nil
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	q.Path = path
	for p.peek().kind == tPipe {
		if pipe := p.next(); len(q.Stages) >= p.lim.MaxStages && p.lim.MaxStages > 0 {
			return nil, over(pipe.pos, FlagMaxStages, fmt.Sprintf("too many stages: the limit is %d", p.lim.MaxStages), "")
		}
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		q.Stages = append(q.Stages, st)
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tAt:
			if q.At != nil {
				return nil, p.errorf(t, "@ given twice")
			}
			p.next()
			at, err := p.timestamp("after @")
			if err != nil {
				return nil, err
			}
			q.At = &at
			continue
		case t.kind == tIdent && t.text == "offset":
			if q.Offset != 0 {
				return nil, p.errorf(t, "offset given twice")
			}
			p.next()
			d, err := p.duration("after offset")
			if err != nil {
				return nil, err
			}
			q.Offset = d
			continue
		case t.kind == tEOF:
			return q, nil
		}
		return nil, p.errorf(t, "expected \"->\", \"<-\", \".attribute\", \"|\", \"@\", \"offset\" or end of query, got %s", t.describe())
	}
}

func (p *parser) path() (Path, error) {
	var path Path
	first, err := p.step(Start)
	if err != nil {
		return path, err
	}
	path.Steps = append(path.Steps, first)
	for {
		t := p.peek()
		var dir Direction
		switch t.kind {
		case tDown:
			dir = Down
		case tUp:
			dir = Up
		case tDot:
			for p.peek().kind == tDot {
				p.next()
				a, err := p.expect(tIdent, "after \".\"")
				if err != nil {
					return path, p.errorf(a, "expected an attribute name after \".\", got %s", a.describe())
				}
				if len(path.Project) >= p.lim.MaxColumns && p.lim.MaxColumns > 0 {
					return path, over(a.pos, FlagMaxColumns, fmt.Sprintf("too many projections: the limit is %d", p.lim.MaxColumns), "")
				}
				path.Project = append(path.Project, a.text)
			}
			if k := p.peek().kind; k == tDown || k == tUp {
				return path, p.errorf(p.peek(), "projections (.attribute) end a path: no step may follow them")
			}
			return path, nil
		default:
			return path, nil
		}
		p.next()
		if len(path.Steps) >= p.lim.MaxSteps && p.lim.MaxSteps > 0 {
			return path, over(t.pos, FlagMaxSteps, fmt.Sprintf("too many steps: the limit is %d", p.lim.MaxSteps), "")
		}
		s, err := p.step(dir)
		if err != nil {
			return path, err
		}
		path.Steps = append(path.Steps, s)
	}
}

func (p *parser) step(dir Direction) (Step, error) {
	t := p.next()
	after := "at the start of the query"
	switch dir {
	case Down:
		after = `after "->"`
	case Up:
		after = `after "<-"`
	}
	if t.kind != tIdent || kindOf(t.text) == "" {
		msg := fmt.Sprintf("expected kind %s, got %s", after, t.describe())
		if t.kind == tIdent {
			if s := Suggest(t.text, kindNames()); s != "" {
				msg += "; did you mean " + s + "?"
			}
		}
		if t.kind == tIdent || t.kind == tEOF {
			msg += " (kinds: " + strings.Join(kindNames(), ", ") + ")"
		}
		return Step{}, p.errorf(t, "%s", msg)
	}
	s := Step{Dir: dir, Kind: kindOf(t.text), Pos: t.pos}
	if p.peek().kind == tLBrace {
		p.next()
		ms, err := p.matchers()
		if err != nil {
			return s, err
		}
		s.Matchers = ms
	}
	if p.peek().kind == tLBracket {
		pk, err := p.pick()
		if err != nil {
			return s, err
		}
		s.Pick = pk
	}
	return s, nil
}

// matchers reads name op "value" pairs up to the closing brace.
func (p *parser) matchers() ([]*Matcher, error) {
	var out []*Matcher
	for {
		t := p.next()
		if t.kind == tRBrace {
			return out, nil
		}
		if t.kind != tIdent {
			return nil, p.errorf(t, "expected an attribute or label name in {…}, got %s", t.describe())
		}
		m, err := p.matcherAfterName(t, "in {…}")
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		switch c := p.next(); c.kind {
		case tComma:
		case tRBrace:
			return out, nil
		default:
			return nil, p.errorf(c, `expected "," or "}" after a matcher, got %s`, c.describe())
		}
	}
}

func (p *parser) matcherAfterName(name token, where string) (*Matcher, error) {
	if p.nMatchers++; p.nMatchers > p.lim.MaxMatchers && p.lim.MaxMatchers > 0 {
		return nil, over(name.pos, FlagMaxMatchers, fmt.Sprintf("too many matchers: the limit is %d", p.lim.MaxMatchers), "")
	}
	op := p.next()
	switch op.kind {
	case tEq, tNeq, tRe, tNre, tGt, tGte, tLt, tLte, tEqEq:
	default:
		return nil, p.errorf(op, `expected "=", "!=", "=~", "!~" or a comparison with a number (>, >=, <, <=, ==) after %q %s, got %s`,
			name.text, where, op.describe())
	}
	v := p.next()
	switch {
	case v.kind == tNumber && (op.kind == tNeq || comparison(op.kind)):
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, p.errorf(v, "expected a number after %s, got %s", op.text, v.describe())
		}
		return &Matcher{Name: name.text, Op: op.text, Value: v.text, num: n, numeric: true}, nil
	case comparison(op.kind):
		return nil, p.errorf(v, "expected a number after %s, got %s", op.text, v.describe())
	case v.kind != tString:
		return nil, p.errorf(v, "expected a quoted string after %s, got %s", op.text, v.describe())
	}
	m := &Matcher{Name: name.text, Op: op.text, Value: v.text}
	if op.kind == tRe || op.kind == tNre {
		re, err := regexp.Compile("^(?s:" + v.text + ")$") // anchored, as in PromQL
		if err != nil {
			return nil, p.errorf(v, "bad regular expression: %v", err)
		}
		m.re = re
	}
	return m, nil
}

func (p *parser) pick() (*Pick, error) {
	open := p.next()
	pk := &Pick{Pos: open.pos}
	num := func() (*int, error) {
		t := p.peek()
		if t.kind != tNumber {
			return nil, nil
		}
		p.next()
		n, err := strconv.Atoi(t.text)
		if err != nil {
			return nil, p.errorf(t, "expected an integer position, got %s", t.describe())
		}
		return &n, nil
	}
	a, err := num()
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tColon {
		p.next()
		b, err := num()
		if err != nil {
			return nil, err
		}
		pk.From, pk.To, pk.sliceRange = a, b, true
	} else {
		if a == nil {
			t := p.peek()
			return nil, p.errorf(t, "expected a position ([0], [-1]) or a slice ([1:3]) after \"[\", got %s", t.describe())
		}
		pk.Index = a
	}
	if _, err := p.expect(tRBracket, "to close the position"); err != nil {
		return nil, err
	}
	return pk, nil
}

func (p *parser) stage() (Stage, error) {
	t := p.next()
	st := Stage{Op: t.text, Pos: t.pos}
	kind, ok := stageNamed(t.text)
	if t.kind != tIdent || !ok {
		names := stageNames()
		msg := fmt.Sprintf(`expected %s after "|", got %s`, orList(names), t.describe())
		if s := Suggest(t.text, names); s != "" && t.kind == tIdent {
			msg += "; did you mean " + s + "?"
		}
		return st, p.errorf(t, "%s", msg)
	}
	return st, kind.parse(p, &st)
}

// comparison tells the operators that compare numbers only.
func comparison(k tokenKind) bool {
	return k == tGt || k == tGte || k == tLt || k == tLte || k == tEqEq
}

// nameList reads (a, b, …).
func (p *parser) nameList(context string) ([]string, error) {
	if _, err := p.expect(tLParen, "after "+context); err != nil {
		return nil, err
	}
	var out []string
	for {
		t := p.next()
		switch {
		case t.kind == tRParen && len(out) == 0:
			return out, nil
		case t.kind != tIdent:
			return nil, p.errorf(t, "expected an attribute name in %s (…), got %s", context, t.describe())
		}
		if len(out) >= p.lim.MaxColumns && p.lim.MaxColumns > 0 {
			return nil, over(t.pos, FlagMaxColumns, fmt.Sprintf("too many names in %s: the limit is %d", context, p.lim.MaxColumns), "")
		}
		out = append(out, t.text)
		switch c := p.next(); c.kind {
		case tComma:
		case tRParen:
			return out, nil
		default:
			return nil, p.errorf(c, `expected "," or ")" in %s (…), got %s`, context, c.describe())
		}
	}
}

// timestamp reads an RFC 3339 time or unix seconds, as Prometheus's API takes them.
func (p *parser) timestamp(context string) (time.Time, error) {
	t := p.next()
	switch t.kind {
	case tTime, tNumber:
		at, err := ParseTime(t.text)
		if err != nil {
			return time.Time{}, p.errorf(t, "expected a time %s (RFC 3339 or unix seconds), got %s", context, t.describe())
		}
		return at, nil
	}
	return time.Time{}, p.errorf(t, "expected a time %s (RFC 3339 or unix seconds), got %s", context, t.describe())
}

// ParseTime reads a time as Prometheus's API takes it: RFC 3339 or unix seconds with an
// optional fraction, from 1970 to MaxTime. The zero time means "now" to the engine, so a time
// that reads as zero or earlier than 1970 (0001-01-01T00:00:00Z) is refused rather than
// answered with the live graph, and NaN or infinite seconds rather than answered with nothing.
func ParseTime(s string) (time.Time, error) {
	at, ok, err := httpapi.ParseTime(s)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("time %q out of range: want unix seconds from 0 to %d", s, MaxTime.Unix())
	case !ok:
		return time.Time{}, fmt.Errorf("cannot parse %q as a time: want RFC 3339 or unix seconds", s)
	case at.Before(time.Unix(0, 1)) || at.After(MaxTime):
		return time.Time{}, fmt.Errorf("time %q out of range: want 1970-01-01T00:00:00Z to %s", s, MaxTime.Format(time.RFC3339))
	}
	return at, nil
}

// MaxTime is the latest time a query may name: 1e11 unix seconds, in the year 5138.
var MaxTime = time.Unix(1e11, 0).UTC()

func (p *parser) duration(context string) (time.Duration, error) {
	t := p.next()
	if t.kind != tDuration {
		return 0, p.errorf(t, "expected a duration %s (5m, 1h30m), got %s", context, t.describe())
	}
	d, err := model.ParseDuration(t.text)
	if err != nil || d <= 0 {
		return 0, p.errorf(t, "expected a positive duration %s, got %s", context, t.describe())
	}
	return time.Duration(d), nil
}
