package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/topology/graph"
)

// lbRow is one load balancer of the list.
type lbRow struct {
	LB                         cell // its LB page
	Entity                     string
	Provider, Addresses        string
	Services, Instances, Hosts int
	Health                     []healthCount
}

type healthCount struct {
	Health, Class string
	Count         int
}

type lbsData struct {
	Rows  []lbRow
	Error string
}

// lbs lists the load balancers, each with what stands behind it.
func (u *UI) lbs(c *echo.Context) error {
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		return u.render(c, http.StatusUnprocessableEntity, "lb", "Load balancers", lbPage{List: &lbsData{Error: err.Error()}})
	}
	at := c.QueryParam("time")
	var d lbsData
	for _, lb := range g.Entities(graph.LB) {
		row := lbRow{LB: cell{Text: lb.ID, Href: lbHref(lb.ID, at)}, Entity: entityHref(graph.LB, lb.ID, at),
			Provider: lb.Attrs["provider"], Addresses: lb.Attrs["addresses"]}
		hosts := map[*graph.Entity]bool{}
		health := map[string]int{}
		for _, svc := range entitiesBelow(g, lb, graph.Service) {
			row.Services++
			for _, inst := range entitiesBelow(g, svc, graph.Instance) {
				row.Instances++
				health[shownHealth(inst)]++
				for _, h := range underInstance(g, inst).hosts {
					hosts[h] = true
				}
			}
		}
		row.Hosts, row.Health = len(hosts), healthCounts(health)
		d.Rows = append(d.Rows, row)
	}
	if wantsCSV(c) {
		rows := make([][]string, len(d.Rows))
		for i, r := range d.Rows {
			var health []string
			for _, h := range r.Health {
				health = append(health, h.Health+" "+strconv.Itoa(h.Count))
			}
			rows[i] = []string{r.LB.Text, r.Provider, r.Addresses, strconv.Itoa(r.Services), strconv.Itoa(r.Instances),
				strings.Join(health, ", "), strconv.Itoa(r.Hosts)}
		}
		return writeCSV(c, "strata-lbs", []string{"lb", "provider", "addresses", "services", "instances", "health", "hosts"}, rows)
	}
	return u.render(c, http.StatusOK, "lb", "Load balancers", lbPage{List: &d})
}
