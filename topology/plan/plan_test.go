package plan_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/plan"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// scene builds small graphs as the join makes them: lb → service → instance → container → host.
type scene struct{ g *graph.Graph }

func newScene() *scene { return &scene{g: graph.New(t0)} }

// host adds a host with attributes and labels given as name=value pairs ("label:" before a name
// makes it a label).
func (s *scene) host(id string, kv ...string) *graph.Entity {
	e := &graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: id}, Name: id, Labels: map[string]string{}}
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		if l, ok := strings.CutPrefix(k, "label:"); ok {
			e.Labels[l] = v
		} else {
			e.Attrs.Set(k, v)
		}
	}
	return s.g.Put(e)
}

// service adds a service of instances, each "host:HEALTH", run in a container on that host.
func (s *scene) service(id string, instances ...string) {
	lb := s.g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.LB, ID: "lb"}})
	svc := s.g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Service, ID: id}})
	s.g.Connect(lb, svc, "test", t0)
	for i, in := range instances {
		h, health, _ := strings.Cut(in, ":")
		inst := s.g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: fmt.Sprintf("%s/s%d", id, i)}, Attrs: graph.Attrs{{Name: "health", Value: health}}})
		c := s.g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Container, ID: fmt.Sprintf("%s-%d", id, i)}})
		hostEntity, ok := s.g.Get(graph.Ref{Kind: graph.Host, ID: h})
		if !ok {
			hostEntity = s.host(h)
		}
		s.g.Connect(svc, inst, "test", t0)
		s.g.Connect(inst, c, "test", t0)
		s.g.Connect(c, hostEntity, "test", t0)
	}
}

