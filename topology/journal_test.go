package topology

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

var journalT0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// journalScene is a graph of two LBs: edge → c1ps → s0 (host node-17) and s1 (container on
// node-18), and inner → api → a0 on node-18, so that node-18 is under both LBs.
type journalScene struct {
	kernel17, s0Health, node18Rack, node18Note string
	s0Resolved, s0ReqRate, s0Failing           string
	s1, s2                                     bool // s1 still there, s2 added
	s0OnNode18                                 bool // s0 moved from node-17 to node-18
}

func (s journalScene) graph(at time.Time) *graph.Graph {
	g := graph.New(at)
	put := func(kind graph.Kind, id string, attrs, labels map[string]string) graph.Ref {
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: id[strings.LastIndex(id, "/")+1:],
			Attrs: graph.AttrsOf(attrs), Labels: labels, Sources: []string{"test"}, LastSeen: at}).Ref
	}
	link := func(from, to graph.Ref) { g.Link(from, to, "test", at) }
	edge, inner := put(graph.LB, "haproxy/edge", map[string]string{"provider": "haproxy"}, nil), put(graph.LB, "haproxy/inner", map[string]string{"provider": "haproxy"}, nil)
	c1ps, api := put(graph.Service, "edge/c1ps", map[string]string{"lb": "edge"}, nil), put(graph.Service, "inner/api", map[string]string{"lb": "inner"}, nil)
	link(edge, c1ps)
	link(inner, api)
	node17 := put(graph.Host, "node-17", map[string]string{"kernel_release": s.kernel17, "addresses": at.Format(time.RFC3339)}, nil)
	node18 := put(graph.Host, "node-18", map[string]string{"kernel_release": "5.4.0"}, map[string]string{"rack": s.node18Rack, "note": s.node18Note})
	s0 := put(graph.Instance, "edge/c1ps/s0", map[string]string{"server": "s0", "health": s.s0Health, "resolved_via": s.s0Resolved,
		"req_rate": s.s0ReqRate, "error_ratio": s.s0ReqRate, "failing": s.s0Failing}, nil)
	link(c1ps, s0)
	if s.s0OnNode18 {
		link(s0, node18)
	} else {
		link(s0, node17)
	}
	if s.s1 {
		s1 := put(graph.Instance, "edge/c1ps/s1", map[string]string{"server": "s1", "health": "UP"}, nil)
		c := put(graph.Container, "c1", map[string]string{"host": "node-18"}, nil)
		link(c1ps, s1)
		link(s1, c)
		link(c, node18)
	}
	if s.s2 {
		s2 := put(graph.Instance, "edge/c1ps/s2", map[string]string{"server": "s2", "health": "UP"}, nil)
		link(c1ps, s2)
		link(s2, node17)
	}
	a0 := put(graph.Instance, "inner/api/a0", map[string]string{"server": "a0", "health": "UP"}, nil)
	link(api, a0)
	link(a0, node18)
	return g
}

var journalBefore = journalScene{kernel17: "6.1.0-13-amd64", s0Health: "UP", node18Rack: "r12", s0Resolved: "address of host node-17",
	s0ReqRate: "12.5", s0Failing: "false", s1: true}

