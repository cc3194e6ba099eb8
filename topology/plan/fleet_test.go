package plan_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/plan"
)

// fleet is a graph of hosts in three zones of 20 racks each (zones in blocks of names, so that
// an order by name would put a zone's hosts together), and services of 3 to 50 instances, about
// ten instances per host, on hosts drawn at random; one service in a hundred has two instances on
// one host, one instance in a thousand is not UP. Instances run in a container, in a pod's container
// or on the host itself, as the join links them. Deterministic for a seed.
func fleet(hosts int, seed uint64) *graph.Graph {
	rng := rand.New(rand.NewPCG(seed, 0))
	g := graph.NewSized(t0, hosts*25)
	perZone := (hosts + 2) / 3
	hs := make([]*graph.Entity, hosts)
	for i := range hosts {
		zone, inZone := i/perZone, i%perZone
		hs[i] = g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: fmt.Sprintf("node-%05d", i)},
			Attrs:  graph.Attrs{{Name: "zone", Value: fmt.Sprintf("zone-%c", 'a'+zone)}},
			Labels: map[string]string{"rack": fmt.Sprintf("r%02d", inZone*20/perZone)}})
	}
	lb := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.LB, ID: "haproxy/edge"}})
	unhealthy := []string{"DOWN", "MAINT", "DRAIN", "UNKNOWN"}
	for s, placed := 0, 0; placed < hosts*10; s++ {
		id := fmt.Sprintf("edge/svc-%04d", s)
		svc := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Service, ID: id}})
		g.Connect(lb, svc, "test", t0)
		size := 3 + rng.IntN(48)
		twice := rng.IntN(100) == 0
		for i := range size {
			h := hs[rng.IntN(hosts)]
			if twice && i == 1 {
				h = g.FirstBelow(g.FirstBelow(g.Below(svc.Ref, graph.Instance)[0], graph.Container), graph.Host)
			}
			health := "UP"
			if rng.IntN(1000) == 0 {
				health = unhealthy[rng.IntN(len(unhealthy))]
			}
			inst := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: fmt.Sprintf("%s/s%d", id, i)},
				Attrs: graph.Attrs{{Name: "health", Value: health}}})
			g.Connect(svc, inst, "test", t0)
			c := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Container, ID: fmt.Sprintf("%s-%d", id, i)}})
			switch shape := rng.IntN(10); {
			case i == 0 || shape < 8: // the first runs in a container, for twice's look-up
				g.Connect(inst, c, "test", t0)
				g.Connect(c, h, "test", t0)
			case shape == 8:
				pod := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Pod, ID: fmt.Sprintf("ns/%s-%d", id, i)}})
				g.Connect(inst, pod, "test", t0)
				g.Connect(pod, c, "test", t0)
				g.Connect(c, h, "test", t0)
				g.Connect(pod, h, "test", t0)
			default:
				g.Connect(inst, h, "test", t0)
			}
		}
		placed += size
	}
	return g
}

// world is what the test reads of a graph by its own walk, sharing no code with the planner:
// each service's instances and healthy ones, and each host's healthy instances by service.
type world struct {
	instances, healthy map[string]int
	upOn               map[string]map[string]int // host → service → healthy instances
	zone               map[string]string
}

func readWorld(g *graph.Graph) world {
	w := world{instances: map[string]int{}, healthy: map[string]int{}, upOn: map[string]map[string]int{}, zone: map[string]string{}}
	for _, h := range g.Entities(graph.Host) {
		w.zone[h.ID] = h.Attrs.Get("zone")
	}
	for _, svc := range g.Entities(graph.Service) {
		for _, inst := range g.Below(svc.Ref, graph.Instance) {
			w.instances[svc.ID]++
			if inst.Attrs.Get("health") != "UP" {
				continue
			}
			w.healthy[svc.ID]++
			hosts := map[string]bool{}
			for _, below := range g.Below(inst.Ref, graph.Host) {
				hosts[below.ID] = true
			}
			for _, pod := range g.Below(inst.Ref, graph.Pod) {
				for _, h := range g.Below(pod.Ref, graph.Host) {
					hosts[h.ID] = true
				}
				for _, c := range g.Below(pod.Ref, graph.Container) {
					for _, h := range g.Below(c.Ref, graph.Host) {
						hosts[h.ID] = true
					}
				}
			}
			for _, c := range g.Below(inst.Ref, graph.Container) {
				for _, h := range g.Below(c.Ref, graph.Host) {
					hosts[h.ID] = true
				}
			}
			for h := range hosts {
				if w.upOn[h] == nil {
					w.upOn[h] = map[string]int{}
				}
				w.upOn[h][svc.ID]++
			}
		}
	}
	return w
}

