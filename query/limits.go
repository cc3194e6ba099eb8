package query

import (
	"cmp"
)

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
