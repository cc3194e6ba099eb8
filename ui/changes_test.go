package ui

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// The changes fixture: HAProxy "edge", backend c1ps, recorded at changesBefore and
// changesAfter. In between node-17's kernel was upgraded, s0 went DOWN and moved into a
// container, s1 left, s2 came, and a source labelled node-18 with markup.
var (
	changesBefore = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	changesAfter  = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	changesNow    = time.Date(2026, 11, 20, 10, 10, 0, 0, time.UTC) // the last hour starts after changesBefore
)

const (
	changesContainer = "cccc000000000000000000000000000000000000000000000000000000000001"
	hostileText      = `</script><script>alert("x")</script>`
)

func changesGraph(at time.Time) *graph.Graph {
	g := graph.New(at)
	put := func(kind graph.Kind, id string, attrs, labels map[string]string) graph.Ref {
		name := id[strings.LastIndex(id, "/")+1:]
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: name, Attrs: attrs, Labels: labels,
			Sources: []string{"test"}, LastSeen: at}).Ref
	}
	link := func(from, to graph.Ref) { g.Link(from, to, "test", at) }
	instance := func(server, position, health string) graph.Ref {
		return put(graph.Instance, "edge/c1ps/"+server, map[string]string{"lb": "edge", "service": "c1ps", "server": server,
			"position": position, "health": health, "address": "10.0.3.1" + position, "port": "8080"}, nil)
	}
	lb := put(graph.LB, "haproxy/edge", map[string]string{"provider": "haproxy"}, nil)
	svc := put(graph.Service, "edge/c1ps", map[string]string{"lb": "edge"}, nil)
	link(lb, svc)
	node17Kernel, node18Labels := "6.1.0-13-amd64", map[string]string(nil)
	if !at.Before(changesAfter) {
		node17Kernel, node18Labels = "6.1.0-18-amd64", map[string]string{"note": hostileText}
	}
	node17 := put(graph.Host, "node-17", map[string]string{"kernel_release": node17Kernel, "os_image": "Debian GNU/Linux 12 (bookworm)"}, nil)
	node18 := put(graph.Host, "node-18", map[string]string{"kernel_release": "5.4.0-150-generic", "os_image": "Ubuntu 20.04.6 LTS"}, node18Labels)
	if at.Before(changesAfter) {
		s0, s1 := instance("s0", "0", "UP"), instance("s1", "1", "UP")
		link(svc, s0)
		link(svc, s1)
		link(s0, node17)
		link(s1, node18)
		return g
	}
	s0, s2 := instance("s0", "0", "DOWN"), instance("s2", "2", "UP")
	c := put(graph.Container, changesContainer, map[string]string{"host": "node-17", "image": "nginx:1.25.3"}, nil)
	link(svc, s0)
	link(svc, s2)
	link(s0, c)
	link(c, node17)
	link(s2, node18)
	return g
}

// changesGraphs is query.Graphs over the two graphs, as query/querytest's: the latest for the
// zero time, the last one recorded at or before a time, an empty graph before both.
type changesGraphs []*graph.Graph

func (gs changesGraphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	if at.IsZero() {
		return gs[len(gs)-1], nil, nil
	}
	found := graph.New(at)
	for _, g := range gs {
		if !g.At.After(at) {
			found = g
		}
	}
	return found, nil, nil
}

