package ui

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// queryExamples are the README's query language, one click away on the landing and search pages.
var queryExamples = []struct{ Query, What string }{
	{`service{name="c1ps"} -> instance[0] -> host .kernel_release .os_image`, "the kernel and OS image under a service's first instance"},
	{`lb -> host | count by (kernel_release)`, "the kernel mix behind the load balancers"},
	{`host{product_name="PowerEdge R640"} <- lb`, "the load balancers that depend on that hardware"},
	{`container{image=~"nginx:1\\.25.*"} -> host .bios_version`, "the BIOS under the containers of an image"},
	{`instance{failing="true"} .health .error_ratio .req_rate`, "the instances failing, by health check or by the errors the LB counts"},
	{`lb -> instance{error_ratio>0.05} -> host .kernel_release`, "the hosts under instances whose errors pass 5% of requests"},
	{`host .kernel_release .os_image .product_name`, "every host"},
}

// cell is one table cell, a link when it names an entity; Class colours it (failing); a cell of
// several values (the containers of an instance) holds them as Items, one per line. Sort is the
// value it sorts by when its text is written for a person ("250 µs" sorts as 0.00025).
type cell struct {
	Text, Href, Class string
	Items             []cell
	Sort              string
}

type searchData struct {
	Text     string
	Error    string
	Caret    string // a ^ under the error's column, for a one-line query
	Warnings []string
	Table    *table
	Plain    bool   // a text search, not a path query
	Suggest  string // a text search that found nothing: the closest name there is
	Cut      int    // a text search's hits left out (past plainLimit)
	Examples []example
}

// plainLimit bounds a text search's answer.
const plainLimit = 500

// search answers a path query, or plain text looked up in every entity's id, name, attributes
// and labels.
func (u *UI) search(c *echo.Context) error {
	text := strings.TrimSpace(c.QueryParam("q"))
	at := c.QueryParam("time")
	d := searchData{Text: text}
	if text == "" {
		d.Examples = examples(at)
		return u.render(c, http.StatusOK, "search", "Search", d)
	}
	when, err := asOf(c)
	if err != nil {
		d.Error = "time: " + err.Error()
		return u.render(c, http.StatusBadRequest, "search", "Search", d)
	}
	q, err := query.Parse(text, u.opts.Limits)
	var qe *query.Error
	switch {
	case errors.As(err, &qe) && qe.Limit != "":
		// Too long, or too many of something, as a path query or as plain text: refused.
		d.Error = err.Error()
		return u.render(c, http.StatusUnprocessableEntity, "search", "Search", d)
	case err != nil && !looksLikeQuery(text):
		return u.plainSearch(c, d)
	case err != nil:
		d.Error, d.Caret = err.Error(), caret(text, err)
		return u.render(c, http.StatusBadRequest, "search", "Search", d)
	}
	if !when.IsZero() && q.At == nil && q.Diff == nil {
		q.At = &when
	}
	eng := &query.Engine{Graphs: u.opts.Graphs, Limits: u.opts.Limits, Now: u.opts.Now}
	res, err := eng.Run(c.Request().Context(), q)
	if err != nil {
		code, msg := failedStatus(c, err)
		d.Error, d.Caret = msg, caret(text, err)
		return u.render(c, code, "search", "Search", d)
	}
	d.Warnings = res.Warnings
	columns := slices.Clone(res.Columns)
	withPath := res.HasPaths()
	if withPath {
		columns = append(columns, "path")
	}
	kindCol, idCol := slices.Index(res.Columns, "kind"), slices.Index(res.Columns, "id")
	rows := make([]row, len(res.Rows))
	for i := range rows {
		rows[i].src = i
		if i < len(res.Entities) && res.Entities[i] != nil && res.Entities[i].Kind == graph.Instance {
			rows[i].Failing = isFailing(res.Entities[i])
		}
	}
	cells := func(i int) []cell {
		cells := make([]cell, len(res.Rows[i]), len(columns))
		for j, v := range res.Rows[i] {
			cells[j] = cell{Text: v}
		}
		if withPath {
			path := res.Path(i)
			p := cell{Class: "path", Items: make([]cell, len(path))}
			for j, ref := range path {
				p.Items[j].Text = ref
			}
			cells = append(cells, p)
		}
		return cells
	}
	// A query over a fleet answers tens of thousands of rows: their cells are made for the page
	// shown, unless a filter, a sort or CSV reads them all.
	d.Table = lazyTable(c, "", columns, rows, cells, 0)
	if d.Table.wantsCSV(c) {
		return d.Table.writeCSV(c, "strata-query")
	}
	// Links for the rows shown only: escaping every row's ids is most of a long answer's time.
	for _, r := range d.Table.Rows {
		cells := r.Cells
		if kindCol >= 0 && idCol >= 0 && graph.Kind(cells[kindCol].Text).Depth() >= 0 {
			cells[idCol].Href = entityHref(graph.Kind(cells[kindCol].Text), cells[idCol].Text, at)
		}
		if q.Diff != nil && len(cells) > 2 && graph.Kind(cells[1].Text).Depth() >= 0 {
			cells[2].Href = entityHref(graph.Kind(cells[1].Text), cells[2].Text, at)
		}
		if withPath {
			linkPath(cells[len(cells)-1].Items, at)
		}
	}
	return u.render(c, http.StatusOK, "search", "Search", d)
}

