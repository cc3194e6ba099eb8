package ui

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/topology/graph"
)

// kv is one attribute or label.
type kv struct{ Key, Value string }

// related is the entities of one kind above or below an entity: the first maxRelated, and
// how many more a path query lists.
type related struct {
	Kind     string
	Entities []cell
	More     int
	MoreHref string
}

// maxRelated bounds each list of the entity page: an LB of a large cluster has tens of
// thousands of containers below it, which no one reads on one page and no browser renders fast.
const maxRelated = 500

type entityData struct {
	Kind, ID, Name string
	Attrs, Labels  []kv
	Sources        []string
	LastSeen       string
	Stale          bool
	Up, Down       []related // toward the LBs, toward the hardware: nearest kind first
	NotFound       bool
	Charts         *entityChartsView // its series over time; nil: none (entitycharts.go)
}

// entity is the page of one entity: its facts, what depends on it up to the LBs, and what it
// runs on down to the hardware.
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
	d := entityData{Kind: string(kind), ID: id, Name: e.Name, Attrs: sortedKV(e.Attrs), Labels: sortedKV(e.Labels),
		Sources: e.Sources, LastSeen: e.LastSeen.UTC().Format("2006-01-02T15:04:05Z"), Stale: e.Stale,
		Up: walk(g, e, true, at), Down: walk(g, e, false, at)}
	if err := c.Request().Context().Err(); err != nil {
		return err // out of time, or the client went away: nobody waits for the charts
	}
	d.Charts = u.entityCharts(c, e)
	return u.render(c, http.StatusOK, "entity", string(kind)+" "+id, d)
}

// walk collects everything above (up) or below an entity, grouped by kind, nearest kind first.
func walk(g *graph.Graph, from *graph.Entity, up bool, at string) []related {
	byKind := map[graph.Kind][]*graph.Entity{}
	_ = g.Walk(from, up, func(n *graph.Entity) (bool, error) {
		byKind[n.Kind] = append(byKind[n.Kind], n)
		return true, nil
	})
	kinds := graph.Kinds()
	if up {
		for i, j := 0, len(kinds)-1; i < j; i, j = i+1, j-1 {
			kinds[i], kinds[j] = kinds[j], kinds[i]
		}
	}
	var out []related
	for _, k := range kinds {
		es := byKind[k]
		if len(es) == 0 {
			continue
		}
		sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
		r := related{Kind: string(k)}
		for _, e := range es[:min(len(es), maxRelated)] {
			r.Entities = append(r.Entities, cell{Text: e.ID, Href: entityHref(e.Kind, e.ID, at)})
		}
		if r.More = len(es) - len(r.Entities); r.More > 0 {
			arrow := " -> "
			if up {
				arrow = " <- "
			}
			r.MoreHref = pathQueryHref(string(from.Kind)+`{id=`+quoteValue(from.ID)+`}`+arrow+string(k), at)
		}
		out = append(out, r)
	}
	return out
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
