package query

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// TestUnknownNamesWarn: a name no entity of its kind has, in a matcher, a projection or a
// stage, answers with a warning that names it and the closest name there is; a known one, a
// label, a count's own column and an entity's kind, id and name say nothing. A numeric
// comparison of what is never a number says it matches nothing.
func TestUnknownNamesWarn(t *testing.T) {
	g := graph.New(time.Time{})
	g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}, Name: "s0",
		Attrs: graph.AttrsOf(map[string]string{"error_ratio": "0.9", "health": "UP"}), Labels: map[string]string{"team": "pay"}})
	g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "node-1"}, Attrs: graph.AttrsOf(map[string]string{"kernel_release": "6.1.0"})})
	for _, c := range []struct {
		q    string
		want []string
	}{
		{`instance{eror_ratio>0.5}`, []string{`no instance has an attribute or label "eror_ratio"; did you mean "error_ratio"?`}},
		{`host .kernel_relase`, []string{`no host has an attribute or label "kernel_relase"; did you mean "kernel_release"?`}},
		{`instance | where colour="red"`, []string{`no instance has an attribute or label "colour"`}},
		{`instance{error_ratio>0.5, team="pay"} .health | count by (health) | sort by count`, nil},
		{`instance{name="s0", id!="x", kind="instance"}`, nil},
		{`pod{nmae="x"}`, nil}, // no pods at all: nothing to compare with
		// A number compared with what is never one: it matches nothing, and says so.
		{`instance{health>1}`, []string{`health>1 compares numbers, but no instance's health is one ("UP"): it matches nothing`}},
		// A traffic signal no entity has is not a typo: the LB counts nothing there.
		{`host{req_rate>1}`, []string{`no host has an attribute or label "req_rate" (a traffic signal: absent where the LB counts nothing, before its second refresh, or after its counters went back; signal_note says why)`}},
	} {
		q, err := Parse(c.q, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Eval(context.Background(), g, q, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Warnings, c.want) {
			t.Errorf("%s: warnings %q, want %q", c.q, res.Warnings, c.want)
		}
	}
}

// TestPathsOfRows: each row that is an entity carries the refs of the entities of the query's
// steps that reached it, in the row's order after sort and limit; counted rows carry none.
func TestPathsOfRows(t *testing.T) {
	g := graph.New(time.Time{})
	put := func(k graph.Kind, id string, attrs map[string]string) *graph.Entity {
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: k, ID: id}, Name: id, Attrs: graph.AttrsOf(attrs)})
	}
	lb := put(graph.LB, "haproxy/edge", nil)
	svc := put(graph.Service, "edge/c1ps", nil)
	s0 := put(graph.Instance, "edge/c1ps/s0", map[string]string{"position": "0"})
	s1 := put(graph.Instance, "edge/c1ps/s1", map[string]string{"position": "1"})
	h1, h2 := put(graph.Host, "node-1", map[string]string{"kernel_release": "6.1"}), put(graph.Host, "node-2", map[string]string{"kernel_release": "6.8"})
	for _, e := range [][2]*graph.Entity{{lb, svc}, {svc, s0}, {svc, s1}, {s0, h1}, {s1, h2}} {
		g.Connect(e[0], e[1], "test", time.Time{})
	}
	run := func(src string) *Result {
		q, err := Parse(src, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Eval(context.Background(), g, q, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(`lb -> instance -> host | sort by kernel_release desc`)
	want := [][]string{
		{"lb/haproxy/edge", "instance/edge/c1ps/s1", "host/node-2"},
		{"lb/haproxy/edge", "instance/edge/c1ps/s0", "host/node-1"},
	}
	if !slices.EqualFunc(res.Paths(), want, slices.Equal) {
		t.Errorf("paths %q, want %q", res.Paths(), want)
	}
	if !res.HasPaths() || !slices.Equal(res.Path(1), want[1]) {
		t.Errorf("row 1's path %q (has paths: %v), want %q", res.Path(1), res.HasPaths(), want[1])
	}
	if res := run(`lb -> host | count by (kernel_release)`); res.Paths() != nil || res.HasPaths() || res.Path(0) != nil {
		t.Errorf("counted rows carry paths %q", res.Paths())
	}
	if res := run(`instance`); res.HasPaths() {
		t.Errorf("a one-step query's rows have paths %q", res.Paths())
	}
}

// TestEditDistance: optimal string alignment's distances, worked by hand: a swap of two
// neighbours is one edit, and a substring is not edited twice (so "ca" to "abc" is 3, where
// the unrestricted Damerau distance is 2).
func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"hots", "host", 1},
		{"ca", "ac", 1}, {"ca", "abc", 3}, {"node-0004x", "node-00042", 1}, {"instanc", "instance", 1},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