// TestJournalRecordsWhatTheSeriesCarry: between two refreshes a kernel upgrade, a health
// flip, an allow-listed label, an instance gone with its container, one come, and one moved
// are recorded at the second refresh with the LBs above each; the first refresh records
// nothing; what no series carries (resolved_via, an unlisted label, the LB's traffic signals,
// a host's addresses, failing) is no change.
func TestJournalRecordsWhatTheSeriesCarry(t *testing.T) {
	j := newJournal(100, []string{"rack"})
	t1, t2 := journalT0, journalT0.Add(15*time.Second)
	j.observe(journalBefore.graph(t1), t1)
	if got, since := j.changes(time.Time{}, t2); len(got) != 0 || !since.Equal(t1) {
		t.Fatalf("after the first refresh: %v since %s, want nothing since %s", got, since, t1)
	}

	after := journalBefore
	after.kernel17, after.s0Health, after.node18Rack, after.node18Note = "6.1.0-18-amd64", "DOWN", "r13", "anything"
	after.s0Resolved, after.s0ReqRate, after.s0Failing = "address of host node-18", "80", "true"
	after.s1, after.s2, after.s0OnNode18 = false, true, true
	j.observe(after.graph(t2), t2)

	edge, both := []string{"haproxy/edge"}, []string{"haproxy/edge", "haproxy/inner"}
	want := []graph.Change{
		{Change: "changed", Kind: "instance", ID: "edge/c1ps/s0", Attribute: "health", From: "UP", To: "DOWN", LBs: edge},
		{Change: "removed", Kind: "instance", ID: "edge/c1ps/s1", LBs: edge},
		{Change: "added", Kind: "instance", ID: "edge/c1ps/s2", LBs: edge},
		{Change: "removed", Kind: "container", ID: "c1", LBs: edge}, // in the old graph, under edge alone
		{Change: "changed", Kind: "host", ID: "node-17", Attribute: "kernel_release", From: "6.1.0-13-amd64", To: "6.1.0-18-amd64", LBs: edge},
		{Change: "changed", Kind: "host", ID: "node-18", Attribute: "rack", From: "r12", To: "r13", LBs: both},
		{Change: "added", Kind: "edge", ID: "instance/edge/c1ps/s0 -> host/node-18", LBs: edge},
		{Change: "added", Kind: "edge", ID: "instance/edge/c1ps/s2 -> host/node-17", LBs: edge},
		{Change: "added", Kind: "edge", ID: "service/edge/c1ps -> instance/edge/c1ps/s2", LBs: edge},
		{Change: "removed", Kind: "edge", ID: "container/c1 -> host/node-18", LBs: edge},
		{Change: "removed", Kind: "edge", ID: "instance/edge/c1ps/s0 -> host/node-17", LBs: edge},
		{Change: "removed", Kind: "edge", ID: "instance/edge/c1ps/s1 -> container/c1", LBs: edge},
		{Change: "removed", Kind: "edge", ID: "service/edge/c1ps -> instance/edge/c1ps/s1", LBs: edge},
	}
	for i := range want {
		want[i].At = t2
	}
	// In the order of the path language's diff: entities from the top down by id, then edges.
	got, since := j.changes(t1, t2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !since.Equal(t1) {
		t.Errorf("since %s, want the first refresh %s", since, t1)
	}

	// The window is (from, to]: the refresh at from is before it.
	if got, _ := j.changes(t2, t2.Add(time.Hour)); len(got) != 0 {
		t.Errorf("changes after %s: %d, want none", t2, len(got))
	}
	// A copy: the caller's changes are its own.
	got[0].ID = "scribbled"
	if again, _ := j.changes(t1, t2); again[0].ID == "scribbled" {
		t.Error("Changes hands out the journal's own slice")
	}

	// A steady refresh, whose traffic signals moved again, records nothing.
	steady := after
	steady.s0ReqRate, steady.s0Failing = "95.25", "false"
	j.observe(steady.graph(t2.Add(15*time.Second)), t2.Add(15*time.Second))
	if got, _ := j.changes(t2, t2.Add(time.Hour)); len(got) != 0 {
		t.Errorf("a steady refresh recorded %v", got)
	}
}

// TestJournalBounded: the journal keeps its last size changes; when the oldest go, since moves
// to their refresh, which the journal no longer holds whole. A refresh of more changes than it
// holds empties it, and it starts after that refresh.
func TestJournalBounded(t *testing.T) {
	j := newJournal(5, nil)
	at := func(i int) time.Time { return journalT0.Add(time.Duration(i) * 15 * time.Second) }
	scene := journalBefore
	j.observe(scene.graph(at(0)), at(0))
	for i := 1; i <= 4; i++ { // one kernel change each: four changes
		scene.kernel17 = fmt.Sprintf("6.1.0-%d", i)
		j.observe(scene.graph(at(i)), at(i))
	}
	if got, since := j.changes(time.Time{}, at(10)); len(got) != 4 || !since.Equal(at(0)) {
		t.Fatalf("four refreshes: %d changes since %s, want 4 since %s", len(got), since, at(0))
	}
	// Two at once: the first change (at(1)) goes.
	scene.kernel17, scene.s0Health = "6.1.0-5", "DOWN"
	j.observe(scene.graph(at(5)), at(5))
	got, since := j.changes(time.Time{}, at(10))
	if len(got) != 5 || !since.Equal(at(1)) || !got[0].At.Equal(at(2)) || !got[4].At.Equal(at(5)) {
		t.Errorf("after the ring wrapped: %d changes from %s to %s since %s, want 5 from %s to %s since %s",
			len(got), got[0].At, got[len(got)-1].At, since, at(2), at(5), at(1))
	}
	if got, _ := j.changes(at(2), at(4)); len(got) != 2 || got[0].To != "6.1.0-3" || got[1].To != "6.1.0-4" {
		t.Errorf("changes in (at(2), at(4)]: %+v, want the kernels 6.1.0-3 and 6.1.0-4", got)
	}

	// Six changes in one refresh: more than it holds.
	scene.s1, scene.s2 = false, true
	j.observe(scene.graph(at(6)), at(6))
	if got, since := j.changes(time.Time{}, at(10)); len(got) != 0 || !since.Equal(at(6)) {
		t.Errorf("after a refresh larger than the journal: %d changes since %s, want none since %s", len(got), since, at(6))
	}
	scene.kernel17 = "6.1.0-7"
	j.observe(scene.graph(at(7)), at(7))
	if got, _ := j.changes(at(6), at(7)); len(got) != 1 {
		t.Errorf("the refresh after: %d changes, want the kernel's", len(got))
	}

	// A clock that goes back starts the journal again: its times would no longer be in order.
	j.observe(scene.graph(at(3)), at(3))
	if got, since := j.changes(time.Time{}, at(10)); len(got) != 0 || !since.Equal(at(3)) {
		t.Errorf("after the clock went back: %d changes since %s, want none since %s", len(got), since, at(3))
	}
}

// TestJournalLBsCut: a host under more LBs than a change names lists the first ones, sorted,
// and says there are more.
func TestJournalLBsCut(t *testing.T) {
	build := func(at time.Time, kernel string) *graph.Graph {
		g := graph.New(at)
		host := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "shared"}, Attrs: graph.AttrsOf(map[string]string{"kernel_release": kernel})}).Ref
		for i := range maxChangeLBs + 5 {
			lb := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.LB, ID: fmt.Sprintf("haproxy/lb-%02d", i)}}).Ref
			svc := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Service, ID: fmt.Sprintf("lb-%02d/web", i)}}).Ref
			inst := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: fmt.Sprintf("lb-%02d/web/s0", i)}}).Ref
			g.Link(lb, svc, "test", at)
			g.Link(svc, inst, "test", at)
			g.Link(inst, host, "test", at)
			if i%2 == 0 { // two ways up to the same LB count it once
				other := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: fmt.Sprintf("lb-%02d/web/s1", i)}}).Ref
				g.Link(svc, other, "test", at)
				g.Link(other, host, "test", at)
			}
		}
		return g
	}
	j := newJournal(100, nil)
	j.observe(build(journalT0, "5.4"), journalT0)
	j.observe(build(journalT0.Add(time.Minute), "6.1"), journalT0.Add(time.Minute))
	got, _ := j.changes(journalT0, journalT0.Add(time.Minute))
	if len(got) != 1 {
		t.Fatalf("changes %+v, want the kernel's", got)
	}
	var want []string
	for i := range maxChangeLBs {
		want = append(want, fmt.Sprintf("haproxy/lb-%02d", i))
	}
	if !slices.Equal(got[0].LBs, want) || !got[0].MoreLBs {
		t.Errorf("LBs %v more %v, want the first %d and more", got[0].LBs, got[0].MoreLBs, maxChangeLBs)
	}
}