// linkPath links each step of a row's path (lb › service › …, refs kind/id) to its entity.
func linkPath(steps []cell, at string) {
	for i, s := range steps {
		kind, id, _ := strings.Cut(s.Text, "/")
		if k := graph.Kind(kind); k.Depth() >= 0 {
			steps[i].Href = entityHref(k, id, at)
		}
	}
}

// looksLikeQuery tells a path query with a typo from plain text: it starts with a kind's name
// or holds the language's punctuation.
func looksLikeQuery(text string) bool {
	first := strings.FieldsFunc(text, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') })
	if len(first) > 0 && strings.HasPrefix(text, first[0]) && graph.Kind(first[0]).Depth() >= 0 {
		return true
	}
	return strings.ContainsAny(text, "{}[]|") || strings.Contains(text, "->") || strings.Contains(text, "<-") ||
		strings.HasPrefix(text, "diff(")
}

// caret points at the error's column under a one-line query.
func caret(text string, err error) string {
	var qe *query.Error
	if !errors.As(err, &qe) || strings.Contains(text, "\n") || qe.Pos.Col < 1 {
		return ""
	}
	return strings.Repeat(" ", qe.Pos.Col-1) + "^"
}

// How well an entity matches a text search: the whole of its own id, name or one of its
// addresses (a host is its IP; an instance is its ip:port), then the whole of another value
// (an instance at that IP), then a value's start, then anywhere in one.
const (
	matchOwn = iota
	matchExact
	matchPrefix
	matchInside
	noMatch
)

// plainSearch finds the entities whose id, name, attributes or labels hold the text, exact
// matches first: an IP is its host and instances before the hundred entities whose ids hold
// it. "ip:port" finds the instances at that address and the LBs listening there.
func (u *UI) plainSearch(c *echo.Context, d searchData) error {
	g, _, err := u.graphAt(c.Request().Context(), c)
	if err != nil {
		code, msg := failedStatus(c, err)
		d.Error = msg
		return u.render(c, code, "search", "Search", d)
	}
	needle := strings.ToLower(d.Text)
	type hit struct {
		e     *graph.Entity
		how   int
		where string
	}
	var hits []hit
	inside := 0 // hits of matchInside kept: past plainLimit they are only counted
	ix := u.searchIndex(g)
	ix.each(needle, func(e *graph.Entity) bool {
		how, where := matchWhere(e, needle)
		if how == noMatch {
			return true
		}
		if how == matchInside {
			if inside >= plainLimit {
				d.Cut++
				return true
			}
			inside++
		}
		hits = append(hits, hit{e, how, where})
		return true
	})
	slices.SortFunc(hits, func(a, b hit) int {
		if a.how != b.how {
			return a.how - b.how
		}
		if a.e.Kind != b.e.Kind {
			return a.e.Kind.Depth() - b.e.Kind.Depth()
		}
		return compareNatural(a.e.ID, b.e.ID)
	})
	if len(hits) > plainLimit {
		d.Cut += len(hits) - plainLimit
		hits = hits[:plainLimit]
	}
	at := c.QueryParam("time")
	d.Plain = true
	if len(hits) == 0 {
		d.Suggest = u.closestName(g, needle)
	}
	rows := make([]row, len(hits))
	for i, h := range hits {
		rows[i] = row{Cells: []cell{{Text: string(h.e.Kind)}, {Text: h.e.ID, Href: entityHref(h.e.Kind, h.e.ID, at)}, {Text: h.e.Name},
			{Text: h.where}}, Failing: h.e.Kind == graph.Instance && isFailing(h.e)}
	}
	d.Table = newTable(c, "", []string{"kind", "id", "name", "matched"}, rows, 0)
	if d.Table.wantsCSV(c) {
		return d.Table.writeCSV(c, "strata-search")
	}
	return u.render(c, http.StatusOK, "search", "Search", d)
}

// matchWhere says how well an entity holds the (lower-case) text, and where: its id, its name,
// an attribute or a label; "address:port" for an instance at the ip:port searched.
func matchWhere(e *graph.Entity, needle string) (int, string) {
	best, where := noMatch, ""
	try := func(value, name string) {
		v := strings.ToLower(value)
		how := noMatch
		switch {
		case v == needle:
			how = matchExact
		case strings.HasPrefix(v, needle):
			how = matchPrefix
		case strings.Contains(v, needle):
			how = matchInside
		}
		if how < best {
			best, where = how, name
		}
	}
	if e.Kind == graph.Instance && e.Attrs.Get("address") != "" {
		if addr := e.Attrs.Get("address") + ":" + e.Attrs.Get("port"); strings.EqualFold(addr, needle) {
			return matchOwn, "address:port=" + addr
		}
	}
	try(e.ID, "id")
	try(e.Name, "name")
	if best == matchExact { // its own id or name
		return matchOwn, where
	}
	for _, k := range e.Attrs.Names() {
		v := e.Attrs.Get(k)
		try(v, k+"="+v)
		if k == "addresses" { // a list of its own: one of them whole is the entity itself
			for a := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(a), needle) {
					return matchOwn, k + "=" + v
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
		v := e.Labels[k]
		try(v, "label "+k+"="+v)
	}
	return best, where
}

// closestName is the id or name in the graph closest to a text that matched nothing, for a
// "did you mean"; "" when none is close. The names are kept per graph by length; a name whose
// letters differ from the text's by more than a close one's can is skipped before the edit
// distance is counted, which keeps it quick on a fleet of hundreds of thousands of names.
func (u *UI) closestName(g *graph.Graph, needle string) string {
	byLen := u.names(g)
	maxEdits := max(1, len(needle)/3)
	var want [256]int
	for i := 0; i < len(needle); i++ {
		want[needle[i]]++
	}
	var candidates []string
	for n := len(needle) - maxEdits; n <= len(needle)+maxEdits; n++ {
		for _, s := range byLen[n] {
			// Each edit changes at most two letters' counts: more differing letters than
			// twice the edits allowed rules the name out.
			have, diff := want, 0
			for i := 0; i < len(s); i++ {
				if have[s[i]] > 0 {
					have[s[i]]--
				} else {
					diff++
				}
			}
			if diff <= 2*maxEdits {
				candidates = append(candidates, s)
			}
		}
	}
	slices.Sort(candidates)
	return query.Suggest(needle, candidates)
}

// namesByLength is every distinct id and name of a graph, lower-cased, by length; container
// and pod ids (hashes and UUIDs no one types from memory) are left out.
func namesByLength(g *graph.Graph) map[int][]string {
	seen := map[string]bool{}
	out := map[int][]string{}
	g.Each("", func(e *graph.Entity) {
		for i, s := range []string{e.ID, e.Name} {
			if i == 0 && (e.Kind == graph.Container || e.Kind == graph.Pod) {
				continue
			}
			if s = strings.ToLower(s); s != "" && !seen[s] {
				seen[s] = true
				out[len(s)] = append(out[len(s)], s)
			}
		}
	})
	return out
}
