// Package join turns what the sources report into one graph: load balancers, services and
// instances from the LB sources; hosts, containers, pods and images from the fact sources;
// and the edges between them that identity resolution finds. It is pure: inputs in, graph and
// warnings out. It never fails because one source failed: a stale source's last report is
// joined and its entities are marked stale.
//
// Identity resolution:
//   - hosts are the same host when their records share a node name, hostname, machine-id or
//     SMBIOS UUID, unless their machine-ids (or UUIDs) differ: two machines both called "web"
//     stay two hosts. A record with only addresses (an inventory entry) joins the one host
//     that owns the address.
//   - an instance the source ties to a pod by uid (an EndpointSlice's targetRef) leads to that
//     pod, whoever holds its IP now. Otherwise its address resolves, in order, to a pod (pod
//     IP, unless host network), to a
//     container (its own address), or to the host that owns the IP (a loopback address
//     belongs to the LB's host); on that host the port leads to the container publishing it,
//     or to the process listening on it (in a container or on the host).
//   - facts conflict by precedence: strata-exporter over node_exporter over the Kubernetes
//     API over kube-state-metrics over cAdvisor over the inventory (source.Origin).
package join

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Input is one refresh's worth of reports.
type Input struct {
	At time.Time
	// LocalHost names this machine: the host of LB sources read locally whose LB has no Host.
	LocalHost string
	LBs       []LBReport
	Facts     []FactReport
	// Cluster (global.external_labels' cluster) is every entity's cluster attribute; "" sets none.
	Cluster string
	// Last is the last refresh's graph, if any: an entity whose attributes did not change
	// shares its list of them with it. It is only read.
	Last *graph.Graph
	// HostAttrs, when set, derives attributes of a host from its facts, every record's merged
	// by precedence (attr reads them): the lifecycle policy's state and the OS's support end.
	// They join the strongest record's attributes, so that a host whose facts did not change
	// is kept as it was.
	HostAttrs func(attr func(name string) string) []graph.Attr
	// ImageAttrs, when set, derives attributes of an image from its reference and attributes:
	// the lifecycle policy's state.
	ImageAttrs func(ref string, attr func(name string) string) []graph.Attr
}

// LBReport is what one LB source last said.
type LBReport struct {
	Source string
	LBs    []source.LB
	Seen   time.Time
	Stale  bool // the source failed since; this is its last good report
}

// FactReport is what one fact source last said.
type FactReport struct {
	Source string
	Facts  *source.FactSet
	Seen   time.Time
	Stale  bool
}

// Build joins the reports into a graph.
func Build(in Input) (*graph.Graph, []string) {
	if in.Last != nil && in.Last.Len() == 0 {
		// The first refresh's (a refresher starts with an empty graph): with nothing to keep,
		// its entities and their attributes are carved from blocks, not allocated one by one.
		in.Last = nil
	}
	c := countOf(in)
	n := c.hosts + c.containers + c.pods + c.lbs + c.services + c.instances
	n += n / 8
	if in.Last != nil { // a better guess: most refreshes change little
		n = in.Last.Len() + in.Last.Len()/64
	}
	j := &joiner{in: in, g: graph.NewSized(in.At, n)}
	if in.Last != nil {
		j.g.ShareIndex(in.Last)
	}
	// Each index sized once instead of grown a dozen times (one shared with the last graph
	// is not grown at all).
	j.g.Expect(graph.Container, c.containers)
	j.g.Expect(graph.Pod, c.pods)
	j.g.Expect(graph.Host, c.hosts)
	j.g.Expect(graph.Instance, c.instances)
	j.hosts()
	j.workloads(c.containers)
	j.loadBalancers()
	sort.Strings(j.warnings)
	return j.g, j.warnings
}

// counts are the records of each kind the reports hold.
type counts struct{ hosts, containers, pods, lbs, services, instances int }

func countOf(in Input) counts {
	var c counts
	for _, r := range in.Facts {
		if r.Facts != nil {
			c.hosts, c.containers, c.pods = c.hosts+len(r.Facts.Hosts), c.containers+len(r.Facts.Containers), c.pods+len(r.Facts.Pods)
		}
	}
	for _, r := range in.LBs {
		c.lbs += len(r.LBs)
		for _, lb := range r.LBs {
			c.services += len(lb.Services)
			for _, s := range lb.Services {
				c.instances += len(s.Instances)
			}
		}
	}
	return c
}

