package query

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/httpapi"

	"github.com/prometheus/common/model"

	"github.com/strata-obs/strata/topology/graph"
)

// Query is a parsed query: a path with its stages and time, or a diff of a path between two
// times.
type Query struct {
	Path   Path
	Stages []Stage
	At     *time.Time    // @: evaluate at this time instead of now
	Offset time.Duration // offset: that much before now (or before At)
	Diff   *Diff         // set for diff(path, from, to)
}

// Diff is diff(path, From, To).
type Diff struct{ From, To time.Time }

// Path is a selector followed by steps and projections.
type Path struct {
	Steps   []Step // the first is the selector (Dir 0)
	Project []string
}

// Direction of a step: Down toward the hardware, Up toward the LB.
type Direction int

const (
	Start Direction = iota // the selector
	Down
	Up
)

// Step selects entities of a kind: the first from the whole graph, the others by walking
// edges from the entities of the step before.
type Step struct {
	Dir      Direction
	Kind     graph.Kind
	Matchers []*Matcher
	Pick     *Pick
	Pos      Pos
}

// Matcher tests an attribute or label, with PromQL's operators.
type Matcher struct {
	Name  string
	Op    string // =, !=, =~, !~
	Value string
	re    *regexp.Regexp
}

// Matches tells whether a value passes.
func (m *Matcher) Matches(v string) bool {
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

func (m *Matcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// Pick takes by position: [i] one (negative from the end), [a:b] a slice.
type Pick struct {
	Index      *int
	From, To   *int
	Pos        Pos
	sliceRange bool
}

// Stage transforms the rows of a path.
type Stage struct {
	Op    string   // count, sort, limit, where
	By    []string // count by, sort by
	Desc  bool     // sort by … desc
	Limit int
	Where *Matcher
	Pos   Pos
}

// Limits bound what one query may cost, so that no query can exhaust the process's memory or
// hold it past its deadline: the text's size and shape are refused before the walk, what the
// walk visits and what the answer holds are counted while they grow. A query over one is
// refused with an *Error whose Limit names the flag.
type Limits struct {
	MaxLength   int // bytes of the query's text
	MaxSteps    int // steps in a path, the selector included
	MaxMatchers int // matchers of every step and where stage together
	MaxColumns  int // projections (.attr), and the names of one count by
	MaxStages   int // | stages
	MaxVisited  int // entities visited while walking
	MaxResults  int // cells of the answer (rows × columns), counted as it grows
}

// DefaultLimits are the flags' defaults: far above any question a person or a dashboard asks
// (the mission question is 70 bytes, 3 steps, 1 matcher, 2 columns), far below what would
// hurt a 2 GiB process on a fleet of 10,000 hosts.
var DefaultLimits = Limits{MaxLength: 64 << 10, MaxSteps: 16, MaxMatchers: 64, MaxColumns: 32, MaxStages: 16,
	MaxVisited: 2_000_000, MaxResults: 1_000_000}

// OrDefaults is l with each limit not set (0) at its default.
func (l Limits) OrDefaults() Limits {
	d := DefaultLimits
	return Limits{
		MaxLength: cmp.Or(l.MaxLength, d.MaxLength), MaxSteps: cmp.Or(l.MaxSteps, d.MaxSteps),
		MaxMatchers: cmp.Or(l.MaxMatchers, d.MaxMatchers), MaxColumns: cmp.Or(l.MaxColumns, d.MaxColumns),
		MaxStages: cmp.Or(l.MaxStages, d.MaxStages), MaxVisited: cmp.Or(l.MaxVisited, d.MaxVisited),
		MaxResults: cmp.Or(l.MaxResults, d.MaxResults),
	}
}

// The flags of the limits, as refusals name them.
const (
	FlagMaxLength   = "--query.max-length"
	FlagMaxSteps    = "--query.max-steps"
	FlagMaxMatchers = "--query.max-matchers"
	FlagMaxColumns  = "--query.max-columns"
	FlagMaxStages   = "--query.max-stages"
	FlagMaxVisited  = "--query.max-visited"
	FlagMaxResults  = "--query.max-results"
)

// over is a limit's refusal at pos: what is over the limit, the flag, and what to do.
func over(pos Pos, flag, what, hint string) *Error {
	msg := what + " (" + flag + ")"
	if hint != "" {
		msg += ": " + hint
	}
	return &Error{Pos: pos, Msg: msg, Limit: flag}
}

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
			if s := suggest(t.text, kindNames()); s != "" {
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
	case tEq, tNeq, tRe, tNre:
	default:
		return nil, p.errorf(op, `expected "=", "!=", "=~" or "!~" after %q %s, got %s`, name.text, where, op.describe())
	}
	v := p.next()
	if v.kind != tString {
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
		if s := suggest(t.text, names); s != "" && t.kind == tIdent {
			msg += "; did you mean " + s + "?"
		}
		return st, p.errorf(t, "%s", msg)
	}
	return st, kind.parse(p, &st)
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

// kindOf maps a kind's name to the kind ("" when there is none).
func kindOf(name string) graph.Kind {
	for _, k := range graph.Kinds() {
		if string(k) == name {
			return k
		}
	}
	return ""
}

func kindNames() []string {
	var out []string
	for _, k := range graph.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// suggest names the closest candidate to a misspelt word, if one is close: at most a third
// of its letters (at least one) changed, swapped, added or dropped.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), c)
		if d <= max(1, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance counts the edits from a to b (optimal string alignment: insert, delete,
// replace, swap two neighbours).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
