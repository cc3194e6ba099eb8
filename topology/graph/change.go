package graph

import "time"

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
	// graph it exists in: the ones the change can affect.
	LBs []string
}
