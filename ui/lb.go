package ui

import (
	"cmp"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/internal/cgroup"
	"github.com/strata-obs/strata/topology/graph"
)

// maxChartNodes bounds the nodes a graph view draws (docs/design.md, "Targets"): past it the LB page
// aggregates instances into counts, and past that again it draws nothing until filtered.
const maxChartNodes = 500

// lbPage is what lb.html draws: the list of load balancers, or one of them.
type lbPage struct {
	List *lbsData
	LB   *lbData
}

type lbData struct {
	ID, Name string
	selectors
	Entity              string // the LB's entity page
	Provider, Addresses string
	NotFound            bool
	Error               string
	// Filter narrows the page to the services whose name holds it.
	Filter              string
	QueryID             bool   // the id is a parameter (?id=), not in the path: the filter form keeps it
	Clear               string // the page without the filter
	Services, Instances int    // behind the LB, after the filter
	Health              []healthCount
	Table               *table // the instances, down to the hardware
	// The graph view: every instance, or one count per service and host (Aggregated), or
	// nothing (TooMany) when even that passes maxChartNodes.
	Chart               *chartView
	Aggregated, TooMany bool
	Nodes, MaxNodes     int
	// Shared is what the DOWN instances share (| compare); nil when none is DOWN.
	Shared *shareData
}

// lb is the page of a load balancer: LB → service → instance → host as a sankey coloured by
// the instances' health, and the instance table down to the hardware.
func (u *UI) lb(c *echo.Context) error {
	id, err := idFromPath(c, "/lb/")
	if err != nil {
		return u.render(c, http.StatusNotFound, "lb", "Load balancer", lbPage{LB: &lbData{ID: c.Param("*"), NotFound: true}})
	}
	filter := strings.TrimSpace(c.QueryParam("service"))
	d := lbData{ID: id, Filter: filter, MaxNodes: maxChartNodes, QueryID: !pathSafe(id)}
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		d.Error = err.Error()
		return u.render(c, http.StatusUnprocessableEntity, "lb", "Load balancer "+id, lbPage{LB: &d})
	}
	lb, ok := g.Get(graph.Ref{Kind: graph.LB, ID: id})
	if !ok {
		d.NotFound = true
		return u.render(c, http.StatusNotFound, "lb", "Load balancer "+id, lbPage{LB: &d})
	}
	at := c.QueryParam("time")
	d.Name, d.Entity, d.Clear = lb.Name, entityHref(graph.LB, lb.ID, at), lbHref(lb.ID, at)
	d.selectors = selectorsOf(lb, at)
	d.Provider, d.Addresses = lb.Attrs.Get("provider"), lb.Attrs.Get("addresses")

	view := lbView{lb: lb}
	health := map[string]int{}
	for _, svc := range entitiesBelow(g, lb, graph.Service) {
		if filter != "" && !strings.Contains(strings.ToLower(svc.Name), strings.ToLower(filter)) {
			continue
		}
		s := lbService{entity: svc}
		for _, inst := range entitiesBelow(g, svc, graph.Instance) {
			s.instances = append(s.instances, lbInstance{entity: inst, under: underInstance(g, inst)})
			health[shownHealth(inst)]++
		}
		sort.SliceStable(s.instances, func(i, j int) bool { return byPosition(s.instances[i].entity, s.instances[j].entity) })
		view.services = append(view.services, s)
		d.Services++
		d.Instances += len(s.instances)
	}
	d.Health = healthCounts(health)

	var rows []row
	for _, s := range view.services {
		for _, inst := range s.instances {
			rows = append(rows, instanceTableRow(s.entity, inst, at))
		}
	}
	d.Table = newTable(c, "", instanceColumns, rows, 0)
	if d.Table.wantsCSV(c) {
		return d.Table.writeCSV(c, "strata-lb")
	}

	sankey, hrefs, nodes, aggregated := view.sankey(at)
	d.Nodes, d.Aggregated = nodes, aggregated
	if nodes > maxChartNodes {
		d.TooMany = true
	} else if len(view.services) > 0 {
		chart, err := renderChart(sankey, "lb-sankey", hrefs)
		if err != nil {
			return err
		}
		d.Chart = &chart
	}
	if filter == "" {
		d.Shared = u.sharedByFailing(c.Request().Context(), c, g, lb, at)
	}
	return u.render(c, http.StatusOK, "lb", "Load balancer "+id, lbPage{LB: &d})
}

