package ui

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// The patch page's bounds: rows per table, failing hosts named per service.
const (
	maxPatchRows  = 500
	maxPatchHosts = 10
)

// lifecycleStates are the states of the lifecycle policy, worst first.
var lifecycleStates = []string{"fail", "warn", "unknown", "ok"}

// stateCount is how many hosts (or images) are in one lifecycle state, and the search for them.
type stateCount struct {
	State string
	Count int
	Href  string
}

// patchServiceRow is a service with instances on hosts that fail or warn.
type patchServiceRow struct {
	Service, LB   cell
	Instances     int
	Failing, Warn int
	Hosts         []cell // the failing (else warned) hosts, first maxPatchHosts
	MoreHosts     int
	Which         cell // the search for the instances and their hosts
}

// patchHostRow is a host that fails or warns, and how many instances behind LBs it carries.
type patchHostRow struct {
	Host                      cell
	State                     string
	OS, SupportEnd, Kernel    string
	RebootRequired, Instances string
}

type patchData struct {
	ServiceTable, HostTable *table
	Error                   string
	Hosts                   []stateCount // hosts by lifecycle state, worst first
	Images                  []stateCount // images held to image rules, by state
	Services                []patchServiceRow
	ServicesMore            int
	FailingHosts            []patchHostRow
	HostsMore               int
	Known                   bool // some host has a lifecycle state: the policy ran
	MaxRows                 int
}

// patch is the patch page: the hosts by lifecycle state, and per LB and service how many of its
// instances sit on hosts that fail or warn the lifecycle policy, and which.
func (u *UI) patch(c *echo.Context) error {
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		return u.render(c, http.StatusUnprocessableEntity, "patch", "Patch status", patchData{Error: err.Error()})
	}
	d := u.patchOf(g, c.QueryParam("time"))
	var services, hosts []row
	for _, r := range d.Services {
		named := cell{Items: r.Hosts}
		if r.MoreHosts > 0 {
			named.Items = append(named.Items, cell{Text: "and " + strconv.Itoa(r.MoreHosts) + " more"})
		}
		services = append(services, row{Cells: []cell{r.Service, r.LB, {Text: strconv.Itoa(r.Instances), Class: "count"},
			{Text: strconv.Itoa(r.Failing), Class: "count"}, {Text: strconv.Itoa(r.Warn), Class: "count"}, named, r.Which}})
	}
	for _, r := range d.FailingHosts {
		hosts = append(hosts, row{Cells: []cell{r.Host, {Text: r.State, Class: "state-" + r.State}, {Text: r.OS}, {Text: r.SupportEnd},
			{Text: r.Kernel}, {Text: r.RebootRequired}, {Text: r.Instances, Class: "count"}}})
	}
	d.ServiceTable = newTable(c, "services", []string{"service", "lb", "instances", "on failing hosts", "on warned hosts", "hosts", "which"}, services, 0)
	d.HostTable = newTable(c, "hosts", []string{"host", "lifecycle", "os_image", "support_end", "kernel_release", "reboot_required", "instances"}, hosts, 0)
	for _, t := range []*table{d.ServiceTable, d.HostTable} {
		if t.wantsCSV(c) {
			return t.writeCSV(c, "strata-patch-"+t.Name)
		}
	}
	return u.render(c, http.StatusOK, "patch", "Patch status", d)
}

// patchOf is the patch page's data of a graph at a time ("" for now), once per graph (memo.go).
func (u *UI) patchOf(g *graph.Graph, at string) patchData {
	return cached(&u.memo, g, "patch?time="+at, func() patchData { return patchOfGraph(g, at) })
}

