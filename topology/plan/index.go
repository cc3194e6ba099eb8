package plan

import (
	"cmp"
	"slices"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// index is what planning needs of a graph for a set of hosts: the services with a healthy
// instance on one of them, and each host's healthy instances, numbered, so that a wave is
// counted without walking the graph again.
type index struct {
	services []service
	hosts    []host
	// Room for counting a set of hosts down: an instance or service whose stamp is the
	// current one is down, or has lost instances, in the set being counted.
	stamp     int32
	instStamp []int32
	svcStamp  []int32
	lost      []int   // by service, valid where svcStamp is stamp
	lostTouch []int32 // the services that lost instances in the set being counted
}

type service struct {
	id                           string
	instances, healthy, required int
}

type host struct {
	entity     *graph.Entity
	zone, rack string
	up         []onHost // its healthy instances, sorted by service (newIndex adds them so)
}

// onHost is a healthy instance on a host: its number in the index and its service's.
type onHost struct{ inst, svc int32 }

// newIndex finds the hosts named by ids in g (those it does not hold are unknown, sorted),
// the services with an instance on them, and their instances' health and hosts.
func newIndex(g *graph.Graph, ids []string, opts Options) (*index, []string) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	x := &index{}
	var unknown []string
	at := map[*graph.Entity]int32{}
	services := map[*graph.Entity]bool{}
	for _, id := range ids {
		e, ok := g.Get(graph.Ref{Kind: graph.Host, ID: id})
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		at[e] = int32(len(x.hosts))
		x.hosts = append(x.hosts, host{entity: e, zone: e.Zone(), rack: e.Rack()})
	}
	// A few hosts (the failing ones): the services above them. A good part of the fleet: every
	// service, which is cheaper than walking up from each host to the same services.
	if len(x.hosts)*4 < g.Count(graph.Host) {
		for e := range at {
			servicesAbove(g, e, services)
		}
	} else {
		g.Each(graph.Service, func(s *graph.Entity) { services[s] = true })
	}
	svcs := make([]*graph.Entity, 0, len(services))
	for s := range services {
		svcs = append(svcs, s)
	}
	slices.SortFunc(svcs, func(a, b *graph.Entity) int { return strings.Compare(a.ID, b.ID) })
	// Each service's instances, walked down to their hosts as strata_topology_path_info is:
	// graph.EachPath says what runs an instance.
	var on []int32
	insts := int32(0)
	for i, s := range svcs {
		sv := service{id: s.ID}
		for _, edge := range g.DownOf(s) {
			inst := edge.ToEntity()
			if inst.Kind != graph.Instance {
				continue
			}
			sv.instances++
			if inst.Attrs.Get("health") != Healthy {
				continue
			}
			sv.healthy++
			on = on[:0]
			graph.EachPath(g, inst, func(p graph.Path) {
				if h, ok := at[p.Host]; ok && !slices.Contains(on, h) {
					on = append(on, h)
				}
			})
			for _, h := range on {
				x.hosts[h].up = append(x.hosts[h].up, onHost{inst: insts, svc: int32(i)})
			}
			if len(on) > 0 {
				insts++
			}
		}
		sv.required = opts.Required(sv.instances)
		x.services = append(x.services, sv)
	}
	x.instStamp = make([]int32, insts)
	x.svcStamp = make([]int32, len(x.services))
	x.lost = make([]int, len(x.services))
	return x, unknown
}

// servicesAbove adds to found the services of the instances that run on h: directly, or in a
// container or pod on it.
func servicesAbove(g *graph.Graph, h *graph.Entity, found map[*graph.Entity]bool) {
	var up func(e *graph.Entity)
	up = func(e *graph.Entity) {
		for _, edge := range g.UpOf(e) {
			switch from := edge.FromEntity(); from.Kind {
			case graph.Instance:
				for _, s := range g.UpOf(from) {
					if s.FromEntity().Kind == graph.Service {
						found[s.FromEntity()] = true
					}
				}
			case graph.Container, graph.Pod:
				if from.Kind.Depth() < e.Kind.Depth() { // up only: pod ← container ← host
					up(from)
				}
			}
		}
	}
	up(h)
}

// begin starts counting a new set of hosts down.
func (x *index) begin() {
	x.stamp++
	x.lostTouch = x.lostTouch[:0]
}

func (x *index) lostOf(s int32) int {
	if x.svcStamp[s] != x.stamp {
		return 0
	}
	return x.lost[s]
}

// fits tells whether host h may join the set being counted: each service it has healthy
// instances of keeps what it requires. A host's instances are sorted by service, so each
// service is one run.
func (x *index) fits(h int32) bool {
	up := x.hosts[h].up
	for i := 0; i < len(up); {
		s, more := up[i].svc, 0
		for ; i < len(up) && up[i].svc == s; i++ {
			if x.instStamp[up[i].inst] != x.stamp {
				more++
			}
		}
		sv := &x.services[s]
		if more > 0 && sv.healthy-x.lostOf(s)-more < sv.required {
			return false
		}
	}
	return true
}

