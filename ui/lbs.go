package ui

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/topology/graph"
)

type healthCount struct {
	Health, Class string
	Count         int
}

type lbsData struct {
	Table *table
	Error string
}

var lbsColumns = []string{"lb", "provider", "addresses", "services", "instances", "health", "hosts", "failing"}

// lbs lists the load balancers, each with what stands behind it; those with failing
// instances first.
func (u *UI) lbs(c *echo.Context) error {
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		return u.render(c, http.StatusUnprocessableEntity, "lb", "Load balancers", lbPage{List: &lbsData{Error: err.Error()}})
	}
	at := c.QueryParam("time")
	rows := u.lbRows(g, at)
	d := lbsData{Table: newTable(c, "", lbsColumns, rows, 0)}
	if d.Table.wantsCSV(c) {
		return d.Table.writeCSV(c, "strata-lbs")
	}
	return u.render(c, http.StatusOK, "lb", "Load balancers", lbPage{List: &d})
}

// lbRows is one row per LB, by name, once per graph (memo.go).
func (u *UI) lbRows(g *graph.Graph, at string) []row {
	return cached(&u.memo, g, "lbs?time="+at, func() []row { return lbRows(g, at) })
}

func lbRows(g *graph.Graph, at string) []row {
	var rows []row
	for _, lb := range g.Entities(graph.LB) {
		hosts := map[*graph.Entity]bool{}
		health := map[string]int{}
		services, instances, failing := 0, 0, 0
		for _, svc := range entitiesBelow(g, lb, graph.Service) {
			services++
			for _, inst := range entitiesBelow(g, svc, graph.Instance) {
				instances++
				health[shownHealth(inst)]++
				if isFailing(inst) {
					failing++
				}
				graph.EachPath(g, inst, func(p graph.Path) {
					if p.Host != nil {
						hosts[p.Host] = true
					}
				})
			}
		}
		hc := cell{}
		for _, h := range healthCounts(health) {
			hc.Items = append(hc.Items, cell{Text: h.Health + " " + strconv.Itoa(h.Count), Class: "health " + h.Class})
		}
		r := row{Failing: failing > 0, Cells: []cell{
			{Text: lb.ID, Href: lbHref(lb.ID, at)}, {Text: lb.Attrs.Get("provider")}, {Text: lb.Attrs.Get("addresses")},
			{Text: strconv.Itoa(services)}, {Text: strconv.Itoa(instances)}, hc, {Text: strconv.Itoa(len(hosts))},
			{Text: strconv.Itoa(failing), Class: map[bool]string{true: "failing"}[failing > 0]},
		}}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int { return compareNatural(a.Cells[0].Text, b.Cells[0].Text) })
	return rows
}