func mustPlan(t *testing.T, g *graph.Graph, hosts []string, opts plan.Options) plan.Plan {
	t.Helper()
	p, err := plan.Make(g, hosts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waves(p plan.Plan) [][]string {
	out := [][]string{}
	for _, w := range p.Waves {
		out = append(out, w.Hosts)
	}
	return out
}

func equalWaves(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

func TestMaxUnavailable(t *testing.T) {
	s := newScene()
	s.service("lb/web", "h1:UP", "h2:UP", "h3:UP")
	s.host("h4") // runs nothing: any wave takes it
	hosts := []string{"h1", "h2", "h3", "h4"}
	for _, c := range []struct {
		opts plan.Options
		want [][]string
	}{
		{plan.Options{}, [][]string{{"h1", "h4"}, {"h2"}, {"h3"}}}, // the default: one at a time
		{plan.Options{MaxUnavailable: 1}, [][]string{{"h1", "h4"}, {"h2"}, {"h3"}}},
		{plan.Options{MaxUnavailable: 2}, [][]string{{"h1", "h2", "h4"}, {"h3"}}},
		// Never the last healthy instance: 3 − 5 is below one.
		{plan.Options{MaxUnavailable: 5}, [][]string{{"h1", "h2", "h4"}, {"h3"}}},
	} {
		if got := waves(mustPlan(t, s.g, hosts, c.opts)); !equalWaves(got, c.want) {
			t.Errorf("%+v: waves %q, want %q", c.opts, got, c.want)
		}
	}
}

func TestMinHealthy(t *testing.T) {
	s := newScene()
	var ins, hosts []string
	for i := range 10 {
		h := fmt.Sprintf("h%d", i)
		ins, hosts = append(ins, h+":UP"), append(hosts, h)
	}
	s.service("lb/api", ins...)
	for _, c := range []struct {
		share float64
		sizes []int
	}{
		{0.7, []int{3, 3, 3, 1}},  // 7 of 10 stay
		{0.66, []int{3, 3, 3, 1}}, // ceil(6.6)
		{0.5, []int{5, 5}},
		{1, nil}, // none may go: every host is skipped
	} {
		p := mustPlan(t, s.g, hosts, plan.Options{MinHealthy: c.share})
		var sizes []int
		for _, w := range p.Waves {
			sizes = append(sizes, len(w.Hosts))
		}
		if !slices.Equal(sizes, c.sizes) {
			t.Errorf("min healthy %v: wave sizes %v, want %v", c.share, sizes, c.sizes)
		}
		if c.share == 1 && len(p.Skipped) != 10 {
			t.Errorf("min healthy 1: skipped %v, want every host", p.Skipped)
		}
	}
}

// TestDownInstanceCountsAgainstTheService: an instance the LB has DOWN is unavailable already,
// so fewer of the others may go at once; its own host may go in any wave.
func TestDownInstanceCountsAgainstTheService(t *testing.T) {
	up, down := newScene(), newScene()
	up.service("lb/web", "h1:UP", "h2:UP", "h3:UP", "h4:UP")
	down.service("lb/web", "h1:UP", "h2:UP", "h3:UP", "h4:DOWN")
	hosts := []string{"h1", "h2", "h3", "h4"}
	opts := plan.Options{MaxUnavailable: 2}
	if got, want := waves(mustPlan(t, up.g, hosts, opts)), [][]string{{"h1", "h2"}, {"h3", "h4"}}; !equalWaves(got, want) {
		t.Errorf("all up: waves %q, want %q", got, want)
	}
	if got, want := waves(mustPlan(t, down.g, hosts, opts)), [][]string{{"h1", "h4"}, {"h2"}, {"h3"}}; !equalWaves(got, want) {
		t.Errorf("h4's instance down: waves %q, want %q", got, want)
	}
	// Every health but UP is unavailable.
	for _, h := range []string{"DOWN", "MAINT", "DRAIN", "UNKNOWN", ""} {
		s := newScene()
		s.service("lb/web", "h1:UP", "h2:UP", "h3:"+h)
		p := mustPlan(t, s.g, []string{"h1", "h2", "h3"}, plan.Options{})
		if len(p.Skipped) != 2 || !equalWaves(waves(p), [][]string{{"h3"}}) {
			t.Errorf("third instance %q: %+v, want h1 and h2 skipped, h3 planned", h, p)
		}
	}
}

func TestSkipped(t *testing.T) {
	s := newScene()
	s.service("lb/solo", "h1:UP", "h1:UP")              // all of it on h1
	s.service("lb/one", "h2:UP")                        // a single instance
	s.service("lb/weak", "h3:UP", "h4:DOWN", "h5:DOWN") // below its threshold already
	s.service("lb/web", "h1:UP", "h2:UP", "h3:UP", "h4:UP", "h5:UP", "h6:UP")
	p := mustPlan(t, s.g, []string{"h1", "h2", "h3", "h4", "h5", "h6", "nope"}, plan.Options{})
	want := []plan.Skip{
		{Host: "h1", Reason: "service lb/solo: 2 of 2 instances healthy, 1 required, 2 of them on this host"},
		{Host: "h2", Reason: "service lb/one: 1 of 1 instances healthy, 1 required, 1 of them on this host"},
		{Host: "h3", Reason: "service lb/weak: 1 of 3 instances healthy, 2 required, 1 of them on this host"},
		{Host: "nope", Reason: "not in the graph"},
	}
	if !slices.Equal(p.Skipped, want) {
		t.Errorf("skipped\n%q\nwant\n%q", p.Skipped, want)
	}
	// h4 and h5 hold weak's DOWN instances: patching them is what it needs.
	if got, want := waves(p), [][]string{{"h4"}, {"h5"}, {"h6"}}; !equalWaves(got, want) {
		t.Errorf("waves %q, want %q", got, want)
	}
	// A host that breaks two services names the one furthest below its threshold, and how many more.
	s = newScene()
	s.service("lb/a", "h1:UP", "h2:UP", "h3:UP", "h4:UP")
	s.service("lb/b", "h1:UP", "h1:UP", "h1:UP")
	s.service("lb/c", "h1:UP", "h1:UP", "h2:UP")
	p = mustPlan(t, s.g, []string{"h1"}, plan.Options{})
	if want := "service lb/b: 3 of 3 instances healthy, 2 required, 3 of them on this host (and 1 more)"; len(p.Skipped) != 1 || p.Skipped[0].Reason != want {
		t.Errorf("skipped %q, want %q", p.Skipped, want)
	}
}

// TestInstancePaths: an instance's host is found whatever runs it: a container, a pod's container,
// a pod, or the host itself.
func TestInstancePaths(t *testing.T) {
	g := graph.New(t0)
	put := func(k graph.Kind, id string, kv ...string) *graph.Entity {
		e := &graph.Entity{Ref: graph.Ref{Kind: k, ID: id}}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Attrs.Set(kv[i], kv[i+1])
		}
		return g.Put(e)
	}
	svc := put(graph.Service, "lb/web")
	var hosts []string
	link := func(chain ...*graph.Entity) {
		for i := 1; i < len(chain); i++ {
			g.Connect(chain[i-1], chain[i], "test", t0)
		}
	}
	for i, shape := range []string{"container", "pod container", "pod", "host"} {
		inst := put(graph.Instance, fmt.Sprintf("lb/web/s%d", i), "health", "UP")
		h := put(graph.Host, fmt.Sprintf("h%d", i))
		hosts = append(hosts, h.ID)
		link(svc, inst)
		switch shape {
		case "container":
			link(inst, put(graph.Container, "c0"), h)
		case "pod container":
			pod := put(graph.Pod, "ns/p1")
			link(inst, pod, put(graph.Container, "c1"), h)
			link(pod, h)
		case "pod":
			link(inst, put(graph.Pod, "ns/p2"), h)
		case "host":
			link(inst, h)
		}
	}
	// Three of four may go at once, not four: each host holds one of web's instances.
	p := mustPlan(t, g, hosts, plan.Options{MinHealthy: 0.25})
	if got, want := waves(p), [][]string{{"h0", "h1", "h2"}, {"h3"}}; !equalWaves(got, want) {
		t.Errorf("waves %q, want %q", got, want)
	}
	v, err := plan.Check(g, hosts, plan.Options{MinHealthy: 0.25})
	if err != nil || v.Safe || len(v.Violations) != 1 || v.Violations[0].Left != 0 {
		t.Errorf("every host at once: %+v, %v; want web left with none", v, err)
	}
}

// TestZoneSpread: a wave's hosts come from different zones, and within a zone from different
// racks, however the hosts are named; a zone is an attribute or a Kubernetes label.
func TestZoneSpread(t *testing.T) {
	s := newScene()
	var ins, hosts []string
	zoneOf := map[string]string{}
	for i := range 9 {
		h := fmt.Sprintf("h%d", i)
		zone := []string{"a", "b", "c"}[i/3] // h0, h1, h2 in a: by name they would go together
		kv := "zone=" + zone
		if zone == "c" {
			kv = "label:topology.kubernetes.io/zone=" + zone
		}
		s.host(h, kv)
		ins, hosts, zoneOf[h] = append(ins, h+":UP"), append(hosts, h), zone
	}
	s.service("lb/web", ins...)
	p := mustPlan(t, s.g, hosts, plan.Options{MaxUnavailable: 3})
	if len(p.Waves) != 3 {
		t.Fatalf("waves %q, want three of three", waves(p))
	}
	for _, w := range p.Waves {
		zones := map[string]bool{}
		for _, h := range w.Hosts {
			zones[zoneOf[h]] = true
		}
		if len(zones) != 3 {
			t.Errorf("wave %d %q spans zones %v, want a, b and c", w.Wave, w.Hosts, zones)
		}
	}
	// One zone of two racks: a wave of two takes one of each.
	s = newScene()
	for i, rack := range []string{"r1", "r1", "r2", "r2"} {
		s.host(fmt.Sprintf("h%d", i), "zone=a", "label:rack="+rack)
	}
	s.service("lb/web", "h0:UP", "h1:UP", "h2:UP", "h3:UP")
	if got, want := waves(mustPlan(t, s.g, []string{"h0", "h1", "h2", "h3"}, plan.Options{MaxUnavailable: 2})), [][]string{{"h0", "h2"}, {"h1", "h3"}}; !equalWaves(got, want) {
		t.Errorf("racks: waves %q, want %q", got, want)
	}
}

// TestDeterministic: the same graph and hosts, in any order and repeated, make the same plan.
func TestDeterministic(t *testing.T) {
	g := fleet(300, 7)
	var hosts []string
	for _, h := range g.Entities(graph.Host) {
		hosts = append(hosts, h.ID)
	}
	first, _ := json.Marshal(mustPlan(t, g, hosts, plan.Options{MinHealthy: 0.66}))
	slices.Reverse(hosts)
	hosts = append(hosts, hosts[:10]...)
	for range 3 {
		again, _ := json.Marshal(mustPlan(t, g, hosts, plan.Options{MinHealthy: 0.66}))
		if string(again) != string(first) {
			t.Fatalf("plans differ:\n%s\n%s", first, again)
		}
	}
}

func TestCheck(t *testing.T) {
	s := newScene()
	s.service("lb/web", "h1:UP", "h2:UP", "h3:UP", "h4:DOWN")
	for _, c := range []struct {
		hosts []string
		want  string
	}{
		{[]string{"h1"}, `{"safe":true,"hosts":["h1"],"violations":[],"unknown":[]}`}, // 2 of 3 healthy left, 2 required
		{[]string{"h4", "h4"}, `{"safe":true,"hosts":["h4"],"violations":[],"unknown":[]}`},
		{[]string{"h2", "h1"}, `{"safe":false,"hosts":["h1","h2"],"violations":[{"service":"lb/web","instances":4,"healthy":3,"left":1,"required":2,` +
			`"reason":"service lb/web: 3 of 4 instances healthy, 2 required, 2 of them on these hosts"}],"unknown":[]}`},
		{[]string{"h1", "gone"}, `{"safe":false,"hosts":["h1"],"violations":[],"unknown":["gone"]}`},
	} {
		v, err := plan.Check(s.g, c.hosts, plan.Options{MaxUnavailable: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(v); string(got) != c.want {
			t.Errorf("check %q:\n%s\nwant\n%s", c.hosts, got, c.want)
		}
	}
}

// TestJSON: the answer's shape is the contract's (docs/design.md): arrays, never null.
func TestJSON(t *testing.T) {
	empty, _ := json.Marshal(mustPlan(t, graph.New(t0), nil, plan.Options{}))
	if string(empty) != `{"waves":[],"skipped":[]}` {
		t.Errorf("empty plan: %s", empty)
	}
	s := newScene()
	s.service("lb/web", "h1:UP", "h7:UP", "h9:UP")
	s.service("lb/one", "h9:UP")
	got, _ := json.Marshal(mustPlan(t, s.g, []string{"h1", "h7", "h9"}, plan.Options{MaxUnavailable: 2}))
	if want := `{"waves":[{"wave":1,"hosts":["h1","h7"]}],"skipped":[{"host":"h9","reason":"service lb/one: 1 of 1 instances healthy, 1 required, 1 of them on this host"}]}`; string(got) != want {
		t.Errorf("plan:\n%s\nwant\n%s", got, want)
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		maxUnavailable, minHealthy string
		want                       plan.Options
		err                        string
	}{
		{"", "", plan.Options{}, ""},
		{"2", "", plan.Options{MaxUnavailable: 2}, ""},
		{"", "0.66", plan.Options{MinHealthy: 0.66}, ""},
		{"", "1", plan.Options{MinHealthy: 1}, ""},
		{"1", "0.5", plan.Options{}, "give max_unavailable or min_healthy, not both"},
		{"0", "", plan.Options{}, `max_unavailable "0": want a whole number of instances, at least 1`},
		{"-1", "", plan.Options{}, "at least 1"},
		{"1.5", "", plan.Options{}, "whole number"},
		{"", "0", plan.Options{}, `min_healthy "0": want a share of instances above 0 and at most 1, e.g. 0.66`},
		{"", "1.01", plan.Options{}, "at most 1"},
		{"", "NaN", plan.Options{}, "above 0"},
		{"", "-Inf", plan.Options{}, "above 0"},
		{"", "66%", plan.Options{}, "e.g. 0.66"},
	} {
		got, err := plan.ParseOptions(c.maxUnavailable, c.minHealthy)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseOptions(%q, %q) = %+v, %v; want %+v", c.maxUnavailable, c.minHealthy, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseOptions(%q, %q): error %v, want one holding %q", c.maxUnavailable, c.minHealthy, err, c.err)
		}
	}
	for _, o := range []plan.Options{{MaxUnavailable: 1, MinHealthy: 0.5}, {MaxUnavailable: -1}, {MinHealthy: 2}, {MinHealthy: -0.5}} {
		if _, err := plan.Make(graph.New(t0), []string{"h"}, o); err == nil {
			t.Errorf("Make with %+v: no error", o)
		}
		if _, err := plan.Check(graph.New(t0), []string{"h"}, o); err == nil {
			t.Errorf("Check with %+v: no error", o)
		}
	}
	for _, c := range []struct {
		opts    plan.Options
		n, want int
	}{
		{plan.Options{}, 0, 0}, {plan.Options{}, 1, 1}, {plan.Options{}, 3, 2},
		{plan.Options{MaxUnavailable: 5}, 3, 1}, {plan.Options{MaxUnavailable: 5}, 50, 45},
		{plan.Options{MinHealthy: 0.66}, 3, 2}, {plan.Options{MinHealthy: 0.66}, 50, 33}, {plan.Options{MinHealthy: 0.7}, 10, 7},
		{plan.Options{MinHealthy: 0.01}, 3, 1}, {plan.Options{MinHealthy: 1}, 7, 7},
	} {
		if got := c.opts.Required(c.n); got != c.want {
			t.Errorf("%+v.Required(%d) = %d, want %d", c.opts, c.n, got, c.want)
		}
	}
}
