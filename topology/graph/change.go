package graph

import (
	"slices"
	"time"
)

// Change is one difference between two graphs, as the refresh loop's journal records it and
// the Changes page shows it: an entity or an edge added or removed, or an attribute changed.
type Change struct {
	At     time.Time // the refresh that saw it
	Change string    // "added", "removed" or "changed"
	// Kind and ID name the entity; for an edge Kind is "edge" and ID is "from -> to" (refs),
	// as the path language's diff writes them.
	Kind      string
	ID        string
	Attribute string // of a change; "" for an entity or edge added or removed
	From, To  string
	// LBs are the ids of the load balancers above the entity (or the edge's upper end) in the
	// graph it exists in: the ones the change can affect. They are sorted, and cut to the
	// first few when more are above (MoreLBs): a host under every LB of a fleet must not make
	// each of its changes as large as the fleet.
	LBs     []string
	MoreLBs bool
}

// signalAttrs are the attributes of the LB's traffic (rates and gauges of its counters, and
// the note saying why one is missing): they move with every refresh, so a diff of two graphs
// that reported them would bury what changed under them. failing is not among them: its flip
// is a change worth seeing. topology/signals.go makes them; its test checks the two agree.
var signalAttrs = []string{"req_rate", "http_2xx_rate", "http_3xx_rate", "http_4xx_rate", "http_5xx_rate", "error_rate", "error_ratio",
	"sessions", "queue", "response_time_seconds", "signal_note"}

// IsSignal tells whether an attribute is one of the LB's traffic signals, which no diff
// reports.
func IsSignal(attr string) bool { return slices.Contains(signalAttrs, attr) }
