// Package graph holds strata's domain: the kinds of entity from the load balancer down to the
// host, entities with their identity, attributes and labels, and the edges between them with
// the sources that reported them. It does no I/O.
package graph

import (
	"iter"
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// Kind is the kind of an entity, from the top of the graph to the bottom.
type Kind string

// The kinds, in order from the load balancer down to the hardware.
const (
	LB        Kind = "lb"
	Service   Kind = "service"
	Instance  Kind = "instance"
	Pod       Kind = "pod"
	Container Kind = "container"
	Image     Kind = "image"
	Host      Kind = "host"
)

// kinds are the kinds from top to bottom.
var kinds = [...]Kind{LB, Service, Instance, Pod, Container, Image, Host}

// Kinds lists every kind from top to bottom.
func Kinds() []Kind { return slices.Clone(kinds[:]) }

// Depth is a kind's place from the top (lb is 0); -1 for an unknown kind.
func (k Kind) Depth() int {
	if s := slot(k); s < len(kinds) {
		return s
	}
	return -1
}

// Ref names one entity: its kind and its stable identity.
type Ref struct {
	Kind Kind
	ID   string
}

func (r Ref) String() string { return string(r.Kind) + "/" + r.ID }

// ServiceID is a service's identity: its LB's name and its own, with its namespace between
// them where it has one (two Kubernetes namespaces may each have a Service "web").
func ServiceID(lb, namespace, name string) string {
	if namespace != "" {
		return lb + "/" + namespace + "/" + name
	}
	return lb + "/" + name
}

// Entity is one node of the graph.
type Entity struct {
	Ref
	Name    string
	Attrs   Attrs             // kind-specific facts (kernel_release, address, health, …)
	Labels  map[string]string // k8s labels, LB tags, inventory labels
	Sources []string          // which sources reported it
	// LastSeen is when they last reported it, as Put was told: in a graph, read Graph.LastSeen,
	// since a refresh keeps an entity that did not change from the last graph (Keep).
	LastSeen time.Time
	Stale    bool // its sources stopped reporting; kept for the grace period

	// place is where the graph that made it holds it, for DownOf and UpOf without a lookup; a
	// later graph that keeps it elsewhere (Keep) records its place there in its own moved.
	place int32
}

// ClusterAttr is the attribute that names an entity's site (global.external_labels' cluster).
const ClusterAttr = "cluster"

// OwnAttrs are the names Attr answers from the entity itself, not its attributes: its name, id
// and kind, and stale ("true" while its sources have stopped answering, else empty, as the
// stale label of its series).
var OwnAttrs = []string{"name", "id", "kind", "stale"}

// Attr returns an attribute, or what the entity itself says for one of OwnAttrs.
func (e *Entity) Attr(name string) string {
	switch name {
	case "name":
		return e.Name
	case "id":
		return e.ID
	case "kind":
		return string(e.Kind)
	case "stale":
		if e.Stale {
			return "true"
		}
		return ""
	}
	return e.Attrs.Get(name)
}

// Edge goes from an entity toward the hardware (lb → service → instance → … → host).
type Edge struct {
	from, to *Entity // walking an edge needs no lookup
	Sources  []string
	seen     int64 // LastSeen in Unix nanoseconds: a fleet has 700,000 edges, a time.Time is 24 bytes
}

// LastSeen is when the edge's sources last reported it.
func (e *Edge) LastSeen() time.Time {
	if e.seen == zeroSeen {
		return time.Time{}
	}
	return time.Unix(0, e.seen)
}

// zeroSeen stands for the zero time, which Unix nanoseconds cannot hold.
const zeroSeen = math.MinInt64

func unixSeen(t time.Time) int64 {
	if t.IsZero() {
		return zeroSeen
	}
	return t.UnixNano()
}

// From and To name the ends of the edge.
func (e *Edge) From() Ref { return e.from.Ref }
func (e *Edge) To() Ref   { return e.to.Ref }

// FromEntity and ToEntity are the ends of the edge.
func (e *Edge) FromEntity() *Entity { return e.from }
func (e *Edge) ToEntity() *Entity   { return e.to }

// Graph is the whole topology at one time. Entities are kept in a slice with an index by
// Ref, each with its edges both ways, so that adding an edge costs two lookups: a rebuild of
// a fleet of 10,000 hosts adds over a million.
type Graph struct {
	At    time.Time
	index [len(kinds) + 1]map[string]int32 // by kind (the last for a kind not known), then id
	// shared marks an index that is another graph's (ShareIndex), never written: written, it
	// is copied first; loose, one that may hold ids this graph has not, or has elsewhere.
	shared, loose [len(kinds) + 1]bool
	nodes         []node
	edges         int
	byKind        map[Kind][]int32 // the places of each kind's entities, so that Each(kind) visits only those

	singles  map[string][]string
	slab     []Edge      // edges are allocated from here, a block at a time
	entities []Entity    // and entities likewise
	times    []time.Time // when the sources of kept entities last reported them
	// adjacency is where kept entities' lists of edges are carved from.
	adjacency []*Edge
	keeps     bool // it was made after a last graph, whose entities it keeps (ShareIndex)
	// moved is the place here of each kept entity that is not where the graph that made it
	// holds it: when a host or pod comes or goes, every entity after it moves one place, and
	// an entry is a fifth of a copy.
	moved map[*Entity]int32
}

// slot is a kind's depth, and its index in Graph.index: a lookup hashes the id alone, in a map
// of one kind, and a kind nobody knows (a hand-made store's series) has one of its own
// (len(kinds)), keyed by kind and id. A switch, not a search of kinds: every lookup asks it.
func slot(k Kind) int {
	switch k {
	case LB:
		return 0
	case Service:
		return 1
	case Instance:
		return 2
	case Pod:
		return 3
	case Container:
		return 4
	case Image:
		return 5
	case Host:
		return 6
	}
	return len(kinds)
}

// key is r's key in its kind's index.
func key(r Ref, s int) string {
	if s == len(kinds) {
		return string(r.Kind) + "/" + r.ID
	}
	return r.ID
}

// lookup is the place of r.
func (g *Graph) lookup(r Ref) (int32, bool) {
	_, _, i, ok, _ := g.find(r)
	return i, ok
}

// find is r's index slot and key, its place when this graph holds it, and, when it does not,
// whether an index shared with the last graph has it already where it would go next.
func (g *Graph) find(r Ref) (s int, k string, i int32, ok, placed bool) {
	s = slot(r.Kind)
	k = key(r, s)
	i, ok = g.index[s][k]
	if ok && g.loose[s] && !g.there(i, r) {
		return s, k, 0, false, int(i) == len(g.nodes)
	}
	return s, k, i, ok, false
}

// add puts n's entity at the next place, in its kind's list and its index (unless placed: the
// index has it there already), copying an index shared with the last graph before it writes.
func (g *Graph) add(s int, k string, placed bool, n node) {
	e, p := n.entity, int32(len(g.nodes))
	if g.byKind == nil {
		g.byKind = map[Kind][]int32{}
	}
	g.byKind[e.Kind] = append(g.byKind[e.Kind], p)
	if !placed {
		if g.shared[s] {
			g.index[s], g.shared[s] = maps.Clone(g.index[s]), false
		}
		if g.index[s] == nil {
			g.index[s] = map[string]int32{}
		}
		g.index[s][k] = p
	}
	g.nodes = append(g.nodes, n)
}

// there tells whether r is at place i.
func (g *Graph) there(i int32, r Ref) bool {
	return int(i) < len(g.nodes) && g.nodes[i].entity.Ref == r
}

// ShareIndex starts an empty graph's index as last's, for a graph that will hold mostly the
// same entities in the same places (the next refresh's): an entity put where last had it
// needs no entry of its own, and a steady refresh of a fleet writes none of its 400,000. The
// first entity put elsewhere copies its kind's index. last's index is only read, and only
// shared while it holds no id last has not. Each kind's list starts with room for as many as
// last has.
func (g *Graph) ShareIndex(last *Graph) {
	g.keeps = true
	for s, k := range kinds {
		if m := last.index[s]; m != nil && g.index[s] == nil && len(m) == len(last.byKind[k]) {
			g.index[s], g.shared[s], g.loose[s] = m, true, true
		}
		if n := len(last.byKind[k]); n > 0 && len(g.byKind[k]) == 0 {
			if g.byKind == nil {
				g.byKind = map[Kind][]int32{}
			}
			g.byKind[k] = make([]int32, 0, n)
		}
	}
}

// Single returns a one-source list shared by every entity or edge with that source alone: a
// million of them need not allocate a million lists. Its capacity is 1, so that a merge
// (union) copies before adding to it.
func (g *Graph) Single(source string) []string {
	if l, ok := g.singles[source]; ok {
		return l
	}
	if g.singles == nil {
		g.singles = map[string][]string{}
	}
	l := []string{source}[:1:1]
	g.singles[source] = l
	return l
}

type node struct {
	entity   *Entity
	down, up []*Edge
	// kept marks an entity of another graph (Keep), seen when this graph's sources last
	// reported it (times[seen]): it is copied before it is written.
	kept bool
	seen uint16
}

// New returns an empty graph.
func New(at time.Time) *Graph { return NewSized(at, 0) }

// NewSized returns an empty graph with room for about n entities.
func NewSized(at time.Time, n int) *Graph {
	return &Graph{At: at, nodes: make([]node, 0, n)}
}

// Expect makes room for about n entities of a kind: its index is sized once instead of grown.
func (g *Graph) Expect(kind Kind, n int) {
	if s := slot(kind); g.index[s] == nil {
		g.index[s] = make(map[string]int32, n)
	}
}

// Put adds a copy of an entity, or merges it into the one with the same Ref: attributes
// already set are kept (the caller adds the strongest source first), labels likewise, sources
// are unioned. It returns the entity in the graph; e itself is not kept.
func (g *Graph) Put(e *Entity) *Entity {
	s, k, i, ok, placed := g.find(e.Ref)
	if !ok {
		c := g.newEntity(*e)
		c.place = int32(len(g.nodes))
		g.add(s, k, placed, node{entity: c})
		return c
	}
	old := g.own(i)
	if old.Name == "" {
		old.Name = e.Name
	}
	// The first record's attributes may be shared with the last graph's entity (the join
	// keeps a list that did not change): merging writes into a copy, as for labels.
	attrsCopied := false
	for _, a := range e.Attrs {
		if v, set := old.Attrs.Lookup(a.Name); !set || v == "" {
			if !attrsCopied {
				old.Attrs, attrsCopied = append(make(Attrs, 0, len(old.Attrs)+len(e.Attrs)), old.Attrs...), true
			}
			old.Attrs.Set(a.Name, a.Value)
		}
	}
	// The first record's labels are the source's own map (a source may keep it across
	// refreshes, an informer's cache may still read it): merging writes into a copy.
	copied := false
	for k, v := range e.Labels {
		if _, set := old.Labels[k]; !set {
			if !copied {
				old.Labels, copied = maps.Clone(old.Labels), true
				if old.Labels == nil {
					old.Labels = map[string]string{}
				}
			}
			old.Labels[k] = v
		}
	}
	old.Sources = union(old.Sources, e.Sources)
	if e.LastSeen.After(old.LastSeen) {
		old.LastSeen = e.LastSeen
	}
	old.Stale = old.Stale && e.Stale
	return old
}

// Keep adds an entity of another graph as it is, shared, at the next place, when from holds it
// and its Ref is not here yet (else ok is false and nothing changes): a refresh keeps the last
// graph's entities that did not change instead of making them again. seen is when its sources
// last reported it, LastSeen's answer in this graph. Put copies a kept entity before it merges
// into it, so the other graph's never changes. Its lists of edges here start with room for as
// many as it has in from.
func (g *Graph) Keep(e *Entity, seen time.Time, from *Graph) (kept *Entity, ok bool) {
	at, held := from.at(e)
	if !held {
		return nil, false
	}
	s, k, _, found, placed := g.find(e.Ref)
	if found {
		return nil, false
	}
	t := slices.IndexFunc(g.times, seen.Equal)
	if t < 0 {
		if len(g.times) > math.MaxUint16 {
			return nil, false
		}
		t = len(g.times)
		g.times = append(g.times, seen)
	}
	if p := int32(len(g.nodes)); p != e.place {
		if g.moved == nil {
			g.moved = map[*Entity]int32{}
		}
		g.moved[e] = p
	}
	there := &from.nodes[at]
	g.add(s, k, placed, node{entity: e, kept: true, seen: uint16(t), down: g.room(len(there.down)), up: g.room(len(there.up))})
	return e, true
}

// room is an empty list of edges with room for n, carved from a block: a fleet's 800,000
// lists need not be as many allocations, each grown from one. Its capacity is its own, so
// that an append beyond it moves it instead of writing over the next one's.
func (g *Graph) room(n int) []*Edge {
	if n == 0 {
		return nil
	}
	if cap(g.adjacency)-len(g.adjacency) < n {
		g.adjacency = make([]*Edge, 0, max(16384, n))
	}
	l := len(g.adjacency)
	g.adjacency = g.adjacency[:l+n]
	return g.adjacency[l : l : l+n]
}

// own is the entity at place i, made this graph's own first if it is another's (Keep): a copy
// with this graph's last-seen time, which the edges here lead to instead.
func (g *Graph) own(i int32) *Entity {
	n := &g.nodes[i]
	if !n.kept {
		return n.entity
	}
	c := g.newEntity(*n.entity)
	c.LastSeen, c.place = g.times[n.seen], i
	delete(g.moved, n.entity)
	for _, e := range n.down {
		e.from = c
	}
	for _, e := range n.up {
		e.to = c
	}
	n.entity, n.kept = c, false
	return c
}

// newEntity stores an entity: from a block, a fleet's 400,000 not as many allocations; on its
// own in a graph that keeps the last one's entities (ShareIndex), where the few made anew would
// each keep a whole block from the collector for as long as a later graph keeps them.
func (g *Graph) newEntity(e Entity) *Entity {
	if g.keeps {
		return &e
	}
	if len(g.entities) == cap(g.entities) {
		g.entities = make([]Entity, 0, 1024)
	}
	g.entities = append(g.entities, e)
	return &g.entities[len(g.entities)-1]
}

// Current is the entity of this graph with e's Ref: e itself, or the copy that replaced it
// when a merge made a kept entity this graph's own (a pointer taken before is then the last
// graph's, without what the merge added).
func (g *Graph) Current(e *Entity) *Entity {
	if g.holds(e) {
		return e
	}
	if c, ok := g.Get(e.Ref); ok {
		return c
	}
	return e
}

// LastSeen is when e's sources last reported it, in this graph: an entity kept from another
// graph has its own LastSeen of then.
func (g *Graph) LastSeen(e *Entity) time.Time {
	if i, ok := g.at(e); ok {
		if n := &g.nodes[i]; n.kept {
			return g.times[n.seen]
		}
	}
	return e.LastSeen
}

// Link adds an edge, or merges the source into the existing one. Both ends must exist;
// an edge to or from an unknown entity is not added.
func (g *Graph) Link(from, to Ref, source string, seen time.Time) {
	fi, ok1 := g.lookup(from)
	ti, ok2 := g.lookup(to)
	if !ok1 || !ok2 {
		return
	}
	g.link(fi, ti, source, seen)
}

// Connect is Link for two entities already in this graph (as Put returned them), without
// the lookups by Ref.
func (g *Graph) Connect(from, to *Entity, source string, seen time.Time) {
	fi, ok1 := g.at(from)
	ti, ok2 := g.at(to)
	if !ok1 || !ok2 {
		g.Link(from.Ref, to.Ref, source, seen)
		return
	}
	g.link(fi, ti, source, seen)
}

// Place is e's place in g (0 to Len()-1, in the order All visits), or -1 when g does not hold
// it: a copy of a graph keeps its entities in a slice by place instead of a map by Ref.
func (g *Graph) Place(e *Entity) int {
	i, ok := g.at(e)
	if !ok {
		return -1
	}
	return int(i)
}

func (g *Graph) holds(e *Entity) bool {
	_, ok := g.at(e)
	return ok
}

// at is e's place in g, when g holds it: the place of the graph that made it, or where g
// moved it.
func (g *Graph) at(e *Entity) (int32, bool) {
	if int(e.place) < len(g.nodes) && g.nodes[e.place].entity == e {
		return e.place, true
	}
	if i, ok := g.moved[e]; ok && g.nodes[i].entity == e {
		return i, true
	}
	return 0, false
}

func (g *Graph) link(fi, ti int32, source string, seen time.Time) {
	to := g.nodes[ti].entity
	for _, e := range g.nodes[fi].down {
		if e.to == to {
			e.Sources = union(e.Sources, []string{source})
			if s := unixSeen(seen); s > e.seen {
				e.seen = s
			}
			return
		}
	}
	if len(g.slab) == cap(g.slab) {
		g.slab = make([]Edge, 0, 4096) // a million edges need not be a million allocations
	}
	g.slab = append(g.slab, Edge{from: g.nodes[fi].entity, to: to, Sources: g.Single(source), seen: unixSeen(seen)})
	e := &g.slab[len(g.slab)-1]
	g.nodes[fi].down = append(g.nodes[fi].down, e)
	g.nodes[ti].up = append(g.nodes[ti].up, e)
	g.edges++
}

// Get returns the entity with that Ref.
func (g *Graph) Get(r Ref) (*Entity, bool) {
	i, ok := g.lookup(r)
	if !ok {
		return nil, false
	}
	return g.nodes[i].entity, true
}

// EntityAt is the entity at a place (0 to Len()-1, as Place tells), or nil past the last.
func (g *Graph) EntityAt(place int) *Entity {
	if place < 0 || place >= len(g.nodes) {
		return nil
	}
	return g.nodes[place].entity
}

// Count is the number of entities of a kind.
func (g *Graph) Count(kind Kind) int { return len(g.byKind[kind]) }

// Len is the number of entities.
func (g *Graph) Len() int { return len(g.nodes) }

// Entities returns every entity of a kind ("" for all), sorted by kind depth then id.
func (g *Graph) Entities(kind Kind) []*Entity {
	out := make([]*Entity, 0)
	g.Each(kind, func(e *Entity) { out = append(out, e) })
	sort.Slice(out, func(i, j int) bool { return less(out[i].Ref, out[j].Ref) })
	return out
}

// Below returns the entities of a kind that r's edges lead down to.
func (g *Graph) Below(r Ref, kind Kind) []*Entity {
	var out []*Entity
	for _, e := range g.Down(r) {
		if e.to.Kind == kind {
			out = append(out, e.to)
		}
	}
	return out
}

// Above returns the entities of a kind whose edges lead down to r.
func (g *Graph) Above(r Ref, kind Kind) []*Entity {
	var out []*Entity
	for _, e := range g.Up(r) {
		if e.from.Kind == kind {
			out = append(out, e.from)
		}
	}
	return out
}

// Each calls f for every entity of a kind ("" for all), in no particular order: cheaper than
// Entities on a large graph when the order does not matter.
func (g *Graph) Each(kind Kind, f func(*Entity)) {
	if kind != "" {
		for _, i := range g.byKind[kind] {
			f(g.nodes[i].entity)
		}
		return
	}
	for _, n := range g.nodes {
		f(n.entity)
	}
}

// All is Each as an iterator, for a walk that may stop early.
func (g *Graph) All(kind Kind) iter.Seq[*Entity] {
	return func(yield func(*Entity) bool) {
		if kind != "" {
			for _, i := range g.byKind[kind] {
				if !yield(g.nodes[i].entity) {
					return
				}
			}
			return
		}
		for _, n := range g.nodes {
			if !yield(n.entity) {
				return
			}
		}
	}
}

// EachEdge calls f for every edge, in no particular order.
func (g *Graph) EachEdge(f func(*Edge)) {
	for _, n := range g.nodes {
		for _, e := range n.down {
			f(e)
		}
	}
}

// Down returns the edges from r toward the hardware.
func (g *Graph) Down(r Ref) []*Edge {
	if i, ok := g.lookup(r); ok {
		return g.nodes[i].down
	}
	return nil
}

// DownOf is Down for an entity of this graph, without the lookup by Ref.
func (g *Graph) DownOf(e *Entity) []*Edge {
	if i, ok := g.at(e); ok {
		return g.nodes[i].down
	}
	return g.Down(e.Ref)
}

// UpOf is Up for an entity of this graph, without the lookup by Ref.
func (g *Graph) UpOf(e *Entity) []*Edge {
	if i, ok := g.at(e); ok {
		return g.nodes[i].up
	}
	return g.Up(e.Ref)
}

// Up returns the edges into r from above.
func (g *Graph) Up(r Ref) []*Edge {
	if i, ok := g.lookup(r); ok {
		return g.nodes[i].up
	}
	return nil
}

// Edges returns every edge, sorted.
func (g *Graph) Edges() []*Edge {
	out := make([]*Edge, 0, g.edges)
	for _, n := range g.nodes {
		out = append(out, n.down...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From() != out[j].From() {
			return less(out[i].From(), out[j].From())
		}
		return less(out[i].To(), out[j].To())
	})
	return out
}

func less(a, b Ref) bool { return a.Less(b) }

// Less orders refs as Entities and Edges list them: by kind from the top, then by id.
func (r Ref) Less(o Ref) bool {
	if r.Kind != o.Kind {
		return r.Kind.Depth() < o.Kind.Depth()
	}
	return r.ID < o.ID
}

// union adds b's sources to a; a is shared (see single), so it is copied before it changes.
func union(a, b []string) []string {
	var out []string
	for _, s := range b {
		if !slices.Contains(a, s) {
			if out == nil {
				out = slices.Clone(a)
			}
			out = append(out, s)
		}
	}
	if out == nil {
		return a
	}
	sort.Strings(out)
	return out
}
