// Package plan orders hosts to patch into waves that keep every service behind its LB at a
// number or share of healthy instances (issue 18, strata plan).
//
// The rule. A service of n instances needs required = n − MaxUnavailable of them healthy, or
// ceil(MinHealthy·n), and never fewer than one: taking a service's last healthy instance is an
// outage, which a plan does not make. An instance is healthy only when its health attribute is
// UP, as the LB says now: DOWN, MAINT, DRAIN and unknown instances are down already. An
// instance's host is the one its paths reach (graph.EachPath: through its pod and container, or
// directly). A wave (hosts down together) is safe when every service that has a healthy instance
// on the wave's hosts keeps at least required healthy instances on the others: a service the
// wave does not touch is not its concern, even one below its threshold already. A host that
// alone would break a service (all of a small service on it, or a service already too weak to
// lose the instance it holds) is skipped, the reason naming the service and its numbers, as is
// a host the graph does not hold.
//
// The waves. Planning is greedy and deterministic: each wave takes, in one order, every host
// left that keeps the wave safe (first fit), until no host is left. The order puts first the
// hosts that are hardest to place, counted again before each wave: those of the service that
// still needs the most waves (its healthy instances on hosts left, over how many it may lose at
// once), then those whose services need the most waves together, as colouring heuristics do;
// this keeps the count of waves near its lower bound (the most waves one service needs). Among
// hosts equally hard, the order spreads a wave across failure domains: hosts are grouped by
// zone (the attribute or label zone, topology.kubernetes.io/zone or
// failure-domain.beta.kubernetes.io/zone) and within a zone by rack (rack); racks take turns
// within their zone and zones take turns, so consecutive hosts come from different zones and,
// within a zone, from different racks; then by id. Hosts of one role (a node pool running the
// same workloads) are equally hard, and the turns decide; in a fleet of mixed hosts the
// hardness does, and a wave's zones are as mixed as its hosts are.
//
// The cost. Make and Check walk, from the hosts asked about, up to their instances and services
// (or, for a good part of the fleet, every service), and down each such service's instances
// once; a wave costs the instances on the hosts left. On the test fleet of 10,000 hosts and
// 100,000 instances, every host planned takes about 0.1 s at max unavailable 1 (56 waves) and
// 40 ms at min healthy 0.66 (5 waves) (BenchmarkPlanFleet).
//
// The package imports only topology/graph: the server evaluates the host path that picks the
// hosts and hands them here with the graph they were found in.
package plan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// Healthy is the health attribute of an instance that serves (topology/source's HealthUp).
const Healthy = "UP"

// Options say how many instances of each service may be down at once: one of MaxUnavailable or
// MinHealthy; neither means MaxUnavailable 1.
type Options struct {
	MaxUnavailable int     // instances of a service down at once, at least 1
	MinHealthy     float64 // share of a service's instances that stay healthy, in (0, 1]
}

// ParseOptions reads the API's parameters max_unavailable and min_healthy ("" for absent).
func ParseOptions(maxUnavailable, minHealthy string) (Options, error) {
	var o Options
	if maxUnavailable != "" && minHealthy != "" {
		return o, errors.New("give max_unavailable or min_healthy, not both")
	}
	if maxUnavailable != "" {
		n, err := strconv.Atoi(maxUnavailable)
		if err != nil || n < 1 {
			return o, fmt.Errorf("max_unavailable %q: want a whole number of instances, at least 1", maxUnavailable)
		}
		o.MaxUnavailable = n
	}
	if minHealthy != "" {
		f, err := strconv.ParseFloat(minHealthy, 64)
		if err != nil || !(f > 0 && f <= 1) { // NaN fails both
			return o, fmt.Errorf("min_healthy %q: want a share of instances above 0 and at most 1, e.g. 0.66", minHealthy)
		}
		o.MinHealthy = f
	}
	return o, o.Validate()
}

// Validate says what is wrong with o, if anything.
func (o Options) Validate() error {
	switch {
	case o.MaxUnavailable != 0 && o.MinHealthy != 0:
		return errors.New("give max_unavailable or min_healthy, not both")
	case o.MaxUnavailable < 0:
		return fmt.Errorf("max_unavailable %d: want at least 1", o.MaxUnavailable)
	case o.MinHealthy != 0 && !(o.MinHealthy > 0 && o.MinHealthy <= 1):
		return fmt.Errorf("min_healthy %v: want a share above 0 and at most 1", o.MinHealthy)
	}
	return nil
}

