package query

import (
	"math"
	"regexp"
	"strconv"
	"time"

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
	Op    string // =, !=, =~, !~; >, >=, <, <=, ==, and != with a number, compare numbers
	Value string
	re    *regexp.Regexp
	// numeric is a comparison of numbers, with num the matcher's: a value that is no number
	// never passes (an instance whose LB counts no traffic has no error_ratio to compare).
	numeric bool
	num     float64
}

// Numeric tells a comparison of numbers (error_ratio>0.05) from one of text.
func (m *Matcher) Numeric() bool { return m.numeric }

// Matches tells whether a value passes.
func (m *Matcher) Matches(v string) bool {
	if m.numeric {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) {
			return false
		}
		switch m.Op {
		case ">":
			return x > m.num
		case ">=":
			return x >= m.num
		case "<":
			return x < m.num
		case "<=":
			return x <= m.num
		case "==":
			return x == m.num
		default: // !=
			return x != m.num
		}
	}
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

func (m *Matcher) String() string {
	if m.numeric {
		return m.Name + m.Op + m.Value
	}
	return m.Name + m.Op + strconv.Quote(m.Value)
}

// Pick takes by position: [i] one (negative from the end), [a:b] a slice.
type Pick struct {
	Index      *int
	From, To   *int
	Pos        Pos
	sliceRange bool
}

// Stage transforms the rows of a path.
type Stage struct {
	Op    string   // count, sort, limit, where, compare
	By    []string // count by, sort by
	Desc  bool     // sort by … desc
	Limit int
	Where *Matcher
	// Against is compare's baseline; nil: the default (for instances, the other instances of
	// their services).
	Against *Path
	// Since makes compare rank what changed beneath the entities since a time (SinceTime, or
	// SinceAgo before the query's time) rather than what they hold.
	SinceTime *time.Time
	SinceAgo  time.Duration
	Pos       Pos
}