// idFromPath is the id that follows prefix in the request's path, as escapeID wrote it, or the
// id parameter of a page without one there (an id pathSafe refuses). It is read from the
// escaped path: echo's c.Param("*") is decoded or not depending on whether the URL has a
// RawPath, so unescaping it again breaks an id that holds a "%".
func idFromPath(c *echo.Context, prefix string) (string, error) {
	p := c.Request().URL.EscapedPath()
	if !strings.HasPrefix(p, prefix) {
		if id := c.QueryParam("id"); id != "" {
			return id, nil
		}
		return "", errors.New("no id")
	}
	return url.PathUnescape(strings.TrimPrefix(p, prefix))
}

// lbHref is the page of a load balancer.
func lbHref(id, at string) string {
	if !pathSafe(id) {
		return withTime("/lb?id="+url.QueryEscape(id), at)
	}
	return withTime("/lb/"+escapeID(id), at)
}

// instanceTableRow is one instance of an LB page's table, down to the hardware under it.
func instanceTableRow(svc *graph.Entity, inst lbInstance, at string) row {
	e := inst.entity
	address := e.Attrs.Get("address")
	if p := e.Attrs.Get("port"); p != "" && p != "0" && address != "" {
		address += ":" + p
	}
	health := cell{Text: shownHealth(e), Class: "health " + healthClass(shownHealth(e))}
	var containers, images, hosts, kernels, osImages, hardware cell
	for _, ct := range inst.under.containers {
		containers.Items = append(containers.Items, cell{Text: cmp.Or(ct.Name, cgroup.ShortID(ct.ID)), Href: entityHref(graph.Container, ct.ID, at)})
	}
	for _, img := range inst.under.images {
		images.Items = append(images.Items, cell{Text: img.ID, Href: entityHref(graph.Image, img.ID, at)})
	}
	for _, h := range inst.under.hosts {
		hosts.Items = append(hosts.Items, cell{Text: h.ID, Href: entityHref(graph.Host, h.ID, at)})
		kernels.Items = appendFact(kernels.Items, h, "kernel_release", at)
		osImages.Items = appendFact(osImages.Items, h, "os_image", at)
		hardware.Items = appendFact(hardware.Items, h, "product_name", at)
	}
	return row{Failing: isFailing(e), Cells: []cell{
		{Text: svc.Name, Href: entityHref(graph.Service, svc.ID, at)}, {Text: e.Attrs.Get("position")},
		{Text: e.Name, Href: entityHref(graph.Instance, e.ID, at)}, {Text: address}, health, {Text: errorsText(e), Sort: e.Attrs.Get("error_ratio")},
		{Text: humanSeconds(e.Attrs.Get("response_time_seconds")), Sort: e.Attrs.Get("response_time_seconds")},
		containers, images, hosts, kernels, osImages, hardware,
	}}
}

// appendFact adds a host's fact as a link to the search for the hosts that share it.
func appendFact(cells []cell, host *graph.Entity, attr, at string) []cell {
	v := host.Attrs.Get(attr)
	if v == "" {
		return cells
	}
	for _, c := range cells {
		if c.Text == v {
			return cells
		}
	}
	return append(cells, cell{Text: v, Href: attrSearchHref(graph.Host, attr, v, at)})
}

// lbView is what an LB page draws, after the filter.
type lbView struct {
	lb       *graph.Entity
	services []lbService
}

type lbService struct {
	entity    *graph.Entity
	instances []lbInstance
}

type lbInstance struct {
	entity *graph.Entity
	under  underneath
}

// Node colours: the instances' health, the LB and services in the page's accent.
const (
	colourLB      = "#2457c5"
	colourService = "#5470c6"
)