// Required is how many of a service's n instances must stay healthy: never fewer than one of
// a service that has any.
func (o Options) Required(n int) int {
	if n == 0 {
		return 0
	}
	var r int
	if o.MinHealthy != 0 {
		// Less a hair, so that 0.7 of 10 is 7 whatever the last bit of 0.7·10.
		r = int(math.Ceil(o.MinHealthy*float64(n) - 1e-9))
	} else {
		r = n - max(o.MaxUnavailable, 1)
	}
	return min(max(r, 1), n)
}

// Plan is the waves to patch hosts in, and the hosts left out with why.
type Plan struct {
	Waves   []Wave `json:"waves"`
	Skipped []Skip `json:"skipped"`
}

// Wave is hosts that may go down together, by id.
type Wave struct {
	Wave  int      `json:"wave"` // from 1
	Hosts []string `json:"hosts"`
}

// Skip is a host no wave holds.
type Skip struct {
	Host   string `json:"host"`
	Reason string `json:"reason"`
}

// Make plans the hosts of g named by ids (duplicates count once) into waves.
func Make(g *graph.Graph, hosts []string, opts Options) (Plan, error) {
	if err := opts.Validate(); err != nil {
		return Plan{}, err
	}
	p := Plan{Waves: []Wave{}, Skipped: []Skip{}}
	idx, unknown := newIndex(g, hosts, opts)
	for _, id := range unknown {
		p.Skipped = append(p.Skipped, Skip{Host: id, Reason: "not in the graph"})
	}
	var candidates []int32
	for h := range idx.hosts {
		if v := idx.breaks([]int32{int32(h)}); len(v) > 0 {
			p.Skipped = append(p.Skipped, Skip{Host: idx.hosts[h].entity.ID, Reason: reason(v, "on this host")})
			continue
		}
		candidates = append(candidates, int32(h))
	}
	slices.SortFunc(p.Skipped, func(a, b Skip) int { return strings.Compare(a.Host, b.Host) })
	for i, wave := range idx.waves(idx.spread(candidates)) {
		w := Wave{Wave: i + 1, Hosts: make([]string, len(wave))}
		for j, h := range wave {
			w.Hosts[j] = idx.hosts[h].entity.ID
		}
		slices.Sort(w.Hosts)
		p.Waves = append(p.Waves, w)
	}
	return p, nil
}

// Verdict is whether hosts may go down together now.
type Verdict struct {
	Safe       bool        `json:"safe"`
	Hosts      []string    `json:"hosts"`
	Violations []Violation `json:"violations"`
	Unknown    []string    `json:"unknown"` // hosts the graph does not hold: not safe, since nothing is known of them
}

// Violation is a service a wave would take below its threshold.
type Violation struct {
	Service   string `json:"service"`
	Instances int    `json:"instances"`
	Healthy   int    `json:"healthy"` // now
	Left      int    `json:"left"`    // healthy ones not on the wave's hosts
	Required  int    `json:"required"`
	Reason    string `json:"reason"`
}

// Check tells whether the hosts of g named by ids may go down together now: a wave of a plan
// made earlier, asked again when its time comes ("is wave 2 safe now?").
func Check(g *graph.Graph, hosts []string, opts Options) (Verdict, error) {
	if err := opts.Validate(); err != nil {
		return Verdict{}, err
	}
	idx, unknown := newIndex(g, hosts, opts)
	all := make([]int32, len(idx.hosts))
	v := Verdict{Hosts: make([]string, len(idx.hosts)), Violations: []Violation{}, Unknown: unknown}
	for h := range idx.hosts {
		all[h] = int32(h)
		v.Hosts[h] = idx.hosts[h].entity.ID
	}
	slices.Sort(v.Hosts)
	if v.Unknown == nil {
		v.Unknown = []string{}
	}
	for _, b := range idx.breaks(all) {
		b.Reason = reason([]Violation{b}, "on these hosts")
		v.Violations = append(v.Violations, b)
	}
	v.Safe = len(v.Violations) == 0 && len(v.Unknown) == 0
	return v, nil
}

// reason words the worst of the services a host or a wave breaks: the one furthest below what
// it requires, then by id.
func reason(vs []Violation, where string) string {
	worst := slices.MinFunc(vs, func(a, b Violation) int {
		if d := (b.Required - b.Left) - (a.Required - a.Left); d != 0 {
			return d
		}
		return strings.Compare(a.Service, b.Service)
	})
	s := fmt.Sprintf("service %s: %d of %d instances healthy, %d required, %d of them %s",
		worst.Service, worst.Healthy, worst.Instances, worst.Required, worst.Healthy-worst.Left, where)
	if len(vs) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(vs)-1)
	}
	return s
}