// TestMergeLBs: cut sets merge into the first ids of their union, and say when there are more.
func TestMergeLBs(t *testing.T) {
	ids := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("lb-%03d", i))
		}
		return out
	}
	for _, c := range []struct {
		name     string
		a, b     lbSet
		want     []string
		wantMore bool
	}{
		{"empty", lbSet{}, lbSet{ids: ids(0, 2)}, ids(0, 2), false},
		{"same", lbSet{ids: ids(0, 2)}, lbSet{ids: ids(0, 2)}, ids(0, 2), false},
		{"interleaved", lbSet{ids: []string{"a", "c"}}, lbSet{ids: []string{"b", "c", "d"}}, []string{"a", "b", "c", "d"}, false},
		{"cut", lbSet{ids: ids(0, maxChangeLBs)}, lbSet{ids: ids(5, maxChangeLBs+5)}, ids(0, maxChangeLBs), true},
		{"cut before", lbSet{ids: ids(0, 3), more: true}, lbSet{ids: ids(1, 2)}, ids(0, 3), true},
	} {
		got := mergeLBs(c.a, c.b)
		if !slices.Equal(got.ids, c.want) || got.more != c.wantMore {
			t.Errorf("%s: %v more %v, want %v more %v", c.name, got.ids, got.more, c.want, c.wantMore)
		}
	}
}

