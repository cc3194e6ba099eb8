package topology

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/strata-obs/strata/topology/graph"
)

// The journal: every refresh's graph diffed against the one before, so that "what changed in
// the last hour" is a lookup in memory instead of two graphs rebuilt from the series (seconds
// each on a large fleet). It compares what the series carry and nothing else, so that it says
// what a diff of the stored history would say, with the time each change was seen.

// Bounds of the journal: the changes it keeps (the oldest go first), the load balancers named
// per change, and the length of a value. Together they bound its memory by construction, about
// 40 MB at worst, whatever the fleet does.
const (
	journalSize    = 100_000
	maxChangeLBs   = 20
	maxChangeValue = 1024
)

// carriedAttrs are the attributes of each kind that the series carry, so that time travel
// brings them back; the others (an instance's resolved_via, a pod's phase, a host's
// addresses, the LB's traffic signals, …) are not written as attributes of the info series.
// The journal compares these alone, and the history tests check that a past graph holds
// exactly these.
var carriedAttrs = map[graph.Kind][]string{
	graph.LB:        {"provider", "addresses", "host"},
	graph.Service:   {"lb", "namespace"},
	graph.Instance:  {"lb", "service", "server", "address", "port", "position", "health", "weight"},
	graph.Pod:       {"namespace", "uid", "node", "ip"},
	graph.Container: {"image", "image_id", "runtime", "pod", "namespace", "host"},
	graph.Image:     {"tag", "digest"},
	graph.Host:      append(slices.Clone(hostInfoAttrs), hostHardwareAttrs...),
}

// journal keeps the changes of the last refreshes, oldest first, in a ring of fixed size.
type journal struct {
	size    int
	allowed []string            // the allow-listed metadata labels, sorted: the ones series carry
	meta    map[graph.Kind]bool // the kinds whose series carry metadata labels

	// prev is the last graph observed; only observe, one refresh at a time, uses it, and
	// buf, kept for the next diff instead of made again.
	prev *graph.Graph
	buf  diffBuffers

	mu    sync.RWMutex
	ring  []graph.Change // grows to size, then wraps: ring[start] is the oldest
	start int
	since time.Time // the journal holds every change after since; zero before the first refresh
	last  time.Time // the last refresh observed
}

func newJournal(size int, allow []string) *journal {
	j := &journal{size: size, meta: map[graph.Kind]bool{}}
	for _, fam := range families() {
		if fam.MetaLabels {
			j.meta[fam.kind] = true
		}
	}
	j.allowed = slices.Clone(allow)
	slices.Sort(j.allowed)
	j.allowed = slices.Compact(j.allowed)
	return j
}

// Changes returns a copy of the changes the journal recorded in (from, to], oldest first, and
// the time it covers from: it holds every change after since and none before (zero: no refresh
// has finished yet). A window that starts before since asks for what the journal no longer (or
// never) saw. The changes' LBs are shared: read them, do not change them.
func (r *Refresher) Changes(from, to time.Time) ([]graph.Change, time.Time) {
	return r.journal.changes(from, to)
}

func (j *journal) changes(from, to time.Time) ([]graph.Change, time.Time) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	n := len(j.ring)
	at := func(i int) time.Time { return j.ring[(j.start+i)%n].At }
	lo := sort.Search(n, func(i int) bool { return at(i).After(from) })
	hi := sort.Search(n, func(i int) bool { return at(i).After(to) })
	if hi <= lo {
		return nil, j.since
	}
	out := make([]graph.Change, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, j.ring[(j.start+i)%n])
	}
	return out, j.since
}

// observe records how g, the graph of the refresh at at, differs from the last graph observed.
// The first graph has nothing to differ from: the journal starts there.
func (j *journal) observe(g *graph.Graph, at time.Time) {
	defer func() {
		if p := recover(); p != nil { // a bug here costs the journal its past, not the process
			j.reset(at)
		}
	}()
	prev := j.prev
	j.prev = g
	if prev == nil || at.Before(j.last) {
		// The first refresh, or a clock that went back: what the journal holds can no longer
		// be told apart by time, so it starts again from here.
		j.reset(at)
		return
	}
	changes, ok := diffGraphs(prev, g, at, j.allowed, j.meta, j.size, &j.buf)
	if !ok {
		// More changes in one refresh than the journal holds (a source back with the whole
		// fleet): it cannot hold this refresh whole, so it starts after it.
		j.reset(at)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last = at
	for _, c := range changes {
		if len(j.ring) < j.size {
			j.ring = append(j.ring, c)
			continue
		}
		// The oldest goes: the journal covers from its refresh on, which may have more.
		j.since = maxTime(j.since, j.ring[j.start].At)
		j.ring[j.start] = c
		j.start = (j.start + 1) % j.size
	}
}

func (j *journal) reset(at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.ring) // lets the old values go
	j.ring, j.start, j.since, j.last = j.ring[:0], 0, at, at
}