// take adds host h to the set being counted.
func (x *index) take(h int32) {
	for _, u := range x.hosts[h].up {
		if x.instStamp[u.inst] == x.stamp {
			continue // on two hosts of the set
		}
		x.instStamp[u.inst] = x.stamp
		if x.svcStamp[u.svc] != x.stamp {
			x.svcStamp[u.svc], x.lost[u.svc] = x.stamp, 0
			x.lostTouch = append(x.lostTouch, u.svc)
		}
		x.lost[u.svc]++
	}
}

// breaks is the services that the hosts down together take below what they require, by id.
func (x *index) breaks(hs []int32) []Violation {
	x.begin()
	for _, h := range hs {
		x.take(h)
	}
	var out []Violation
	slices.Sort(x.lostTouch)
	for _, s := range x.lostTouch {
		sv := x.services[s]
		if left := sv.healthy - x.lost[s]; left < sv.required {
			out = append(out, Violation{Service: sv.id, Instances: sv.instances, Healthy: sv.healthy, Left: left, Required: sv.required})
		}
	}
	return out
}

// waves puts the hosts into waves: each takes every host left that fits (first fit), the
// hardest to place first, in the spread order among equals. Hardness is counted again for each
// wave: a service that has many healthy instances left to patch and may lose few at once is the
// one that sets how many waves there are, so its hosts go first. Each host fits an empty wave
// (Make skipped those that do not), so each wave takes one at least.
func (x *index) waves(order []int32) [][]int32 {
	left := make([]int32, len(order)) // the spread order, kept through the hardness sort
	rank := make([]int32, len(x.hosts))
	for i, h := range order {
		left[i], rank[h] = h, int32(i)
	}
	toPatch := make([]int, len(x.services)) // healthy instances on the hosts left
	for _, h := range order {
		for _, u := range x.hosts[h].up {
			toPatch[u.svc]++
		}
	}
	type ranked struct {
		hardness, load int // of the service that needs the most waves; of all its services
		rank           int32
		h              int32
	}
	byHardness := make([]ranked, len(left))
	var out [][]int32
	for len(left) > 0 {
		byHardness = byHardness[:len(left)]
		for i, h := range left {
			r := ranked{rank: rank[h], h: h}
			for _, u := range x.hosts[h].up {
				sv := x.services[u.svc]
				if slack := sv.healthy - sv.required; slack > 0 {
					need := (toPatch[u.svc] + slack - 1) / slack
					r.hardness = max(r.hardness, need)
					r.load += need
				}
			}
			byHardness[i] = r
		}
		slices.SortFunc(byHardness, func(a, b ranked) int {
			return cmp.Or(cmp.Compare(b.hardness, a.hardness), cmp.Compare(b.load, a.load), cmp.Compare(a.rank, b.rank))
		})
		for i, r := range byHardness {
			left[i] = r.h
		}
		x.begin()
		var wave []int32
		next := left[:0] // left is read ahead of where next writes
		for _, h := range left {
			if x.fits(h) {
				x.take(h)
				wave = append(wave, h)
				for _, u := range x.hosts[h].up {
					toPatch[u.svc]--
				}
			} else {
				next = append(next, h)
			}
		}
		out = append(out, wave)
		left = next
	}
	return out
}

// spread orders hosts so that consecutive ones come from different zones and, within a zone,
// from different racks (the package doc); within a rack, by id.
func (x *index) spread(hs []int32) []int32 {
	zones := map[string]map[string][]int32{}
	for _, h := range hs {
		z, r := x.hosts[h].zone, x.hosts[h].rack
		if zones[z] == nil {
			zones[z] = map[string][]int32{}
		}
		zones[z][r] = append(zones[z][r], h)
	}
	var perZone [][]int32
	for _, z := range sortedKeys(zones) {
		var racks [][]int32
		for _, r := range sortedKeys(zones[z]) {
			rack := zones[z][r]
			slices.SortFunc(rack, func(a, b int32) int { return strings.Compare(x.hosts[a].entity.ID, x.hosts[b].entity.ID) })
			racks = append(racks, rack)
		}
		perZone = append(perZone, takeTurns(racks))
	}
	return takeTurns(perZone)
}

// takeTurns interleaves lists: the first of each, then the second of each, and so on; a list
// that runs out leaves the turns, so that the cost is the count of their elements.
func takeTurns(lists [][]int32) []int32 {
	var out []int32
	for len(lists) > 0 {
		next := lists[:0]
		for _, l := range lists {
			if len(l) == 0 {
				continue
			}
			out = append(out, l[0])
			if len(l) > 1 {
				next = append(next, l[1:])
			}
		}
		lists = next
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
