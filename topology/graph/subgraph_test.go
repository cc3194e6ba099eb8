package graph

import (
	"slices"
	"testing"
	"time"
)

// TestSubgraph: the kept entities, as they were, and only the edges between two of them; the
// graph it came from is left as it was.
func TestSubgraph(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	g := New(at)
	put := func(kind Kind, id string) *Entity {
		return g.Put(&Entity{Ref: Ref{kind, id}, Name: id, Attrs: AttrsOf(map[string]string{"a": id}), LastSeen: at})
	}
	lb, svc, s0, s1, h := put(LB, "edge"), put(Service, "edge/web"), put(Instance, "edge/web/s0"), put(Instance, "edge/web/s1"), put(Host, "h")
	g.Connect(lb, svc, "x", at)
	g.Connect(svc, s0, "x", at)
	g.Connect(svc, s1, "y", at)
	g.Connect(s0, h, "x", at)
	g.Connect(s1, h, "x", at)

	sub := Subgraph(g, func(e *Entity) bool { return e.ID != "edge/web/s1" })
	if sub.Len() != 4 || sub.Count(Instance) != 1 {
		t.Fatalf("kept %d entities, %d instances; want 4 and 1", sub.Len(), sub.Count(Instance))
	}
	var edges []string
	for _, e := range sub.Edges() {
		edges = append(edges, e.From().String()+">"+e.To().String()+" "+e.Sources[0])
	}
	if want := []string{"lb/edge>service/edge/web x", "service/edge/web>instance/edge/web/s0 x", "instance/edge/web/s0>host/h x"}; !slices.Equal(edges, want) {
		t.Errorf("edges %q, want %q", edges, want)
	}
	if got, _ := sub.Get(Ref{Host, "h"}); got == h || got.Attrs.Get("a") != "h" || len(sub.UpOf(got)) != 1 {
		t.Errorf("the host in the subgraph: %+v (a copy with one edge up)", got)
	}
	if g.Len() != 5 || len(g.UpOf(h)) != 2 {
		t.Error("the graph itself changed")
	}
}