type joiner struct {
	in       Input
	g        *graph.Graph
	warnings []string

	hostByName    map[string]*hostGroup // node name, hostname → host (unambiguous ones only)
	hostByAddr    map[string]*hostGroup // IP → host (addresses owned by one host only)
	groups        []*hostGroup
	containerAts  []containerAt  // the containers' records, in the order they were put
	containerAt   []*containerAt // by place in the graph: a container entity's record
	containersAt  map[*hostGroup][]*containerAt
	byContainerIP map[string]*containerAt
	podByIP       map[string]*podAt
	podsByUID     map[string]*podAt
	listeners     map[*hostGroup][]listenerAt
	images        map[string]*graph.Entity // image ref → the image in the graph
	process       *listenerAt              // the host process the last resolve found, if any

	// shift is how many places later the last graph held the entity put last: after a host
	// that came or went, every entity is that far from its place there, and put looks there
	// first instead of in the last graph's index.
	shift     int
	scratch   graph.Attrs // the attributes of the entity being made, until put keeps them
	attrBlock graph.Attrs // entities' attributes are carved from here, a block at a time
}

// attrs is room for an entity's n attributes and its cluster, to fill and then hand to put:
// the same room for every entity, one at a time.
func (j *joiner) attrs(n int) graph.Attrs {
	if cap(j.scratch) < n+1 {
		j.scratch = make(graph.Attrs, 0, max(32, n+1))
	}
	return j.scratch[:0]
}

// same tells whether the last graph's entity o is e but for when it was seen (attributes
// aside, which the caller compared).
func same(o, e *graph.Entity) bool {
	return o.Name == e.Name && o.Stale == e.Stale && slices.Equal(o.Sources, e.Sources) && maps.Equal(o.Labels, e.Labels)
}

// put puts an entity with this site's cluster in the graph, and returns the graph's. The last
// graph's entity with its Ref (looked for first as far from its place as the last one put
// was), when it is the same but
// for when it was seen, is kept as it is (graph.Keep); else its attributes (in attrs' room) are kept as that entity's list when
// they are the same, shared (the graph never writes into a list it merges into: graph.Put
// copies it first), or as a copy carved from a block: a fleet's 400,000 entities and lists of
// attributes, most the same as the last refresh's, need not be as many allocations.
func (j *joiner) put(e *graph.Entity) *graph.Entity {
	if j.in.Cluster != "" {
		e.Attrs.Set(graph.ClusterAttr, j.in.Cluster)
	}
	last := j.in.Last
	if last == nil {
		n := len(e.Attrs)
		if cap(j.attrBlock)-len(j.attrBlock) < n {
			j.attrBlock = make(graph.Attrs, 0, max(8192, n))
		}
		l := len(j.attrBlock)
		j.attrBlock = append(j.attrBlock, e.Attrs...)
		// Its capacity is its length: an append moves it instead of writing over the next one's.
		e.Attrs = j.attrBlock[l : l+n : l+n]
		return j.g.Put(e)
	}
	o := last.EntityAt(j.g.Len() + j.shift)
	if o == nil || o.Ref != e.Ref {
		o, _ = last.Get(e.Ref) // elsewhere in the last graph: after an entity that came or went
		if o != nil {
			j.shift = last.Place(o) - j.g.Len()
		}
	}
	if o != nil && o.Attrs.Equal(e.Attrs) {
		if same(o, e) {
			if kept, ok := j.g.Keep(o, e.LastSeen, last); ok {
				return kept
			}
		}
		e.Attrs = o.Attrs
	} else {
		// A list made anew after a last graph is allocated alone: from a block, the few a
		// refresh makes would each keep the whole block from the collector for as long as a
		// later graph shares them.
		e.Attrs = slices.Clip(slices.Clone(e.Attrs))
	}
	return j.g.Put(e)
}

func (j *joiner) warn(format string, args ...any) {
	j.warnings = append(j.warnings, fmt.Sprintf(format, args...))
}