// TestSignalAttrsAreNotChanges: the attributes the refresh makes of the LB's traffic are the
// ones graph.IsSignal names (the path language's diff skips them too), and none is carried as
// an attribute the journal compares.
func TestSignalAttrsAreNotChanges(t *testing.T) {
	for _, a := range []string{signalReqRate, signal2xxRate, signal3xxRate, signal4xxRate, signal5xxRate, signalErrorRate, signalErrorRatio,
		signalSessions, signalQueue, signalResponseTime, signalNote} {
		if !graph.IsSignal(a) {
			t.Errorf("graph.IsSignal(%q) is false: diffs would report it every refresh", a)
		}
	}
	if graph.IsSignal(signalFailing) {
		t.Error("failing is a signal to graph.IsSignal: its flips would not be changes")
	}
	for kind, attrs := range carriedAttrs {
		for _, a := range attrs {
			if graph.IsSignal(a) {
				t.Errorf("%s's carried attribute %s is a traffic signal", kind, a)
			}
		}
	}
}

// TestRefresherChanges: the refresh loop journals each refresh against the last: a kernel
// upgrade between two refreshes is one change at the second, while the LB's counters that
// moved in between (rates on every refresh) are none.
func TestRefresherChanges(t *testing.T) {
	now := journalT0
	requests := 100.0
	lbs := &scriptedLBs{}
	facts := &scriptedFacts{}
	scene := func(kernel string) {
		lbs.lbs = []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
			Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80, Health: "UP",
				Traffic: source.Traffic{source.TrafficRequests: requests, source.TrafficSessions: requests / 10}}}}}}}
		facts.facts = &source.FactSet{Hosts: []source.Host{{Origin: source.OriginExporter, Name: "web-1", Addresses: []string{"192.0.2.7"},
			Attrs: map[string]string{"kernel_release": kernel}}}}
	}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{lbs}, FactSources: []source.Facts{facts},
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	if got, since := r.Changes(time.Time{}, now); len(got) != 0 || !since.IsZero() {
		t.Fatalf("before the first refresh: %v since %s, want nothing since zero", got, since)
	}
	// Pages read the journal while the loop refreshes (go test -race).
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			select {
			case <-stop:
				return
			default:
				r.Changes(journalT0, journalT0.Add(time.Hour))
			}
		}
	}()
	for i, kernel := range []string{"6.1.0-13", "6.1.0-13", "6.1.0-18", "6.1.0-18"} {
		if i > 0 {
			now = now.Add(15 * time.Second)
			requests += 1000 * float64(i)
		}
		scene(kernel)
		r.Refresh(context.Background())
	}
	close(stop)
	<-read
	if g, _ := r.Graph(); g.Entities(graph.Instance)[0].Attrs.Get("req_rate") == "" {
		t.Fatal("the scene has no req_rate: the test would prove nothing of signals")
	}
	got, since := r.Changes(journalT0, now)
	want := []graph.Change{{At: journalT0.Add(30 * time.Second), Change: "changed", Kind: "host", ID: "web-1", Attribute: "kernel_release",
		From: "6.1.0-13", To: "6.1.0-18", LBs: []string{"haproxy/edge"}}}
	if diff := cmp.Diff(want, got); diff != "" || !since.Equal(journalT0) {
		t.Errorf("changes since %s (want %s) (-want +got):\n%s", since, journalT0, diff)
	}
}

// BenchmarkJournalFleet is the journal's share of a refresh of the synthetic fleet: a steady
// refresh (nothing changed, the common case) and one where every host's kernel changed, with
// the LBs above each of the 10,000 hosts. BenchmarkRefreshFleet includes the steady case.
func BenchmarkJournalFleet(b *testing.B) {
	at := journalT0
	facts, lbs := sourcetest.Synthetic(at)
	src := &sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbs}},
		FactSources: []source.Facts{src}, Now: func() time.Time { return at }}, slog.New(slog.DiscardHandler))
	g1 := r.Refresh(context.Background())
	g2 := r.Refresh(context.Background())
	upgraded := *facts
	upgraded.Hosts = slices.Clone(facts.Hosts)
	for i := range upgraded.Hosts {
		upgraded.Hosts[i].Attrs = maps.Clone(upgraded.Hosts[i].Attrs)
		upgraded.Hosts[i].Attrs["kernel_release"] = "6.12.0-1-amd64"
	}
	src.Set = &upgraded
	g3 := r.Refresh(context.Background())
	j := newJournal(journalSize, nil)
	for _, c := range []struct {
		name     string
		old, cur *graph.Graph
		want     int
	}{{"steady", g1, g2, 0}, {"every-kernel", g2, g3, len(facts.Hosts) * 2 / 3}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				changes, ok := diffGraphs(c.old, c.cur, at, j.allowed, j.meta, j.size, &diffBuffers{})
				if !ok || len(changes) < c.want {
					b.Fatalf("%d changes (ok %v), want at least %d", len(changes), ok, c.want)
				}
			}
		})
	}
}