// threshold is the test's own reading of the rule: n − max unavailable, or min healthy in
// hundredths of n rounded up, and never below one.
type threshold struct{ maxUnavailable, minHealthyPercent int }

func (t threshold) required(n int) int {
	r := n - t.maxUnavailable
	if t.minHealthyPercent > 0 {
		r = (t.minHealthyPercent*n + 99) / 100
	}
	return min(max(r, 1), n)
}

func (t threshold) options() plan.Options {
	if t.minHealthyPercent > 0 {
		return plan.Options{MinHealthy: float64(t.minHealthyPercent) / 100}
	}
	return plan.Options{MaxUnavailable: t.maxUnavailable}
}

var skipReason = regexp.MustCompile(`^service (\S+): (\d+) of (\d+) instances healthy, (\d+) required, (\d+) of them on this host( \(and \d+ more\))?$`)

// verify checks a plan against the world: every host once, in a wave or skipped; every wave
// keeps every service it touches at its threshold; a host is skipped exactly when it alone
// would break a service, and its reason names such a service with the right numbers. It
// answers what is wrong, nothing when the plan is right.
func (w world) verify(hosts []string, p plan.Plan, th threshold) []string {
	var errs []string
	errorf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	where := map[string]int{}
	for _, wave := range p.Waves {
		if len(wave.Hosts) == 0 {
			errorf("wave %d is empty", wave.Wave)
		}
		for _, h := range wave.Hosts {
			where[h]++
		}
	}
	for _, s := range p.Skipped {
		where[s.Host]++
	}
	for _, h := range hosts {
		if where[h] != 1 {
			errorf("host %s is in %d waves or skips, want 1", h, where[h])
		}
	}
	if len(where) != len(hosts) {
		errorf("the plan holds %d hosts, %d were asked", len(where), len(hosts))
	}
	broken := func(down []string) []string {
		lost := map[string]int{}
		for _, h := range down {
			for svc, n := range w.upOn[h] {
				lost[svc] += n
			}
		}
		var out []string
		for svc, n := range lost {
			if w.healthy[svc]-n < th.required(w.instances[svc]) {
				out = append(out, svc)
			}
		}
		slices.Sort(out)
		return out
	}
	for i, wave := range p.Waves {
		if wave.Wave != i+1 {
			errorf("wave %d numbered %d", i+1, wave.Wave)
		}
		if b := broken(wave.Hosts); len(b) > 0 {
			errorf("wave %d takes %d services below their threshold, first %s", wave.Wave, len(b), b[0])
		}
	}
	skipped := map[string]bool{}
	for _, s := range p.Skipped {
		skipped[s.Host] = true
		b := broken([]string{s.Host})
		m := skipReason.FindStringSubmatch(s.Reason)
		if m == nil || !slices.Contains(b, m[1]) {
			errorf("skipped %s: %q, but it breaks %q", s.Host, s.Reason, b)
			continue
		}
		svc := m[1]
		want := fmt.Sprintf("%d %d %d %d", w.healthy[svc], w.instances[svc], th.required(w.instances[svc]), w.upOn[s.Host][svc])
		if got := m[2] + " " + m[3] + " " + m[4] + " " + m[5]; got != want {
			errorf("skipped %s: %q: healthy, instances, required, on the host %s, want %s", s.Host, s.Reason, got, want)
		}
	}
	for _, h := range hosts {
		if b := broken([]string{h}); len(b) > 0 && !skipped[h] {
			errorf("host %s alone breaks %q but is planned", h, b)
		}
	}
	return errs
}