// pending is a change found, with the entity whose LBs it affects and whether that entity
// is in the old graph (a removal) or the new one.
type pending struct {
	graph.Change
	above *graph.Entity
	old   bool
}

// diffGraphs lists how cur differs from old in what the series carry: entities added or
// removed, their name, carried attributes and allow-listed labels changed, edges added or
// removed. ok is false, and nothing returned, past limit changes.
// diffBuffers are a diff's lists of each kind's entities in the last graph: a fleet's 400,000.
type diffBuffers struct {
	olds    []*graph.Entity
	matched []bool
}

func diffGraphs(old, cur *graph.Graph, at time.Time, allowed []string, meta map[graph.Kind]bool, limit int, buf *diffBuffers) (changes []graph.Change, ok bool) {
	var found []pending
	add := func(change string, kind graph.Kind, e *graph.Entity, attr, from, to string, inOld bool) bool {
		found = append(found, pending{Change: graph.Change{At: at, Change: change, Kind: string(kind), ID: e.ID,
			Attribute: attr, From: clip(from), To: clip(to)}, above: e, old: inOld})
		return len(found) <= limit
	}
	edge := func(change string, e *graph.Edge, inOld bool) bool {
		found = append(found, pending{Change: graph.Change{At: at, Change: change, Kind: "edge",
			ID: e.From().String() + " -> " + e.To().String()}, above: e.FromEntity(), old: inOld})
		return len(found) <= limit
	}
	olds, matched := buf.olds, buf.matched
	defer func() {
		clear(olds[:cap(olds)]) // kept, they would keep the last graph's entities from the collector
		buf.olds, buf.matched = olds[:0], matched[:0]
	}()
	for _, kind := range graph.Kinds() {
		// A join of the same reports places each entity where the last one did: walking both
		// graphs side by side finds most entities' old selves without a lookup in a map of
		// the whole fleet, which costs a cache miss each.
		olds, matched = olds[:0], matched[:0]
		old.Each(kind, func(o *graph.Entity) { olds = append(olds, o) })
		matched = slices.Grow(matched, len(olds))[:len(olds)]
		clear(matched)
		i := 0
		for e := range cur.All(kind) {
			var o *graph.Entity
			was := i < len(olds) && olds[i].Ref == e.Ref
			if was {
				o, matched[i] = olds[i], true
			} else {
				o, was = old.Get(e.Ref)
			}
			i++
			if !was {
				if !add("added", kind, e, "", "", "", false) {
					return nil, false
				}
				for _, d := range cur.DownOf(e) {
					if !edge("added", d, false) {
						return nil, false
					}
				}
				continue
			}
			if o.Name != e.Name && !add("changed", kind, e, "name", o.Name, e.Name, false) {
				return nil, false
			}
			// All the same: then so are the carried ones, and a steady refresh costs one
			// comparison per attribute an entity has instead of two lookups per attribute its
			// kind may carry. A difference anywhere (a traffic signal) only sends it to the
			// carried ones.
			if !o.Attrs.Equal(e.Attrs) {
				for _, a := range carriedAttrs[kind] {
					if x, y := o.Attrs.Get(a), e.Attrs.Get(a); x != y && !add("changed", kind, e, a, x, y, false) {
						return nil, false
					}
				}
			}
			if meta[kind] {
				for _, k := range allowed {
					if x, y := o.Labels[k], e.Labels[k]; x != y && !add("changed", kind, e, k, x, y, false) {
						return nil, false
					}
				}
			}
			before, after := old.DownOf(o), cur.DownOf(e)
			if sameEnds(before, after) {
				continue
			}
			for _, d := range after {
				if !leadsTo(before, d.To()) && !edge("added", d, false) {
					return nil, false
				}
			}
			for _, d := range before {
				if !leadsTo(after, d.To()) && !edge("removed", d, true) {
					return nil, false
				}
			}
		}
		for k, o := range olds {
			if matched[k] {
				continue
			}
			if _, is := cur.Get(o.Ref); is {
				continue
			}
			if !add("removed", kind, o, "", "", "", true) {
				return nil, false
			}
			for _, d := range old.DownOf(o) {
				if !edge("removed", d, true) {
					return nil, false
				}
			}
		}
	}
	// The order of the path language's diff: entities from the top down by id, then edges.
	slices.SortFunc(found, func(a, b pending) int {
		switch aEdge, bEdge := a.Kind == "edge", b.Kind == "edge"; {
		case aEdge != bEdge:
			if aEdge {
				return 1
			}
			return -1
		case aEdge:
			return cmp.Or(cmp.Compare(a.Change.Change, b.Change.Change), cmp.Compare(a.ID, b.ID))
		}
		return cmp.Or(cmp.Compare(graph.Kind(a.Kind).Depth(), graph.Kind(b.Kind).Depth()), cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Attribute, b.Attribute))
	})
	lbsOld, lbsCur := newLBsAbove(old), newLBsAbove(cur)
	changes = make([]graph.Change, len(found))
	for i, p := range found {
		lbs := lbsCur
		if p.old {
			lbs = lbsOld
		}
		set := lbs.of(p.above)
		p.LBs, p.MoreLBs = set.ids, set.more
		changes[i] = p.Change
	}
	return changes, true
}

