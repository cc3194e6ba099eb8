package ui

import (
	"cmp"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/internal/cgroup"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// kv is one attribute or label; Shown is its value in a person's units, when that differs.
type kv struct{ Key, Value, Shown string }

// related is how many entities of one kind stand above or below an entity, and the search
// that lists them.
type related struct {
	Kind string
	N    int
	Href string
}

// maxPaths bounds the paths an entity page walks: an LB of a large cluster has tens of
// thousands below it, which the table pages through but no one reads past the first pages.
const maxPaths = 2000

// pathColumns are the entity page's paths, from the LB down to the hardware.
var pathColumns = []string{"lb", "service", "instance", "health", "pod", "container", "image", "host", "kernel"}

type entityData struct {
	Kind, ID, Name string
	selectors
	Attrs, Labels []kv
	Sources       []string
	LastSeen      string
	Stale         bool
	Failing       bool
	Up, Down      []related // toward the LBs, toward the hardware: nearest kind first
	Paths         *table    // LB → … → host through the entity
	PathsCut      bool      // more than maxPaths
	NotFound      bool
	Charts        *entityChartsView // its series over time; nil: none (entitycharts.go)
}

// entity is the page of one entity: its facts, the paths through it from the LBs down to the
// hardware, and how many of each kind stand above and below it.
func (u *UI) entity(c *echo.Context) error {
	kind := graph.Kind(c.Param("kind"))
	id, err := idFromPath(c, "/entity/"+string(kind)+"/")
	if err != nil || kind.Depth() < 0 {
		return u.render(c, http.StatusNotFound, "entity", "Entity", entityData{Kind: string(kind), ID: c.Param("*"), NotFound: true})
	}
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		return u.render(c, http.StatusUnprocessableEntity, "entity", "Entity", entityData{Kind: string(kind), ID: id, NotFound: true})
	}
	e, ok := g.Get(graph.Ref{Kind: kind, ID: id})
	if !ok {
		return u.render(c, http.StatusNotFound, "entity", string(kind)+" "+id, entityData{Kind: string(kind), ID: id, NotFound: true})
	}
	at := c.QueryParam("time")
	d := entityData{Kind: string(kind), ID: id, Name: e.Name, Attrs: humanKV(e.Attrs.Map()), Labels: sortedKV(e.Labels),
		Sources: e.Sources, LastSeen: fmtTime(g.LastSeen(e)), Stale: e.Stale, Failing: kind == graph.Instance && isFailing(e),
		Up: walk(g, e, true, at), Down: walk(g, e, false, at)}
	d.selectors = selectorsOf(e, at)
	var rows []row
	rows, d.PathsCut = entityPaths(g, e, at)
	d.Paths = newTable(c, "paths", pathColumns, rows, 0)
	if d.Paths.wantsCSV(c) {
		return d.Paths.writeCSV(c, "strata-paths")
	}
	if err := c.Request().Context().Err(); err != nil {
		return err // out of time, or the client went away: nobody waits for the charts
	}
	d.Charts = u.entityCharts(c, e)
	return u.render(c, http.StatusOK, "entity", string(kind)+" "+cmp.Or(e.Name, id), d)
}

// selectors are the names of an entity in each language, for its page: the path query that
// selects it by id, the one by name when that differs, and the label its series carry in
// PromQL. The UI titles an entity by its name; either query finds it.
type selectors struct {
	Select, SelectHref, SelectName, SelectNameHref string
	PromQL                                         string
}

func selectorsOf(e *graph.Entity, at string) selectors {
	s := selectors{Select: string(e.Kind) + "{id=" + query.Quote(e.ID) + "}"}
	s.SelectHref = pathQueryHref(s.Select, at)
	if e.Name != "" && e.Name != e.ID {
		s.SelectName = string(e.Kind) + "{name=" + query.Quote(e.Name) + "}"
		s.SelectNameHref = pathQueryHref(s.SelectName, at)
	}
	var pairs []string
	switch e.Kind {
	case graph.LB:
		pairs = []string{"lb", e.Name}
	case graph.Service:
		pairs = []string{"lb", e.Attrs.Get("lb"), "service", e.Name}
	case graph.Instance:
		pairs = []string{"lb", e.Attrs.Get("lb"), "service", e.Attrs.Get("service"), "server", e.Attrs.Get("server")}
	case graph.Host:
		pairs = []string{"host", e.ID}
	case graph.Container:
		pairs = []string{"container_id", e.ID}
	}
	var labels []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			labels = append(labels, pairs[i]+"="+query.Quote(pairs[i+1]))
		}
	}
	s.PromQL = strings.Join(labels, ", ")
	return s
}

