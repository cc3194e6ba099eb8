package join

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// BenchmarkJoinFleet: a full rebuild of the synthetic fleet's graph (target < 2 s, RSS < 2 GB).
func BenchmarkJoinFleet(b *testing.B) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Synthetic(at)
	in := Input{At: at, Facts: []FactReport{{Source: "metrics", Facts: facts, Seen: at}},
		LBs: []LBReport{{Source: "inventory", LBs: lbs, Seen: at}}}
	b.ResetTimer()
	var warnings []string
	for range b.N {
		var g interface{ Len() int }
		g, warnings = Build(in)
		b.ReportMetric(float64(g.Len()), "entities")
	}
	b.StopTimer()
	if len(warnings) > 0 {
		b.Fatalf("%d warnings, first: %s", len(warnings), warnings[0])
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MB")
}

// TestKeptEntitiesPinNoBlocks: refreshes that keep the last graph's entities and make a few
// anew (one host's kernel upgraded at each) do not grow the heap: an entity made anew must not
// hold a block of others, long gone, for as long as later graphs keep it.
func TestKeptEntitiesPinNoBlocks(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Sized(at, 200, 20)
	join := func(last *graph.Graph) *graph.Graph {
		at = at.Add(15 * time.Second)
		g, _ := Build(Input{At: at, Facts: []FactReport{{Source: "metrics", Facts: facts, Seen: at}},
			LBs: []LBReport{{Source: "inventory", LBs: lbs, Seen: at}}, Last: last})
		return g
	}
	liveHeap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	g := join(nil)
	var before uint64
	for r := range 150 {
		h := &facts.Hosts[r%len(facts.Hosts)]
		h.Attrs["kernel_release"] = fmt.Sprintf("6.1.0-%d-amd64", r)
		g = join(g)
		if r == 29 {
			before = liveHeap()
		}
	}
	if grown := int64(liveHeap()) - int64(before); grown > 4<<20 {
		t.Errorf("120 refreshes that change one host each grew the heap by %d KB", grown>>10)
	}
	if g.Len() == 0 {
		t.Fatal("no graph")
	}
}

// TestJoinAfterAHostLeft: when the first host leaves and comes back, every entity after it
// moves a place; the join still keeps the last graph's entities that did not change (the same
// entities, wherever they now are), answers as a join from scratch, and leaves the last graph
// as it was.
func TestJoinAfterAHostLeft(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts, lbs := sourcetest.Sized(at, 200, 20)
	all := facts.Hosts
	join := func(hosts []source.Host, last *graph.Graph) *graph.Graph {
		set := *facts
		set.Hosts = hosts
		g, _ := Build(Input{At: at, Facts: []FactReport{{Source: "metrics", Facts: &set, Seen: at}},
			LBs: []LBReport{{Source: "inventory", LBs: lbs, Seen: at}}, Last: last})
		return g
	}
	first := join(all, nil)
	before := graph.Dump(first)
	at = at.Add(15 * time.Second)
	for _, hosts := range [][]source.Host{all[1:], all} {
		next := join(hosts, first)
		if got, want := graph.Dump(next), graph.Dump(join(hosts, nil)); got != want {
			t.Fatalf("%d hosts after the last graph: not as a join from scratch", len(hosts))
		}
		kept, moved := 0, 0
		next.Each("", func(e *graph.Entity) {
			if o, ok := first.Get(e.Ref); ok && o == e {
				kept++
				if first.Place(o) != next.Place(e) {
					moved++
				}
			}
		})
		if kept < next.Len()*9/10 {
			t.Errorf("%d hosts: kept %d of %d entities", len(hosts), kept, next.Len())
		}
		if len(hosts) < len(all) && moved < kept/2 {
			t.Errorf("%d of %d kept entities moved: the test moves none", moved, kept)
		}
		if got := graph.Dump(first); got != before {
			t.Fatalf("the join changed the last graph")
		}
		first, before = next, graph.Dump(next)
		at = at.Add(15 * time.Second)
	}
}
