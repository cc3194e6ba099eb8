package ui

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// The fleet page's bounds: bars per chart, rows per distribution table, rows per drift table.
const (
	maxBars        = 20
	maxValueRows   = 100
	maxDriftRows   = 500
	maxDriftValues = 10
)

// noValue stands for an attribute that is not set.
const noValue = "(none)"

// fact is one attribute the fleet page counts: of hosts, or of containers.
type fact struct {
	ID, Title, What string // chart id, heading, what the bars count
	Kind            graph.Kind
	Attr            string
	IfSet           bool // shown only when some entity has it (a site's or a global strata's cluster)
}

// fleetFacts are the distributions of the fleet page, in order.
var fleetFacts = []fact{
	{ID: "fleet-cluster", Title: "Sites (cluster)", What: "hosts", Kind: graph.Host, Attr: "cluster", IfSet: true},
	{ID: "fleet-kernel", Title: "Kernels", What: "hosts", Kind: graph.Host, Attr: "kernel_release"},
	{ID: "fleet-os", Title: "OS images", What: "hosts", Kind: graph.Host, Attr: "os_image"},
	{ID: "fleet-hardware", Title: "Hardware models", What: "hosts", Kind: graph.Host, Attr: "product_name"},
	{ID: "fleet-image", Title: "Container images", What: "containers", Kind: graph.Container, Attr: "image"},
}

// valueCount is one value of an attribute, how many have it, and the search for them.
type valueCount struct {
	Value string
	Count int
	Href  string
}

type distribution struct {
	Title, What string
	Attr        string // the attribute counted
	Table       *table // Rows as the page's table, for this request
	Rows        []valueCount
	More        int // values left out of the table
	Chart       *chartView
	Charted     int // bars drawn: the first Charted rows
}

// driftRow is a service whose instances disagree on one fact.
type driftRow struct {
	Service, LB cell
	What        string
	Values      []valueCount
	More        int // values left out
}

// sharedHostRow is a service whose instances all run on one host.
type sharedHostRow struct {
	Service, LB cell
	Instances   int
	Host        cell
}

// sharedZoneRow is a service whose instances run on several hosts, all in one zone.
type sharedZoneRow struct {
	Service, LB cell
	Instances   int
	Hosts       int
	Zone        string
}

type fleetData struct {
	// The tables of this request, made of the rows below (which are kept per graph).
	DriftTable, SharedHostTable, SharedZoneTable *table
	SharedZone                                   []sharedZoneRow
	Error                                        string
	Hosts, Containers                            int
	Distributions                                []distribution
	Drift                                        []driftRow
	DriftMore                                    int
	SharedHost                                   []sharedHostRow
	SharedMore                                   int
	MaxBars, MaxDriftRows                        int
}

// fleet is the fleet page: what the hosts and containers run, as bar charts that link to the
// search for each value, and the services whose instances drift apart or share one host.
func (u *UI) fleet(c *echo.Context) error {
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		return u.render(c, http.StatusUnprocessableEntity, "fleet", "Fleet", fleetData{Error: err.Error()})
	}
	r := u.fleetOf(g, c.QueryParam("time"))
	if r.err != nil {
		return r.err
	}
	d := r.d // a copy: the tables are this request's, the rows the graph's
	d.Distributions = slices.Clone(d.Distributions)
	var tables []*table
	for i := range d.Distributions {
		dist := &d.Distributions[i]
		rows := make([]row, len(dist.Rows))
		for j, v := range dist.Rows {
			rows[j] = row{Cells: []cell{{Text: v.Value, Href: v.Href}, {Text: strconv.Itoa(v.Count), Class: "count"}}}
		}
		dist.Table = newTable(c, dist.Attr, []string{dist.Attr, dist.What}, rows, 0)
		tables = append(tables, dist.Table)
	}
	var drift, host, zone []row
	for _, r := range d.Drift {
		values := cell{}
		for _, v := range r.Values {
			values.Items = append(values.Items, cell{Text: v.Value + " (" + strconv.Itoa(v.Count) + ")", Href: v.Href})
		}
		if r.More > 0 {
			values.Items = append(values.Items, cell{Text: "and " + strconv.Itoa(r.More) + " more"})
		}
		drift = append(drift, row{Cells: []cell{r.Service, r.LB, {Text: r.What}, values}})
	}
	for _, r := range d.SharedHost {
		host = append(host, row{Cells: []cell{r.Service, r.LB, {Text: strconv.Itoa(r.Instances), Class: "count"}, r.Host}})
	}
	for _, r := range d.SharedZone {
		zone = append(zone, row{Cells: []cell{r.Service, r.LB, {Text: strconv.Itoa(r.Instances), Class: "count"},
			{Text: strconv.Itoa(r.Hosts), Class: "count"}, {Text: r.Zone}}})
	}
	d.DriftTable = newTable(c, "drift", []string{"service", "lb", "mixed", "values (instances)"}, drift, 0)
	d.SharedHostTable = newTable(c, "one_host", []string{"service", "lb", "instances", "host"}, host, 0)
	d.SharedZoneTable = newTable(c, "one_zone", []string{"service", "lb", "instances", "hosts", "zone"}, zone, 0)
	for _, t := range append(tables, d.DriftTable, d.SharedHostTable, d.SharedZoneTable) {
		if t.wantsCSV(c) {
			return t.writeCSV(c, "strata-fleet-"+t.Name)
		}
	}
	return u.render(c, http.StatusOK, "fleet", "Fleet", d)
}

