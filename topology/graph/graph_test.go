package graph

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func TestPutKeepsTheFirstFactAndUnionsSources(t *testing.T) {
	g := New(t0)
	h := Ref{Host, "node-1"}
	g.Put(&Entity{Ref: h, Name: "node-1", Attrs: map[string]string{"kernel_release": "6.1.0-15", "os_image": ""},
		Sources: []string{"metrics"}, LastSeen: t0})
	g.Put(&Entity{Ref: h, Attrs: map[string]string{"kernel_release": "6.1.0-13", "os_image": "Flatcar"},
		Labels: map[string]string{"rack": "r12"}, Sources: []string{"inventory"}, LastSeen: t0.Add(time.Minute), Stale: true})
	e, ok := g.Get(h)
	if !ok {
		t.Fatal("host missing")
	}
	if e.Attrs["kernel_release"] != "6.1.0-15" || e.Attrs["os_image"] != "Flatcar" {
		t.Errorf("attrs %v: the first source's facts win, the second fills the empty ones", e.Attrs)
	}
	if e.Labels["rack"] != "r12" || !slices.Equal(e.Sources, []string{"inventory", "metrics"}) {
		t.Errorf("labels %v sources %v", e.Labels, e.Sources)
	}
	if !e.LastSeen.Equal(t0.Add(time.Minute)) || e.Stale {
		t.Errorf("last seen %v stale %v: the newest sighting counts, and one live source keeps it fresh", e.LastSeen, e.Stale)
	}
	if g.Len() != 1 {
		t.Errorf("Len %d", g.Len())
	}
}

// TestSharedSourceListsStayApart: edges share one-source lists (Graph.single); adding a
// source to one edge must not change the others.
func TestSharedSourceListsStayApart(t *testing.T) {
	g := New(t0)
	a, b, c := Ref{Instance, "a"}, Ref{Instance, "b"}, Ref{Host, "h"}
	for _, r := range []Ref{a, b, c} {
		g.Put(&Entity{Ref: r})
	}
	g.Link(a, c, "haproxy", t0)
	g.Link(b, c, "haproxy", t0)
	g.Link(a, c, "metrics", t0) // merges into the existing edge
	if got := g.Down(a); len(got) != 1 || !slices.Equal(got[0].Sources, []string{"haproxy", "metrics"}) {
		t.Fatalf("edge a→h: %+v", got)
	}
	if got := g.Down(b)[0].Sources; !slices.Equal(got, []string{"haproxy"}) {
		t.Errorf("edge b→h sources %v: changed through a shared list", got)
	}
	if up := g.Up(c); len(up) != 2 {
		t.Errorf("h has %d edges up, want 2", len(up))
	}
	g.Link(a, Ref{Host, "missing"}, "x", t0)
	if len(g.Down(a)) != 1 {
		t.Error("an edge to an unknown entity was added")
	}
}

func TestEntitiesOrderAndDump(t *testing.T) {
	g := New(t0)
	for _, r := range []Ref{{Host, "b"}, {LB, "edge"}, {Host, "a"}, {Instance, "edge/c1ps/s0"}} {
		g.Put(&Entity{Ref: r, Name: r.ID})
	}
	g.Link(Ref{Instance, "edge/c1ps/s0"}, Ref{Host, "a"}, "haproxy", t0)
	var ids []string
	for _, e := range g.Entities("") {
		ids = append(ids, e.Ref.String())
	}
	if want := []string{"lb/edge", "instance/edge/c1ps/s0", "host/a", "host/b"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v (kind from the top, then id)", ids, want)
	}
	n := 0
	g.Each(Host, func(*Entity) { n++ })
	if n != 2 {
		t.Errorf("Each(host) saw %d", n)
	}
	if d := Dump(g); !strings.Contains(d, "instance/edge/c1ps/s0 -> host/a sources=haproxy\n") {
		t.Errorf("dump lacks the edge:\n%s", d)
	}
	if Kind("hots").Depth() != -1 || Host.Depth() != 6 {
		t.Error("Depth")
	}
}