// changesUI is the UI over the changes fixture, with series (nil: none) and a fixed clock.
func changesUI(t *testing.T, series storage.Queryable) *UI {
	t.Helper()
	gs := changesGraphs{changesGraph(changesBefore), changesGraph(changesAfter)}
	u, err := New(Options{Graphs: gs, Limits: query.DefaultLimits, Series: series, Now: func() time.Time { return changesNow }},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func changesURL(q string, kv ...string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return "/changes"
	}
	return "/changes?" + v.Encode()
}

func TestChangesGolden(t *testing.T) {
	before, after := changesBefore.Format(time.RFC3339), changesAfter.Format(time.RFC3339)
	// The point of the page: node-17's kernel upgrade, a link to the host as of the end.
	kernelUpgrade := func(link string) string {
		return `<tr class="change-changed"><td>changed</td><td>host</td><td><a href="` + link + `">node-17</a></td><td>kernel_release</td><td class="was">6.1.0-13-amd64</td><td>6.1.0-18-amd64</td></tr>`
	}
	runPageCases(t, changesUI(t, nil), []pageCase{
		// No parameters: lb -> instance over the last hour, up to the latest graph.
		{name: "changes-default", path: "/changes", code: http.StatusOK,
			holds: []string{`<a href="/changes" aria-current="page">Changes</a>`, `value="lb -&gt; instance"`,
				`name="from" value="2026-11-20T09:10:00"`, `name="to" value="">`, "to now:",
				kernelUpgrade("/entity/host/node-17"),
				`<td>changed</td><td>instance</td><td><a href="/entity/instance/edge/c1ps/s0">edge/c1ps/s0</a></td><td>health</td><td class="was">UP</td><td>DOWN</td>`,
				// A removed entity links to the graph it was in.
				`<td>removed</td><td>instance</td><td><a href="/entity/instance/edge/c1ps/s1?time=2026-11-20T09%3A10%3A00Z">edge/c1ps/s1</a>`,
				`<td>added</td><td>container</td><td><a href="/entity/container/` + changesContainer + `">`,
				`<td>removed</td><td>edge</td><td>instance/edge/c1ps/s0 -&gt; host/node-17</td>`,
				`<span class="change-changed">3 changed</span><span class="change-added">5 added</span><span class="change-removed">3 removed</span>`,
				`href="/changes?from=2026-11-20T09%3A10%3A00Z&amp;q=lb&#43;-%3E&#43;instance&amp;to=2026-11-20T10%3A10%3A00Z"`}},
		// Both times in the URL, as RFC 3339 and unix seconds; the path narrowed to a service.
		{name: "changes-times", path: changesURL(`service{name="c1ps"} -> host`, "from", before, "to", "1795167000"), code: http.StatusOK,
			holds: []string{`name="from" value="2026-11-20T09:00:00"`, `name="to" value="2026-11-20T09:30:00"`, kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A30%3A00Z"),
				// Every link opens the graph of the time the row is about.
				`<a href="/entity/host/node-18?time=` + url.QueryEscape(after) + `">node-18</a>`},
			lacks: []string{"<td>instance</td>"}},
		// What a datetime-local field sends: no zone, read as UTC.
		{name: "changes-form", path: changesURL("lb -> host", "from", "2026-11-20T09:00", "to", "2026-11-20T09:45:00"), code: http.StatusOK,
			holds: []string{"From 2026-11-20T09:00:00Z to 2026-11-20T09:45:00Z", kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A45%3A00Z")}},
		// Nothing recorded yet at the start: everything was added. ?time= is the end.
		{name: "changes-asof", path: changesURL("", "time", "2026-11-20T09:45:00Z"), code: http.StatusOK,
			holds: []string{"As of 2026-11-20T09:45:00Z", "From 2026-11-20T08:45:00Z to 2026-11-20T09:45:00Z", `<input type="hidden" name="time" value="2026-11-20T09:45:00Z">`,
				`<a href="/entity/host/node-17?time=2026-11-20T09%3A45%3A00Z">`, `<span class="change-added">`},
			lacks: []string{`<tr class="change-removed"`, `<tr class="change-changed"`}},
		{name: "changes-none", path: changesURL("host", "from", "2026-11-20T09:40:00Z", "to", "2026-11-20T09:50:00Z"), code: http.StatusOK,
			holds: []string{"no changes."}, lacks: []string{"<table"}},
		// diff(…) typed in the box: its times win.
		{name: "changes-diff-typed", path: changesURL(`diff(host{name="node-17"}, ` + before + `, ` + after + `)`), code: http.StatusOK,
			holds: []string{`name="from" value="2026-11-20T09:00:00"`, `name="to" value="2026-11-20T09:30:00"`, kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A30%3A00Z")},
			lacks: []string{"node-18"}},
		// Errors at their position, as the search page shows them.
		{name: "changes-typo", path: changesURL(`lb -> instanc`), code: http.StatusBadRequest,
			holds: []string{`1:7: expected kind after &#34;-&gt;&#34;, got &#34;instanc&#34;; did you mean instance?`,
				"<pre class=\"caret\">lb -&gt; instanc\n      ^</pre>"}},
		{name: "changes-stage", path: changesURL(`lb -> host | count by (kernel_release)`), code: http.StatusBadRequest,
			holds: []string{"1:14: the Changes page diffs a path", "lb -&gt; host | count by (kernel_release)\n             ^</pre>"}},
		{name: "changes-bad-time", path: changesURL("host", "from", "yesterday"), code: http.StatusBadRequest,
			holds: []string{"from: cannot parse &#34;yesterday&#34; as a time"}},
		{name: "changes-backwards", path: changesURL("host", "from", after, "to", before), code: http.StatusBadRequest,
			holds: []string{"from must be before to"}},
		// Markup in a label and in the path box is text, never HTML.
		{name: "changes-escaped", path: changesURL(`host{name!="`+strings.ReplaceAll(hostileText, `"`, `\"`)+`"}`, "from", before), code: http.StatusOK,
			holds: []string{kernelUpgrade("/entity/host/node-17"), `<td>note</td><td class="was"></td><td>&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>`,
				`value="host{name!=&#34;&lt;/script&gt;&lt;script&gt;alert(\&#34;x\&#34;)&lt;/script&gt;&#34;}"`},
			lacks: []string{`<script>alert`}},
	})
}