// sameEnds tells whether two lists of edges lead to the same entities in the same order: a
// steady refresh's, which then need no set.
func sameEnds(a, b []*graph.Edge) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].To() != b[i].To() {
			return false
		}
	}
	return true
}

func leadsTo(edges []*graph.Edge, to graph.Ref) bool {
	for _, e := range edges {
		if e.To() == to {
			return true
		}
	}
	return false
}

// lbsAbove finds the load balancers above entities of one graph. Each entity's set is made
// once from its parents' (kept, as Walk would not), so that the changes of every host of a
// fleet cost one pass over what is above them, not one walk each.
type lbsAbove struct {
	g    *graph.Graph
	memo map[*graph.Entity]lbSet
}

// lbSet is the first maxChangeLBs ids, sorted, of the LBs above an entity, and whether there
// are more. The first n of a union are among the unions of each part's first n, so cut sets
// merge exactly.
type lbSet struct {
	ids  []string
	more bool
}

func newLBsAbove(g *graph.Graph) *lbsAbove {
	return &lbsAbove{g: g, memo: map[*graph.Entity]lbSet{}}
}

func (f *lbsAbove) of(e *graph.Entity) lbSet {
	if s, ok := f.memo[e]; ok {
		return s
	}
	if e.Kind == graph.LB {
		s := lbSet{ids: []string{e.ID}}
		f.memo[e] = s
		return s
	}
	f.memo[e] = lbSet{} // edges only lead down; should one lead back, the walk ends here
	var s lbSet
	for _, up := range f.g.UpOf(e) {
		s = mergeLBs(s, f.of(up.FromEntity()))
	}
	f.memo[e] = s
	return s
}

// mergeLBs is the union of two sets, cut to maxChangeLBs; a set that adds nothing is shared,
// not copied.
func mergeLBs(a, b lbSet) lbSet {
	switch {
	case len(b.ids) == 0:
		return a
	case len(a.ids) == 0:
		return b
	}
	ids := make([]string, 0, min(len(a.ids)+len(b.ids), maxChangeLBs))
	i, k := 0, 0
	for (i < len(a.ids) || k < len(b.ids)) && len(ids) < maxChangeLBs {
		switch {
		case k == len(b.ids) || i < len(a.ids) && a.ids[i] < b.ids[k]:
			ids = append(ids, a.ids[i])
			i++
		case i == len(a.ids) || b.ids[k] < a.ids[i]:
			ids = append(ids, b.ids[k])
			k++
		default: // the same LB on both sides
			ids = append(ids, a.ids[i])
			i++
			k++
		}
	}
	more := a.more || b.more || i < len(a.ids) || k < len(b.ids)
	if !more && len(ids) == len(a.ids) {
		return a
	}
	return lbSet{ids: ids, more: more}
}

// clip cuts a value to maxChangeValue bytes (a label is anyone's to fill), on a rune's
// boundary, with an ellipsis saying so.
func clip(s string) string {
	if len(s) <= maxChangeValue {
		return s
	}
	cut := maxChangeValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + "…"
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
