package ui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// examples are the README's query language, one click away on the search page.
var examples = []struct{ Query, What string }{
	{`service{name="c1ps"} -> instance[0] -> host .kernel_release .os_image`, "the kernel and OS image under a service's first instance"},
	{`lb -> host | count by (kernel_release)`, "the kernel mix behind the load balancers"},
	{`host{product_name="PowerEdge R640"} <- lb`, "the load balancers that depend on that hardware"},
	{`container{image=~"nginx:1\\.25.*"} -> host .bios_version`, "the BIOS under the containers of an image"},
	{`instance{health!="UP"} .health .address`, "the instances that are not up"},
	{`host .kernel_release .os_image .product_name`, "every host"},
}

// cell is one table cell, a link when it names an entity; Class colours it (failing); a cell of
// several values (the containers of an instance) holds them as Items, one per line.
type cell struct {
	Text, Href, Class string
	Items             []cell
}

type searchData struct {
	Text     string
	Error    string
	Caret    string // a ^ under the error's column, for a one-line query
	Columns  []string
	Rows     [][]cell
	Plain    bool   // a text search, not a path query
	CSV      string // the same answer as CSV
	Examples []struct{ Query, What, Href string }
}

// plainLimit bounds a text search's answer.
const plainLimit = 500

// search is the home page: a path query, or plain text looked up in every entity's id, name,
// attributes and labels.
func (u *UI) search(c *echo.Context) error {
	text := strings.TrimSpace(c.QueryParam("q"))
	at := c.QueryParam("time")
	d := searchData{Text: text}
	if text == "" {
		for _, e := range examples {
			d.Examples = append(d.Examples, struct{ Query, What, Href string }{e.Query, e.What, withTime("/?q="+url.QueryEscape(e.Query), at)})
		}
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
	if wantsCSV(c) {
		return writeCSV(c, "strata-query", res.Columns, res.Rows)
	}
	d.Columns = res.Columns
	d.CSV = withTime("/?"+url.Values{"q": {text}, "format": {"csv"}}.Encode(), at)
	kindCol, idCol := slices.Index(res.Columns, "kind"), slices.Index(res.Columns, "id")
	for _, r := range res.Rows {
		row := make([]cell, len(r))
		for i, v := range r {
			row[i] = cell{Text: v}
		}
		if kindCol >= 0 && idCol >= 0 && graph.Kind(r[kindCol]).Depth() >= 0 {
			row[idCol].Href = entityHref(graph.Kind(r[kindCol]), r[idCol], at)
		}
		if q.Diff != nil && len(r) > 2 && graph.Kind(r[1]).Depth() >= 0 {
			row[2].Href = entityHref(graph.Kind(r[1]), r[2], at)
		}
		d.Rows = append(d.Rows, row)
	}
	return u.render(c, http.StatusOK, "search", "Search", d)
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

// plainSearch finds the entities whose id, name, attributes or labels hold the text.
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
		where string
	}
	var hits []hit
	g.Each("", func(e *graph.Entity) {
		if len(hits) >= plainLimit {
			return
		}
		if where := matchWhere(e, needle); where != "" {
			hits = append(hits, hit{e, where})
		}
	})
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i].e, hits[j].e
		if a.Kind != b.Kind {
			return a.Kind.Depth() < b.Kind.Depth()
		}
		return a.ID < b.ID
	})
	at := c.QueryParam("time")
	d.Plain, d.Columns = true, []string{"kind", "id", "name", "matched"}
	for _, h := range hits {
		d.Rows = append(d.Rows, []cell{{Text: string(h.e.Kind)}, {Text: h.e.ID, Href: entityHref(h.e.Kind, h.e.ID, at)}, {Text: h.e.Name}, {Text: h.where}})
	}
	return u.render(c, http.StatusOK, "search", "Search", d)
}

// matchWhere says where an entity holds the text ("" when it does not).
func matchWhere(e *graph.Entity, needle string) string {
	if strings.Contains(strings.ToLower(e.ID), needle) {
		return "id"
	}
	if strings.Contains(strings.ToLower(e.Name), needle) {
		return "name"
	}
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.Contains(strings.ToLower(e.Attrs[k]), needle) {
			return k + "=" + e.Attrs[k]
		}
	}
	keys = keys[:0]
	for k := range e.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := e.Labels[k]; strings.Contains(strings.ToLower(v), needle) {
			return "label " + k + "=" + v
		}
	}
	return ""
}