type fleetResult struct {
	d   fleetData
	err error
}

// fleetOf is the fleet page's data, once per graph (memo.go).
func (u *UI) fleetOf(g *graph.Graph, at string) fleetResult {
	return cached(&u.memo, g, "fleet?time="+at, func() fleetResult {
		d := fleetData{Hosts: g.Count(graph.Host), Containers: g.Count(graph.Container), MaxBars: maxBars, MaxDriftRows: maxDriftRows}
		for _, f := range fleetFacts {
			if f.IfSet && !anySet(g, f) {
				continue
			}
			dist, err := distributionOf(g, f, at)
			if err != nil {
				return fleetResult{err: err}
			}
			d.Distributions = append(d.Distributions, dist)
		}
		d.Drift, d.DriftMore, d.SharedHost, d.SharedMore, d.SharedZone = serviceDrift(g, at)
		return fleetResult{d: d}
	})
}

// anySet tells whether some entity of the fact's kind has the attribute.
func anySet(g *graph.Graph, f fact) bool {
	for e := range g.All(f.Kind) {
		if e.Attrs.Get(f.Attr) != "" {
			return true
		}
	}
	return false
}

// distributionOf counts the values of a fact, most common first.
func distributionOf(g *graph.Graph, f fact, at string) (distribution, error) {
	counts := map[string]int{}
	g.Each(f.Kind, func(e *graph.Entity) { counts[e.Attrs.Get(f.Attr)]++ })
	d := distribution{Title: f.Title, What: f.What, Attr: f.Attr}
	rows := sortedCounts(counts)
	if len(rows) == 0 {
		return d, nil
	}
	for i := range rows {
		rows[i].Href = attrSearchHref(f.Kind, f.Attr, rows[i].Value, at)
		if rows[i].Value == "" {
			rows[i].Value = noValue
		}
	}
	if len(rows) > maxValueRows {
		d.More = len(rows) - maxValueRows
		rows = rows[:maxValueRows]
	}
	d.Rows = rows
	d.Charted = min(len(rows), maxBars)

	names := make([]string, d.Charted)
	bars := make([]opts.BarData, d.Charted)
	hrefs := make([]string, d.Charted)
	for i, r := range rows[:d.Charted] {
		names[i], hrefs[i] = r.Value, r.Href
		bars[i] = opts.BarData{Name: r.Value, Value: r.Count}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit(f.ID, strconv.Itoa(max(160, 60+28*d.Charted))+"px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithAnimation(false),
		charts.WithGridOpts(opts.Grid{Left: "1%", Right: "4%", Top: "10", Bottom: "10", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", MinInterval: 1}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Inverse: opts.Bool(true)}),
	)
	bar.SetXAxis(names).AddSeries(f.What, bars, charts.WithItemStyleOpts(opts.ItemStyle{Color: colourService}))
	bar.XYReversal()
	chart, err := renderChart(bar, f.ID, hrefs)
	if err != nil {
		return d, err
	}
	d.Chart = &chart
	return d, nil
}

// driftFacts are what a service's instances should agree on, and where each is read.
var driftFacts = []struct {
	What string
	Kind graph.Kind
	Attr string
}{
	{"kernel", graph.Host, "kernel_release"},
	{"OS image", graph.Host, "os_image"},
	{"image", graph.Container, "image"},
}

// serviceDrift finds the services whose instances run mixed kernels, OS images or images, and
// those whose instances (two or more) all run on one host. Instances whose host or container
// is not known count for neither: no facts is not drift.
func serviceDrift(g *graph.Graph, at string) (drift []driftRow, driftMore int, shared []sharedHostRow, sharedMore int, zones []sharedZoneRow) {
	for _, svc := range g.Entities(graph.Service) {
		instances := entitiesBelow(g, svc, graph.Instance)
		if len(instances) == 0 {
			continue
		}
		var lb cell // the LB's page
		for _, edge := range g.UpOf(svc) {
			if e := edge.FromEntity(); e.Kind == graph.LB {
				lb = cell{Text: e.ID, Href: lbHref(e.ID, at)}
			}
		}
		counts := make([]map[string]int, len(driftFacts))
		for i := range counts {
			counts[i] = map[string]int{}
		}
		hosts := map[*graph.Entity]bool{}
		resolved := 0
		for _, inst := range instances {
			under := underInstance(g, inst)
			if len(under.hosts) > 0 {
				resolved++
			}
			for _, h := range under.hosts {
				hosts[h] = true
			}
			for i, f := range driftFacts {
				from := under.hosts
				if f.Kind == graph.Container {
					from = under.containers
				}
				for j, e := range from {
					if v := e.Attrs.Get(f.Attr); v != "" && !slices.ContainsFunc(from[:j], func(o *graph.Entity) bool { return o.Attrs.Get(f.Attr) == v }) {
						counts[i][v]++ // an instance counts once per value
					}
				}
			}
		}
		svcCell := cell{Text: svc.Name, Href: entityHref(graph.Service, svc.ID, at)}
		for i, f := range driftFacts {
			if len(counts[i]) < 2 {
				continue
			}
			if len(drift) == maxDriftRows {
				driftMore++
				continue
			}
			values, more := sortedCounts(counts[i]), 0
			if len(values) > maxDriftValues {
				values, more = values[:maxDriftValues], len(values)-maxDriftValues
			}
			for j := range values {
				values[j].Href = pathQueryHref(fmt.Sprintf("service{id=%s} -> %s{%s=%s}", query.Quote(svc.ID), f.Kind, f.Attr, query.Quote(values[j].Value)), at)
			}
			drift = append(drift, driftRow{Service: svcCell, LB: lb, What: f.What, Values: values, More: more})
		}
		if z, ok := oneZone(hosts); ok && len(instances) >= 2 && resolved == len(instances) && len(hosts) >= 2 && len(zones) < maxDriftRows {
			zones = append(zones, sharedZoneRow{Service: svcCell, LB: lb, Instances: len(instances), Hosts: len(hosts), Zone: z})
		}
		if len(instances) >= 2 && resolved == len(instances) && len(hosts) == 1 {
			if len(shared) == maxDriftRows {
				sharedMore++
				continue
			}
			for h := range hosts {
				shared = append(shared, sharedHostRow{Service: svcCell, LB: lb, Instances: len(instances),
					Host: cell{Text: h.ID, Href: entityHref(graph.Host, h.ID, at)}})
			}
		}
	}
	return drift, driftMore, shared, sharedMore, zones
}

// sortedCounts is the values most common first, then by value.
func sortedCounts(counts map[string]int) []valueCount {
	out := make([]valueCount, 0, len(counts))
	for v, n := range counts {
		out = append(out, valueCount{Value: v, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// attrSearchHref is the search for the entities of a kind with that value of an attribute
// ("" finds those without it).
func attrSearchHref(kind graph.Kind, attr, value, at string) string {
	return pathQueryHref(fmt.Sprintf("%s{%s=%s}", kind, attr, query.Quote(value)), at)
}

// oneZone is the zone all the hosts sit in, when every host's zone is known and they share
// one: one zone's outage takes the whole service.
func oneZone(hosts map[*graph.Entity]bool) (string, bool) {
	zone := ""
	for h := range hosts {
		z := h.Zone()
		if z == "" || (zone != "" && z != zone) {
			return "", false
		}
		zone = z
	}
	return zone, zone != ""
}