// stats are the plan's waves beside their lower bound (the most waves one service needs: its
// healthy instances on planned hosts, so many at a time) and the largest share one zone has of
// a wave.
func (w world) stats(p plan.Plan, th threshold) (bound int, zoneShare float64) {
	onPlanned := map[string]int{}
	for _, wave := range p.Waves {
		for _, h := range wave.Hosts {
			for svc, n := range w.upOn[h] {
				onPlanned[svc] += n
			}
		}
		zones := map[string]int{}
		for _, h := range wave.Hosts {
			zones[w.zone[h]]++
		}
		for _, n := range zones {
			if len(wave.Hosts) >= 3 {
				zoneShare = max(zoneShare, float64(n)/float64(len(wave.Hosts)))
			}
		}
	}
	for svc, n := range onPlanned {
		slack := w.healthy[svc] - th.required(w.instances[svc])
		bound = max(bound, (n+slack-1)/slack)
	}
	return bound, zoneShare
}

func hostIDs(g *graph.Graph) []string {
	var ids []string
	for _, h := range g.Entities(graph.Host) {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestFleetPlanKeepsEveryService: the whole synthetic fleet (10,000 hosts, services of 3 to 50
// instances across three zones, some instances down) planned at one unavailable and at 66%
// healthy; the plan checked by the test's own walk of the graph (world), not the planner's.
func TestFleetPlanKeepsEveryService(t *testing.T) {
	g := fleet(10_000, 1)
	w := readWorld(g)
	hosts := hostIDs(g)
	t.Logf("fleet: %d hosts, %d services, %d instances", len(hosts), g.Count(graph.Service), g.Count(graph.Instance))
	for _, th := range []threshold{{maxUnavailable: 1}, {minHealthyPercent: 66}} {
		t.Run(fmt.Sprintf("%+v", th.options()), func(t *testing.T) {
			start := time.Now()
			p := mustPlan(t, g, hosts, th.options())
			took := time.Since(start)
			for _, e := range w.verify(hosts, p, th) {
				t.Error(e)
			}
			bound, share := w.stats(p, th)
			t.Logf("%d waves (at least %d), %d hosts skipped, largest zone share of a wave of 3 or more %.2f, planned in %v",
				len(p.Waves), bound, len(p.Skipped), share, took)
			if len(p.Waves) > bound*3/2 {
				t.Errorf("%d waves, more than one and a half times the lower bound %d", len(p.Waves), bound)
			}
			if share > 0.5 {
				t.Errorf("a wave has %.0f%% of its hosts in one zone", share*100)
			}
		})
	}
}

// TestFleetCheckCanFail: the test's check is not blind: a plan of every host in one wave, and
// one with a host moved into a wave it does not fit, fail it.
func TestFleetCheckCanFail(t *testing.T) {
	g := fleet(2_000, 2)
	w := readWorld(g)
	hosts := hostIDs(g)
	th := threshold{maxUnavailable: 1}
	p := mustPlan(t, g, hosts, th.options())
	var all []string
	for _, wave := range p.Waves {
		all = append(all, wave.Hosts...)
	}
	for name, bad := range map[string]plan.Plan{
		"one wave":    {Waves: []plan.Wave{{Wave: 1, Hosts: all}}, Skipped: p.Skipped},
		"moved":       {Waves: append([]plan.Wave{{Wave: 1, Hosts: append(slices.Clone(p.Waves[0].Hosts), p.Waves[1].Hosts...)}}, p.Waves[2:]...), Skipped: p.Skipped},
		"not skipped": {Waves: append(slices.Clone(p.Waves), plan.Wave{Wave: len(p.Waves) + 1, Hosts: []string{p.Skipped[0].Host}}), Skipped: p.Skipped[1:]},
	} {
		if errs := w.verify(hosts, bad, th); len(errs) == 0 {
			t.Errorf("%s: the check passed a plan that breaks services", name)
		} else {
			t.Logf("%s: %d faults found, first: %s", name, len(errs), errs[0])
		}
	}
	v, err := plan.Check(g, all, th.options())
	if err != nil || v.Safe || len(v.Violations) == 0 {
		t.Errorf("Check of every host at once: %d violations, %v", len(v.Violations), err)
	}
	if v, err := plan.Check(g, p.Waves[1].Hosts, th.options()); err != nil || !v.Safe {
		t.Errorf("Check of wave 2: %+v, %v", v.Violations, err)
	}
}

// BenchmarkPlanFleet: planning every host of the 10,000-host fleet.
func BenchmarkPlanFleet(b *testing.B) {
	g := fleet(10_000, 1)
	hosts := hostIDs(g)
	for _, opts := range []plan.Options{{MaxUnavailable: 1}, {MinHealthy: 0.66}} {
		b.Run(fmt.Sprintf("%+v", opts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := plan.Make(g, hosts, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