func patchOfGraph(g *graph.Graph, at string) patchData {
	d := patchData{MaxRows: maxPatchRows}
	d.Hosts, d.Known = statesOf(g, graph.Host, at)
	d.Images, _ = statesOf(g, graph.Image, at)

	carried := map[*graph.Entity]int{} // host → instances behind LBs on it
	for _, svc := range g.Entities(graph.Service) {
		instances := entitiesBelow(g, svc, graph.Instance)
		r := patchServiceRow{Instances: len(instances)}
		failing, warned := map[*graph.Entity]bool{}, map[*graph.Entity]bool{}
		for _, inst := range instances {
			state := ""
			for _, h := range underInstance(g, inst).hosts {
				carried[h]++
				switch s := h.Attrs.Get("lifecycle"); {
				case s == "fail":
					failing[h], state = true, "fail"
				case s == "warn":
					warned[h] = true
					if state == "" {
						state = "warn"
					}
				}
			}
			switch state {
			case "fail":
				r.Failing++
			case "warn":
				r.Warn++
			}
		}
		if r.Failing == 0 && r.Warn == 0 {
			continue
		}
		r.Service = cell{Text: svc.Name, Href: entityHref(graph.Service, svc.ID, at)}
		if lb := g.FirstAbove(svc, graph.LB); lb != nil {
			r.LB = cell{Text: lb.ID, Href: lbHref(lb.ID, at)}
		}
		named, state := failing, "fail"
		if len(failing) == 0 {
			named, state = warned, "warn"
		}
		for _, h := range sortedEntities(named) {
			if len(r.Hosts) == maxPatchHosts {
				r.MoreHosts++
				continue
			}
			r.Hosts = append(r.Hosts, cell{Text: h.ID, Href: entityHref(graph.Host, h.ID, at)})
		}
		r.Which = cell{Text: "paths", Href: pathQueryHref(fmt.Sprintf("service{id=%s} -> instance -> host{lifecycle=%s}", query.Quote(svc.ID), query.Quote(state)), at)}
		d.Services = append(d.Services, r)
	}
	sort.SliceStable(d.Services, func(i, j int) bool {
		a, b := d.Services[i], d.Services[j]
		if a.Failing != b.Failing {
			return a.Failing > b.Failing
		}
		return a.Warn > b.Warn
	})
	if len(d.Services) > maxPatchRows { // the worst kept
		d.ServicesMore, d.Services = len(d.Services)-maxPatchRows, d.Services[:maxPatchRows]
	}

	// The failing hosts, then the warned, each by id.
	var fail, warn []patchHostRow
	for _, h := range g.Entities(graph.Host) {
		state := h.Attrs.Get("lifecycle")
		if state != "fail" && state != "warn" {
			continue
		}
		row := patchHostRow{Host: cell{Text: h.ID, Href: entityHref(graph.Host, h.ID, at)}, State: state,
			OS: h.Attrs.Get("os_image"), SupportEnd: h.Attrs.Get("support_end"), Kernel: h.Attrs.Get("kernel_release"),
			RebootRequired: h.Attrs.Get("reboot_required"), Instances: strconv.Itoa(carried[h])}
		if state == "fail" {
			fail = append(fail, row)
		} else {
			warn = append(warn, row)
		}
	}
	d.FailingHosts = append(fail, warn...)
	if len(d.FailingHosts) > maxPatchRows {
		d.HostsMore, d.FailingHosts = len(d.FailingHosts)-maxPatchRows, d.FailingHosts[:maxPatchRows]
	}
	return d
}

// statesOf counts the entities of a kind by lifecycle state, worst first, each with the search
// for them; known tells whether any has a state.
func statesOf(g *graph.Graph, kind graph.Kind, at string) (out []stateCount, known bool) {
	counts := map[string]int{}
	g.Each(kind, func(e *graph.Entity) {
		if s := e.Attrs.Get("lifecycle"); s != "" {
			counts[s]++
		}
	})
	for _, s := range lifecycleStates {
		if counts[s] > 0 {
			out = append(out, stateCount{State: s, Count: counts[s], Href: attrSearchHref(kind, "lifecycle", s, at)})
		}
	}
	return out, len(counts) > 0
}

// sortedEntities is a set of entities by id.
func sortedEntities(set map[*graph.Entity]bool) []*graph.Entity {
	out := make([]*graph.Entity, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
