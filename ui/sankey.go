package ui

import (
	"cmp"
	"slices"
	"sort"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/strata-obs/strata/topology/graph"
)

// sankey draws LB → service → instance → host, or LB → service → host with instance counts
// when that passes maxChartNodes. nodes is the count of the view drawn, or of the smallest
// view when none fits (the chart is then not to be drawn).
func (v lbView) sankey(at string) (chart *charts.Sankey, hrefs []string, nodes int, aggregated bool) {
	hosts, hostHealth := v.hosts()
	instances, unresolved, someUnresolved := 0, make([]int, len(v.services)), 0
	for i, svc := range v.services {
		instances += len(svc.instances)
		for _, inst := range svc.instances {
			if len(inst.under.hosts) == 0 {
				unresolved[i]++
				someUnresolved = 1
			}
		}
	}
	if 1+len(v.services)+instances+len(hosts) <= maxChartNodes {
		s := v.everyInstance(hosts, hostHealth)
		chart, hrefs = s.chart(at)
		return chart, hrefs, s.len(), false
	}
	if n := 1 + len(v.services) + len(hosts) + someUnresolved; n > maxChartNodes {
		return nil, nil, n, true
	}
	s := v.instancesPerHost(hosts, hostHealth, unresolved)
	chart, hrefs = s.chart(at)
	return chart, hrefs, s.len(), true
}

// hosts are the hosts below the view's instances, by id, and the worst health of the
// instances on each.
func (v lbView) hosts() ([]*graph.Entity, map[*graph.Entity]string) {
	hostHealth := map[*graph.Entity]string{}
	for _, svc := range v.services {
		for _, inst := range svc.instances {
			for _, h := range inst.under.hosts {
				hostHealth[h] = worseHealth(hostHealth[h], shownHealth(inst.entity))
			}
		}
	}
	hosts := make([]*graph.Entity, 0, len(hostHealth))
	for h := range hostHealth {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].ID < hosts[j].ID })
	return hosts, hostHealth
}

// everyInstance is the full view: LB → service → instance → host.
func (v lbView) everyInstance(hosts []*graph.Entity, hostHealth map[*graph.Entity]string) *sankeyBuilder {
	s := newSankeyBuilder()
	lbNode := s.node(v.lb, 0, colourLB)
	for _, svc := range v.services {
		sn := s.node(svc.entity, 1, colourService)
		s.link(lbNode, sn, len(svc.instances))
		for _, inst := range svc.instances {
			in := s.node(inst.entity, 2, healthColour(shownHealth(inst.entity)))
			s.link(sn, in, 1)
		}
	}
	for _, h := range hosts {
		s.node(h, 3, healthColour(hostHealth[h]))
	}
	for _, svc := range v.services {
		for _, inst := range svc.instances {
			for _, h := range inst.under.hosts {
				s.link(s.index[inst.entity], s.index[h], 1)
			}
		}
	}
	return s
}

// instancesPerHost is the aggregated view: LB → service → host, each link as wide as the
// service's instances on the host; instances whose host is not known end at one node.
func (v lbView) instancesPerHost(hosts []*graph.Entity, hostHealth map[*graph.Entity]string, unresolved []int) *sankeyBuilder {
	s := newSankeyBuilder()
	lbNode := s.node(v.lb, 0, colourLB)
	for _, svc := range v.services {
		sn := s.node(svc.entity, 1, colourService)
		s.link(lbNode, sn, len(svc.instances))
	}
	for _, h := range hosts {
		s.node(h, 2, healthColour(hostHealth[h]))
	}
	none := -1
	if slices.ContainsFunc(unresolved, func(n int) bool { return n > 0 }) {
		none = s.label("no host resolved", 2, healthColour(""))
	}
	for i, svc := range v.services {
		perHost := map[*graph.Entity]int{}
		for _, inst := range svc.instances {
			for _, h := range inst.under.hosts {
				perHost[h]++
			}
		}
		for _, h := range hosts {
			if n := perHost[h]; n > 0 {
				s.link(s.index[svc.entity], s.index[h], n)
			}
		}
		if unresolved[i] > 0 {
			s.link(s.index[svc.entity], none, unresolved[i])
		}
	}
	return s
}

// sankeyBuilder collects a sankey's nodes and links. ECharts names a node by its label, so
// two entities with the same name (a service and a host, two servers in two backends) are
// told apart by their kind and id.
type sankeyBuilder struct {
	nodes []opts.SankeyNode
	refs  []graph.Ref // the entity of each node; zero for a label
	links []opts.SankeyLink
	used  map[string]bool
	index map[*graph.Entity]int
}

func newSankeyBuilder() *sankeyBuilder {
	return &sankeyBuilder{used: map[string]bool{}, index: map[*graph.Entity]int{}}
}

func (s *sankeyBuilder) len() int { return len(s.nodes) }

// node adds an entity once and returns its index.
func (s *sankeyBuilder) node(e *graph.Entity, depth int, colour string) int {
	if i, ok := s.index[e]; ok {
		return i
	}
	name := cmp.Or(e.Name, e.ID)
	if e.Kind == graph.LB || e.Kind == graph.Host {
		name = e.ID
	}
	if s.used[name] {
		name = string(e.Kind) + " " + e.ID
	}
	i := s.label(name, depth, colour)
	s.index[e] = i
	s.refs[i] = e.Ref
	return i
}

// label adds a node that is no entity.
func (s *sankeyBuilder) label(name string, depth int, colour string) int {
	for s.used[name] {
		name += " "
	}
	s.used[name] = true
	d := depth
	s.nodes = append(s.nodes, opts.SankeyNode{Name: name, Depth: &d, ItemStyle: &opts.ItemStyle{Color: colour}})
	s.refs = append(s.refs, graph.Ref{})
	return len(s.nodes) - 1
}

func (s *sankeyBuilder) link(from, to, value int) {
	if value <= 0 {
		return
	}
	s.links = append(s.links, opts.SankeyLink{Source: s.nodes[from].Name, Target: s.nodes[to].Name, Value: float32(value)})
}

// chart is the sankey and the links of its nodes.
func (s *sankeyBuilder) chart(at string) (*charts.Sankey, []string) {
	hrefs := make([]string, len(s.nodes))
	for i, r := range s.refs {
		if r.Kind != "" {
			hrefs[i] = entityHref(r.Kind, r.ID, at)
		}
	}
	height := 24 * s.tallestColumn()
	height = max(360, min(height, 6000))
	c := charts.NewSankey()
	c.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit("lb-sankey", strconv.Itoa(height)+"px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithAnimation(false),
	)
	c.AddSeries("topology", s.nodes, s.links,
		charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Position: "right"}),
		charts.WithLineStyleOpts(opts.LineStyle{Color: "gradient", Opacity: opts.Float(0.35)}),
	)
	return c, hrefs
}

func (s *sankeyBuilder) tallestColumn() int {
	perDepth := map[int]int{}
	tallest := 0
	for _, n := range s.nodes {
		perDepth[*n.Depth]++
		tallest = max(tallest, perDepth[*n.Depth])
	}
	return tallest
}