// healthColour is an instance's colour; a host takes the worst of its instances'.
func healthColour(health string) string {
	switch healthClass(health) {
	case "up":
		return "#2e7d32"
	case "down":
		return "#c62828"
	case "maint":
		return "#f0a30a"
	}
	return "#9e9e9e"
}

// shownHealth is an instance's health as the page shows it: FAILING for one whose health
// check passes while the LB counts its requests failing (the failing attribute), else its health.
func shownHealth(e *graph.Entity) string {
	if h := e.Attrs.Get("health"); h != "UP" || e.Attrs.Get("failing") != "true" {
		return h
	}
	return "FAILING"
}

// errorsText is "12% of 20.5/s": an instance's share of failed requests and its request
// rate, as the LB counts them; empty when it counts none.
func errorsText(e *graph.Entity) string {
	ratio, err := strconv.ParseFloat(e.Attrs.Get("error_ratio"), 64)
	if err != nil {
		return ""
	}
	return strconv.FormatFloat(math.Round(ratio*1000)/10, 'f', -1, 64) + "% of " + humanRate(e.Attrs.Get("req_rate"))
}

// healthClass groups the health values as the page colours them.
func healthClass(health string) string {
	switch strings.ToUpper(health) {
	case "UP":
		return "up"
	case "DOWN", "FAILING":
		return "down"
	case "MAINT", "DRAIN":
		return "maint"
	}
	return "other"
}

// worseHealth is the worse of two healths: DOWN, then MAINT/DRAIN, then anything else, then UP.
func worseHealth(a, b string) string {
	rank := map[string]int{"up": 1, "other": 2, "maint": 3, "down": 4}
	if a == "" || rank[healthClass(b)] > rank[healthClass(a)] {
		return b
	}
	return a
}

func healthCounts(m map[string]int) []healthCount {
	out := make([]healthCount, 0, len(m))
	for h, n := range m {
		out = append(out, healthCount{Health: cmp.Or(h, "UNKNOWN"), Class: healthClass(h), Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Health < out[j].Health })
	return out
}

// entitiesBelow is the entities of a kind directly under e, by id.
func entitiesBelow(g *graph.Graph, e *graph.Entity, kind graph.Kind) []*graph.Entity {
	out := g.Below(e.Ref, kind)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// underneath is what an instance runs on: its containers (through its pod or directly), their
// images and the hosts below, each by id.
type underneath struct {
	containers, images, hosts []*graph.Entity
}

// underInstance is what runs an instance, from the one walk of an instance's paths that the
// path_info series and the entity API use too: its containers, their images, and the hosts.
func underInstance(g *graph.Graph, inst *graph.Entity) underneath {
	var u underneath
	add := func(l []*graph.Entity, e *graph.Entity) []*graph.Entity {
		if e == nil || slices.Contains(l, e) {
			return l
		}
		return append(l, e)
	}
	graph.EachPath(g, inst, func(p graph.Path) {
		u.containers = add(u.containers, p.Container)
		u.hosts = add(u.hosts, p.Host)
		if p.Container != nil {
			for _, img := range g.Below(p.Container.Ref, graph.Image) {
				u.images = add(u.images, img)
			}
		}
	})
	for _, l := range [][]*graph.Entity{u.containers, u.images, u.hosts} {
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	return u
}

// byPosition orders instances as the LB does: by position, then name.
func byPosition(a, b *graph.Entity) bool {
	pa, errA := strconv.Atoi(a.Attrs.Get("position"))
	pb, errB := strconv.Atoi(b.Attrs.Get("position"))
	if errA == nil && errB == nil && pa != pb {
		return pa < pb
	}
	if (errA == nil) != (errB == nil) {
		return errA == nil
	}
	return a.Name < b.Name
}

// pathQueryHref is the search page for a path query.
func pathQueryHref(q, at string) string { return withTime("/search?q="+url.QueryEscape(q), at) }

// instanceColumns are the LB page's instance table's.
var instanceColumns = []string{"service", "position", "server", "address", "health", "errors", "response_time", "containers", "images", "hosts",
	"kernels", "os_images", "hardware"}
