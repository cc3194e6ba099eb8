// Package graph holds strata's domain: the kinds of entity from the load balancer down to the
// host, entities with their identity, attributes and labels, and the edges between them with
// the sources that reported them. It does no I/O.
package graph

import (
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

// Kinds lists every kind from top to bottom.
func Kinds() []Kind { return []Kind{LB, Service, Instance, Pod, Container, Image, Host} }

// Depth is a kind's place from the top (lb is 0); -1 for an unknown kind.
func (k Kind) Depth() int { return slices.Index(Kinds(), k) }

// Ref names one entity: its kind and its stable identity.
type Ref struct {
	Kind Kind
	ID   string
}

func (r Ref) String() string { return string(r.Kind) + "/" + r.ID }

// Entity is one node of the graph.
type Entity struct {
	Ref
	Name     string
	Attrs    map[string]string // kind-specific facts (kernel_release, address, health, …)
	Labels   map[string]string // k8s labels, LB tags, inventory labels
	Sources  []string          // which sources reported it
	LastSeen time.Time
	Stale    bool // its sources stopped reporting; kept for the grace period
}

// Attr returns an attribute, or the entity's name for "name" and its id for "id".
func (e *Entity) Attr(name string) string {
	switch name {
	case "name":
		return e.Name
	case "id":
		return e.ID
	}
	return e.Attrs[name]
}

// Edge goes from an entity toward the hardware (lb → service → instance → … → host).
type Edge struct {
	From, To Ref
	Sources  []string
	LastSeen time.Time
}

// Graph is the whole topology at one time.
type Graph struct {
	At       time.Time
	entities map[Ref]*Entity
	down     map[Ref][]*Edge // by From
	up       map[Ref][]*Edge // by To
}

// New returns an empty graph.
func New(at time.Time) *Graph {
	return &Graph{At: at, entities: map[Ref]*Entity{}, down: map[Ref][]*Edge{}, up: map[Ref][]*Edge{}}
}

// Put adds an entity or merges it into the one with the same Ref: attributes already set are
// kept (the caller adds the strongest source first), labels likewise, sources are unioned.
func (g *Graph) Put(e *Entity) *Entity {
	old, ok := g.entities[e.Ref]
	if !ok {
		if e.Attrs == nil {
			e.Attrs = map[string]string{}
		}
		if e.Labels == nil {
			e.Labels = map[string]string{}
		}
		g.entities[e.Ref] = e
		return e
	}
	if old.Name == "" {
		old.Name = e.Name
	}
	for k, v := range e.Attrs {
		if _, set := old.Attrs[k]; !set || old.Attrs[k] == "" {
			old.Attrs[k] = v
		}
	}
	for k, v := range e.Labels {
		if _, set := old.Labels[k]; !set {
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

// Link adds an edge, or merges sources into the existing one. Both ends must exist.
func (g *Graph) Link(from, to Ref, source string, seen time.Time) {
	for _, e := range g.down[from] {
		if e.To == to {
			e.Sources = union(e.Sources, []string{source})
			if seen.After(e.LastSeen) {
				e.LastSeen = seen
			}
			return
		}
	}
	e := &Edge{From: from, To: to, Sources: []string{source}, LastSeen: seen}
	g.down[from] = append(g.down[from], e)
	g.up[to] = append(g.up[to], e)
}

// Get returns the entity with that Ref.
func (g *Graph) Get(r Ref) (*Entity, bool) {
	e, ok := g.entities[r]
	return e, ok
}

// Len is the number of entities.
func (g *Graph) Len() int { return len(g.entities) }

// Entities returns every entity of a kind ("" for all), sorted by kind depth then id.
func (g *Graph) Entities(kind Kind) []*Entity {
	out := make([]*Entity, 0)
	for _, e := range g.entities {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i].Ref, out[j].Ref) })
	return out
}

// Down returns the edges from r toward the hardware.
func (g *Graph) Down(r Ref) []*Edge { return g.down[r] }

// Up returns the edges into r from above.
func (g *Graph) Up(r Ref) []*Edge { return g.up[r] }

// Edges returns every edge, sorted.
func (g *Graph) Edges() []*Edge {
	var out []*Edge
	for _, es := range g.down {
		out = append(out, es...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return less(out[i].From, out[j].From)
		}
		return less(out[i].To, out[j].To)
	})
	return out
}

func less(a, b Ref) bool {
	if a.Kind != b.Kind {
		return a.Kind.Depth() < b.Kind.Depth()
	}
	return a.ID < b.ID
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	sort.Strings(a)
	return a
}