// entityPaths is every path from an LB down to the hardware that passes through e, one row per
// instance and container, at most maxPaths.
func entityPaths(g *graph.Graph, e *graph.Entity, at string) ([]row, bool) {
	var instances []*graph.Entity
	switch e.Kind {
	case graph.Instance:
		instances = []*graph.Entity{e}
	default:
		up := e.Kind.Depth() > graph.Instance.Depth()
		_ = g.Walk(e, up, func(n *graph.Entity) (bool, error) {
			if n.Kind == graph.Instance {
				instances = append(instances, n)
				return false, nil
			}
			return true, nil
		})
	}
	slices.SortFunc(instances, func(a, b *graph.Entity) int { return compareNatural(a.ID, b.ID) })
	through := func(p graph.Path) bool {
		switch e.Kind {
		case graph.Pod:
			return p.Pod == e
		case graph.Container:
			return p.Container == e
		case graph.Host:
			return p.Host == e
		case graph.Image:
			return p.Container != nil && slices.Contains(g.Below(p.Container.Ref, graph.Image), e)
		}
		return true
	}
	link := func(x *graph.Entity, text string) cell {
		if x == nil {
			return cell{}
		}
		return cell{Text: cmp.Or(text, x.Name, x.ID), Href: entityHref(x.Kind, x.ID, at)}
	}
	var rows []row
	for _, inst := range instances {
		svc := g.FirstAbove(inst, graph.Service)
		var lb *graph.Entity
		if svc != nil {
			lb = g.FirstAbove(svc, graph.LB)
		}
		for _, p := range graph.PathsOf(g, inst) {
			if !through(p) {
				continue
			}
			if len(rows) == maxPaths {
				return rows, true
			}
			var lbCell cell
			if lb != nil {
				lbCell = link(lb, lb.ID) // as the list of LBs names them
			}
			r := row{Failing: isFailing(inst), Cells: []cell{lbCell, link(svc, ""), link(inst, ""),
				{Text: shownHealth(inst), Class: "health " + healthClass(shownHealth(inst))}, link(p.Pod, ""), {}, {}, link(p.Host, ""), {}}}
			if p.Container != nil {
				r.Cells[5] = link(p.Container, cmp.Or(p.Container.Name, cgroup.ShortID(p.Container.ID)))
				if img := g.FirstBelow(p.Container, graph.Image); img != nil {
					r.Cells[6] = link(img, img.ID)
				}
			}
			if p.Host != nil {
				r.Cells[7].Text = p.Host.ID
				r.Cells[8] = cell{Text: p.Host.Attrs.Get("kernel_release")}
			}
			rows = append(rows, r)
		}
	}
	return rows, false
}

// walk counts everything above (up) or below an entity, per kind, nearest kind first.
func walk(g *graph.Graph, from *graph.Entity, up bool, at string) []related {
	byKind := map[graph.Kind]int{}
	_ = g.Walk(from, up, func(n *graph.Entity) (bool, error) {
		byKind[n.Kind]++
		return true, nil
	})
	kinds := graph.Kinds()
	if up {
		slices.Reverse(kinds)
	}
	arrow := " -> "
	if up {
		arrow = " <- "
	}
	var out []related
	for _, k := range kinds {
		if n := byKind[k]; n > 0 {
			out = append(out, related{Kind: string(k), N: n,
				Href: pathQueryHref(string(from.Kind)+`{id=`+query.Quote(from.ID)+`}`+arrow+string(k), at)})
		}
	}
	return out
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// humanKV is the attributes as the page shows them: sizes, durations, rates and ratios in
// their units (the raw value is the row's title).
func humanKV(m map[string]string) []kv {
	out := sortedKV(m)
	for i, a := range out {
		out[i].Shown = humanAttr(a.Key, a.Value)
	}
	return out
}
