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
	g.Put(&Entity{Ref: h, Name: "node-1", Attrs: AttrsOf(map[string]string{"kernel_release": "6.1.0-15", "os_image": ""}),
		Sources: []string{"metrics"}, LastSeen: t0})
	g.Put(&Entity{Ref: h, Attrs: AttrsOf(map[string]string{"kernel_release": "6.1.0-13", "os_image": "Flatcar"}),
		Labels: map[string]string{"rack": "r12"}, Sources: []string{"inventory"}, LastSeen: t0.Add(time.Minute), Stale: true})
	e, ok := g.Get(h)
	if !ok {
		t.Fatal("host missing")
	}
	if e.Attrs.Get("kernel_release") != "6.1.0-15" || e.Attrs.Get("os_image") != "Flatcar" {
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

// TestConnectIsLinkWithoutLookups: Connect on entities of the graph makes the same edges as
// Link, merges sources the same way, walks both ways, and falls back to Link for an entity of
// another graph (whose place means nothing here).
func TestConnectIsLinkWithoutLookups(t *testing.T) {
	g, other := New(t0), New(t0)
	c := g.Put(&Entity{Ref: Ref{Container, "c1"}})
	h := g.Put(&Entity{Ref: Ref{Host, "h1"}})
	stranger := other.Put(&Entity{Ref: Ref{Host, "h1"}}) // same Ref, place 0 in its own graph
	g.Connect(c, h, "metrics", t0)
	g.Connect(c, h, "inventory", t0.Add(time.Second))
	g.Connect(c, stranger, "kube", t0) // resolves by Ref to h
	down := g.DownOf(c)
	if len(down) != 1 || down[0].ToEntity() != h || down[0].FromEntity() != c || down[0].To() != h.Ref {
		t.Fatalf("down of c: %v", down)
	}
	if !slices.Equal(down[0].Sources, []string{"inventory", "kube", "metrics"}) || !down[0].LastSeen().Equal(t0.Add(time.Second)) {
		t.Errorf("sources %v last seen %v", down[0].Sources, down[0].LastSeen())
	}
	if up := g.UpOf(h); len(up) != 1 || up[0] != down[0] {
		t.Errorf("up of h: %v", up)
	}
	if len(g.UpOf(stranger)) != 1 {
		t.Error("UpOf an entity of another graph must look it up by Ref")
	}
	if g.Count(Container) != 1 || g.Count(Host) != 1 || g.Count(Pod) != 0 {
		t.Errorf("counts %d %d %d", g.Count(Container), g.Count(Host), g.Count(Pod))
	}
}

// TestManyEdgesKeepTheirEnds: edges come from blocks; a new block must not move old edges.
func TestManyEdgesKeepTheirEnds(t *testing.T) {
	g := New(t0)
	h := g.Put(&Entity{Ref: Ref{Host, "h"}})
	const n = 10_000
	for i := range n {
		c := g.Put(&Entity{Ref: Ref{Container, strings.Repeat("c", 1+i%7) + string(rune('a'+i%26)) + strings.Repeat("x", i/182)}})
		g.Connect(c, h, "s", t0)
	}
	up := g.UpOf(h)
	if len(up) != g.Count(Container) {
		t.Fatalf("%d edges up to h, %d containers", len(up), g.Count(Container))
	}
	for _, e := range up {
		if e.ToEntity() != h || len(g.DownOf(e.FromEntity())) != 1 || g.DownOf(e.FromEntity())[0] != e {
			t.Fatalf("edge %s -> %s lost its ends", e.From(), e.To())
		}
	}
}

// TestShareIndex: a graph that starts with the last graph's index finds its own entities and
// only those, whatever the last one held, and never writes into the last one's index.
func TestShareIndex(t *testing.T) {
	ref := func(id string) Ref { return Ref{Kind: Container, ID: id} }
	last := New(time.Time{})
	for _, id := range []string{"a", "b", "c"} {
		last.Put(&Entity{Ref: ref(id)})
	}
	steady := New(time.Time{})
	steady.ShareIndex(last)
	if _, ok := steady.Get(ref("a")); ok {
		t.Fatalf("an empty graph finds the last graph's entity")
	}
	for _, id := range []string{"a", "b", "c"} {
		steady.Put(&Entity{Ref: ref(id), Name: id})
	}
	if !steady.shared[slot(Container)] {
		t.Errorf("the same entities in the same places copied the index")
	}
	steady.Put(&Entity{Ref: ref("b"), Attrs: Attrs{{"x", "1"}}}) // a merge, not a fourth entity
	if steady.Len() != 3 {
		t.Errorf("%d entities, want 3", steady.Len())
	}

	changed := New(time.Time{})
	changed.ShareIndex(last)
	changed.Put(&Entity{Ref: ref("a")})
	changed.Put(&Entity{Ref: ref("c")}) // b is gone: c comes one place earlier
	changed.Put(&Entity{Ref: ref("d")})
	for id, want := range map[string]int{"a": 0, "c": 1, "d": 2, "b": -1} {
		got := -1
		if e, ok := changed.Get(ref(id)); ok {
			got = changed.Place(e)
		}
		if got != want {
			t.Errorf("%s at %d, want place %d", id, got, want)
		}
	}
	for id, want := range map[string]int{"a": 0, "b": 1, "c": 2} {
		if e, ok := last.Get(ref(id)); !ok || last.Place(e) != want {
			t.Errorf("the last graph's %s moved: %v", id, ok)
		}
	}
	if _, ok := last.Get(ref("d")); ok {
		t.Errorf("the new graph wrote into the last one's index")
	}
}

// TestKeep: a refresh keeps the last graph's entity as it is, with this graph's time of its
// last sighting; a merge into it changes this graph only, whose edges then lead to its copy.
func TestKeep(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(15 * time.Second)
	last := New(t0)
	a := last.Put(&Entity{Ref: Ref{Kind: Host, ID: "a"}, Sources: []string{"m"}, LastSeen: t0})
	b := last.Put(&Entity{Ref: Ref{Kind: Container, ID: "b"}, Sources: []string{"m"}, LastSeen: t0})
	last.Connect(b, a, "m", t0)

	// Both move: b comes first here, as when an entity before it went.
	next := New(t1)
	next.ShareIndex(last)
	kb, ok2 := next.Keep(b, t1, last)
	ka, ok1 := next.Keep(a, t1, last)
	if !ok1 || !ok2 || ka != a || kb != b {
		t.Fatalf("Keep: %v %v", ok1, ok2)
	}
	if _, ok := next.Keep(b, t1, last); ok || next.Len() != 2 {
		t.Errorf("kept b twice: %d entities", next.Len())
	}
	if _, ok := next.Keep(&Entity{Ref: Ref{Kind: Host, ID: "c"}}, t1, last); ok {
		t.Errorf("kept an entity the last graph does not hold")
	}
	if next.Place(b) != 0 || next.Place(a) != 1 || last.Place(a) != 0 || last.Place(b) != 1 {
		t.Errorf("places: here b %d a %d, in the last graph a %d b %d", next.Place(b), next.Place(a), last.Place(a), last.Place(b))
	}
	if got, _ := next.Get(b.Ref); got != b || len(next.DownOf(b)) != 0 || len(last.DownOf(b)) != 1 {
		t.Errorf("b here: %p, %d edges here, %d in the last graph", got, len(next.DownOf(b)), len(last.DownOf(b)))
	}
	next.Connect(kb, ka, "m", t1)
	if len(next.DownOf(kb)) != 1 || len(next.UpOf(ka)) != 1 || len(last.DownOf(b)) != 1 {
		t.Errorf("the edge: %d down from b, %d up to a here, %d in the last graph", len(next.DownOf(kb)), len(next.UpOf(ka)), len(last.DownOf(b)))
	}
	// A third graph keeps them back where they were made: no longer moved.
	back := New(t1.Add(15 * time.Second))
	back.ShareIndex(next)
	back.Keep(a, t1, next)
	back.Keep(b, t1, next)
	if back.Place(a) != 0 || back.Place(b) != 1 || len(back.moved) != 0 {
		t.Errorf("back: a %d b %d, %d moved", back.Place(a), back.Place(b), len(back.moved))
	}
	if !next.LastSeen(a).Equal(t1) || !last.LastSeen(a).Equal(t0) {
		t.Errorf("last seen %v here, %v in the last graph", next.LastSeen(a), last.LastSeen(a))
	}

	m := next.Put(&Entity{Ref: a.Ref, Attrs: Attrs{{"kernel_release", "6.1.0"}}, Sources: []string{"n"}, LastSeen: t1})
	if m == a || a.Attrs.Get("kernel_release") != "" || len(a.Sources) != 1 {
		t.Fatalf("the merge wrote into the last graph's entity: %+v", a)
	}
	if got, _ := next.Get(a.Ref); got != m || m.Attrs.Get("kernel_release") != "6.1.0" || !next.LastSeen(m).Equal(t1) || len(m.Sources) != 2 {
		t.Errorf("here: %+v, last seen %v", got, next.LastSeen(m))
	}
	if got, _ := last.Get(a.Ref); got != a {
		t.Errorf("the last graph's a changed")
	}
	if next.Place(m) != 1 || next.Place(a) != -1 || last.Place(a) != 0 {
		t.Errorf("after the merge: its copy at %d, the kept one at %d here and %d in the last graph", next.Place(m), next.Place(a), last.Place(a))
	}
	if to := next.DownOf(kb)[0].ToEntity(); to != m {
		t.Errorf("b's edge here leads to %p, not to the merged %p", to, m)
	}
	if to := last.DownOf(b)[0].ToEntity(); to != a {
		t.Errorf("b's edge in the last graph leads elsewhere")
	}
	if sub := Subgraph(next, func(*Entity) bool { return true }); !sub.LastSeen(sub.Entities(Container)[0]).Equal(t1) {
		t.Errorf("a subgraph's copy of a kept entity lost its time")
	}
}
