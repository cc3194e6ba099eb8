package ui

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: name, Attrs: graph.AttrsOf(attrs), Labels: labels,
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

// changesLater is a refresh after changesAfter, within the last 15 minutes of changesNow.
var changesLater = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// changesJournal is what the refresh loop's journal recorded between the fixture's graphs,
// from changesBefore on: at changesAfter what the history diff also finds, at changesLater a
// label of node-18, under more LBs than a change names.
func changesJournal() []graph.Change {
	edge := []string{"haproxy/edge"}
	return []graph.Change{
		{At: changesAfter, Change: "changed", Kind: "instance", ID: "edge/c1ps/s0", Attribute: "health", From: "UP", To: "DOWN", LBs: edge},
		{At: changesAfter, Change: "removed", Kind: "instance", ID: "edge/c1ps/s1", LBs: edge},
		{At: changesAfter, Change: "added", Kind: "instance", ID: "edge/c1ps/s2", LBs: edge},
		{At: changesAfter, Change: "added", Kind: "container", ID: changesContainer, LBs: edge},
		{At: changesAfter, Change: "changed", Kind: "host", ID: "node-17", Attribute: "kernel_release", From: "6.1.0-13-amd64", To: "6.1.0-18-amd64", LBs: edge},
		{At: changesAfter, Change: "removed", Kind: "edge", ID: "instance/edge/c1ps/s0 -> host/node-17", LBs: edge},
		{At: changesLater, Change: "changed", Kind: "host", ID: "node-18", Attribute: "note", To: hostileText, LBs: []string{"haproxy/edge", "haproxy/inner"}, MoreLBs: true},
	}
}

// changesJournalStart is when the fixture's journal starts (strata restarted): after
// changesBefore, before the last hour.
var changesJournalStart = changesBefore.Add(5 * time.Minute)

// changesJournalUI is changesUI with the journal: changes holds since on.
func changesJournalUI(t *testing.T, changes []graph.Change, since time.Time) *UI {
	t.Helper()
	gs := changesGraphs{changesGraph(changesBefore), changesGraph(changesAfter)}
	u, err := New(Options{Graphs: gs, Limits: query.DefaultLimits, Now: func() time.Time { return changesNow },
		Changes: journalOf(changes, since)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The point of the page: node-17's kernel upgrade, a link to the host at a time.
func kernelUpgrade(link string) string {
	return `<td class="change change-changed">changed</td><td>host</td><td><a href="` + link + `">node-17</a></td><td>kernel_release</td><td class="was">6.1.0-13-amd64</td><td>6.1.0-18-amd64</td>`
}

// TestChangesJournalGolden: with the refresh loop's journal, the page answers the last hour
// (or 15m, 6h, 24h) from it: when, the change, links to the entity at that refresh and to the
// LBs above it, newest first, in a table that filters, pages and downloads. A window older
// than the journal, or a typed path, is diffed from the stored history, which says so.
func TestChangesJournalGolden(t *testing.T) {
	u := changesJournalUI(t, changesJournal(), changesJournalStart)
	runPageCases(t, u, []pageCase{
		{name: "changes-journal", path: "/changes", code: http.StatusOK,
			holds: []string{`<a href="/changes" aria-current="page">Changes</a>`, `name="q" value="" placeholder="lb -&gt; instance"`,
				`name="from" value="2026-11-20 09:10:00"`, "to now (2026-11-20 10:10:00 UTC):", "From the refresh loop's journal",
				`<a href="/changes?range=1h" aria-current="true">last 1h</a>`, `<a href="/changes?range=15m">last 15m</a>`,
				`<th scope="col"><a href="?sort=when" title="sort by when">when</a></th>`,
				// When, what, the entity at the refresh that saw it, the LBs above it.
				`<td>2026-11-20 09:30:00 UTC</td>` + kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A30%3A00Z") + `<td><a href="/lb/haproxy/edge">haproxy/edge</a></td>`,
				// A removed entity links to the graph just before the refresh that saw it go.
				`<a href="/entity/instance/edge/c1ps/s1?time=2026-11-20T09%3A29%3A59.999Z">edge/c1ps/s1</a>`,
				`<td><a href="/lb/haproxy/edge">haproxy/edge</a><br><a href="/lb/haproxy/inner">haproxy/inner</a><br>and more</td>`,
				`<span class="change-changed">3 changed</span><span class="change-added">2 added</span><span class="change-removed">2 removed</span>`,
				`href="/changes?from=2026-11-20T09%3A10%3A00Z&amp;to=2026-11-20T10%3A10%3A00Z">link pinned to these times</a>`},
			lacks: []string{`<script>alert`, "Computed from the stored history"}},
		// The last 15 minutes: node-18's label alone.
		{name: "changes-journal-15m", path: "/changes?range=15m", code: http.StatusOK,
			holds: []string{`<a href="/changes?range=15m" aria-current="true">last 15m</a>`, `name="from" value="2026-11-20 09:55:00"`,
				`<td>2026-11-20 10:00:00 UTC</td><td class="change change-changed">changed</td><td>host</td>`, "rows 1–1 of 1"},
			lacks: []string{"kernel_release"}},
		// The last 6 hours, just after a restart: the journal answers from its start, and the
		// whole window is a link to the history.
		{name: "changes-journal-clamped", path: "/changes?range=6h", code: http.StatusOK,
			holds: []string{"From the refresh loop's journal", "From 2026-11-20 09:05:00 UTC to now", "The journal starts at 2026-11-20 09:05:00 UTC (strata started then)",
				`<a href="/changes?from=2026-11-20T04%3A10%3A00Z&amp;to=2026-11-20T10%3A10%3A00Z">the whole window from the stored history</a>`,
				`<span class="change-changed">3 changed</span>`},
			lacks: []string{"Computed from the stored history"}},
		// The table's own parameters: a filter, then pages of one row.
		{name: "changes-journal-filter", path: "/changes?filter=edge%2Fc1ps&per_page=2&page=2", code: http.StatusOK,
			holds: []string{"rows 3–4 of 4 (filtered from 7)", `<a rel="prev" href="?filter=edge%2Fc1ps&amp;page=1&amp;per_page=2">`,
				`<input type="hidden" name="per_page" value="2">`}},
		// A window that starts before the journal: the stored history answers, and says what
		// it lacks and where the journal starts.
		{name: "changes-journal-older", path: changesURL("", "from", changesBefore.Format(time.RFC3339)), code: http.StatusOK,
			holds: []string{"Computed from the stored history", "no “when” column", "starts at 2026-11-20 09:05:00 UTC",
				`<a href="/changes?from=2026-11-20T09%3A05%3A00Z&amp;to=2026-11-20T10%3A10%3A00Z">the changes since then</a>`,
				kernelUpgrade("/entity/host/node-17")},
			lacks: []string{`title="sort by when"`, `aria-current="true">last`}},
		// A typed path is the history's to answer.
		{name: "changes-journal-typed", path: changesURL("host"), code: http.StatusOK,
			holds: []string{"Computed from the stored history", "among what the path reaches", "Empty the path for the refresh loop's journal",
				`href="/changes?from=2026-11-20T09%3A10%3A00Z&amp;q=host&amp;to=2026-11-20T10%3A10%3A00Z"`}},
	})
	// Before the second refresh the journal holds nothing: the history answers.
	runPageCases(t, changesJournalUI(t, nil, time.Time{}), []pageCase{
		{name: "changes-journal-none-yet", path: "/changes", code: http.StatusOK,
			holds: []string{"Computed from the stored history", kernelUpgrade("/entity/host/node-17"), "holds nothing until its second refresh"},
			lacks: []string{"the changes since then"}},
	})
}

// TestChangesCSV: both answers download as CSV, every row that passes the filter; the
// journal's with when and the LBs.
func TestChangesCSV(t *testing.T) {
	u := changesJournalUI(t, changesJournal(), changesJournalStart)
	for _, c := range []struct {
		path   string
		header []string
		row    []string
		rows   int
	}{
		{"/changes?format=csv&per_page=1", journalColumns,
			[]string{"2026-11-20 10:00:00 UTC", "changed", "host", "node-18", "note", "", hostileText, "haproxy/edge haproxy/inner and more"}, 7},
		{"/changes?format=csv&filter=kernel", journalColumns,
			[]string{"2026-11-20 09:30:00 UTC", "changed", "host", "node-17", "kernel_release", "6.1.0-13-amd64", "6.1.0-18-amd64", "haproxy/edge"}, 1},
		{"/changes?format=csv&from=2026-11-20T09:00:00Z&filter=kernel", historyColumns,
			[]string{"changed", "host", "node-17", "kernel_release", "6.1.0-13-amd64", "6.1.0-18-amd64"}, 1},
	} {
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
			t.Errorf("GET %s: %d %s, want 200 text/csv", c.path, rec.Code, rec.Header().Get("Content-Type"))
			continue
		}
		got, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		if err != nil || len(got) != c.rows+1 {
			t.Errorf("GET %s: %d records (%v), want a header and %d rows:\n%s", c.path, len(got), err, c.rows, rec.Body.String())
			continue
		}
		if !slices.Equal(got[0], c.header) || !slices.Equal(got[1], c.row) {
			t.Errorf("GET %s: header %q first row %q, want %q %q", c.path, got[0], got[1], c.header, c.row)
		}
	}
}

func TestChangesGolden(t *testing.T) {
	before, after := changesBefore.Format(time.RFC3339), changesAfter.Format(time.RFC3339)
	runPageCases(t, changesUI(t, nil), []pageCase{
		// No parameters: lb -> instance over the last hour, up to the latest graph, from the
		// history (this UI has no journal).
		{name: "changes-default", path: "/changes", code: http.StatusOK,
			holds: []string{`<a href="/changes" aria-current="page">Changes</a>`, `value="" placeholder="lb -&gt; instance"`,
				`name="from" value="2026-11-20 09:10:00"`, `name="to" value="" placeholder="now"`, "to now (2026-11-20 10:10:00 UTC):",
				"Computed from the stored history", kernelUpgrade("/entity/host/node-17"),
				`<td class="change change-changed">changed</td><td>instance</td><td><a href="/entity/instance/edge/c1ps/s0">edge/c1ps/s0</a></td><td>health</td><td class="was">UP</td><td>DOWN</td>`,
				// A removed entity links to the graph it was in.
				`<td class="change change-removed">removed</td><td>instance</td><td><a href="/entity/instance/edge/c1ps/s1?time=2026-11-20T09%3A10%3A00Z">edge/c1ps/s1</a>`,
				`<td class="change change-added">added</td><td>container</td><td><a href="/entity/container/` + changesContainer + `">`,
				`<td class="change change-removed">removed</td><td>edge</td><td>instance/edge/c1ps/s0 -&gt; host/node-17</td>`,
				`<span class="change-changed">3 changed</span><span class="change-added">5 added</span><span class="change-removed">3 removed</span>`,
				`href="/changes?from=2026-11-20T09%3A10%3A00Z&amp;to=2026-11-20T10%3A10%3A00Z"`},
			lacks: []string{"refresh loop's journal", "<td>2026-11-20"}},
		// Both times in the URL, as RFC 3339 and unix seconds; the path narrowed to a service.
		{name: "changes-times", path: changesURL(`service{name="c1ps"} -> host`, "from", before, "to", "1795167000"), code: http.StatusOK,
			holds: []string{`name="from" value="2026-11-20 09:00:00"`, `name="to" value="2026-11-20 09:30:00"`, kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A30%3A00Z"),
				// Every link opens the graph of the time the row is about.
				`<a href="/entity/host/node-18?time=` + url.QueryEscape(after) + `">node-18</a>`},
			lacks: []string{"<td>instance</td>", `aria-current="true">last`}},
		// What the page's boxes send: 24-hour UTC with a space; a datetime-local's T works too.
		{name: "changes-form", path: changesURL("lb -> host", "from", "2026-11-20 09:00", "to", "2026-11-20T09:45:00"), code: http.StatusOK,
			holds: []string{"From 2026-11-20 09:00:00 UTC to 2026-11-20 09:45:00 UTC", kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A45%3A00Z")}},
		// Nothing recorded yet at the start: everything was added. ?time= is the end.
		{name: "changes-asof", path: changesURL("", "time", "2026-11-20T09:45:00Z"), code: http.StatusOK,
			holds: []string{"As of 2026-11-20 09:45:00 UTC", "From 2026-11-20 08:45:00 UTC to 2026-11-20 09:45:00 UTC", `<input type="hidden" name="time" value="2026-11-20T09:45:00Z">`,
				`<a href="/entity/host/node-17?time=2026-11-20T09%3A45%3A00Z">`, `<span class="change-added">`,
				`<a href="/changes?range=15m&amp;time=2026-11-20T09%3A45%3A00Z">last 15m</a>`},
			lacks: []string{`<td class="change change-removed"`, `<td class="change change-changed"`}},
		{name: "changes-none", path: changesURL("host", "from", "2026-11-20T09:40:00Z", "to", "2026-11-20T09:50:00Z"), code: http.StatusOK,
			holds: []string{"no changes."}, lacks: []string{"<table"}},
		// diff(…) typed in the box: its times win.
		{name: "changes-diff-typed", path: changesURL(`diff(host{name="node-17"}, ` + before + `, ` + after + `)`), code: http.StatusOK,
			holds: []string{`name="from" value="2026-11-20 09:00:00"`, `name="to" value="2026-11-20 09:30:00"`, kernelUpgrade("/entity/host/node-17?time=2026-11-20T09%3A30%3A00Z")},
			lacks: []string{"node-18"}},
		// Errors at their position, as the search page shows them.
		{name: "changes-typo", path: changesURL(`lb -> instanc`), code: http.StatusBadRequest,
			holds: []string{`1:7: expected kind after &#34;-&gt;&#34;, got &#34;instanc&#34;; did you mean instance?`,
				"<pre class=\"caret\">lb -&gt; instanc\n      ^</pre>"}},
		{name: "changes-stage", path: changesURL(`lb -> host | count by (kernel_release)`), code: http.StatusBadRequest,
			holds: []string{"1:14: the Changes page diffs a path", "lb -&gt; host | count by (kernel_release)\n             ^</pre>"}},
		{name: "changes-bad-time", path: changesURL("host", "from", "yesterday"), code: http.StatusBadRequest,
			holds: []string{"from: cannot parse &#34;yesterday&#34; as a time"}},
		{name: "changes-bad-range", path: changesURL("", "range", "a while"), code: http.StatusBadRequest,
			holds: []string{"range: &#34;a while&#34; is no duration: want 15m, 1h, 6h or 24h"}},
		{name: "changes-backwards", path: changesURL("host", "from", after, "to", before), code: http.StatusBadRequest,
			holds: []string{"from must be before to"}},
		// Markup in a label and in the path box is text, never HTML.
		{name: "changes-escaped", path: changesURL(`host{name!="`+strings.ReplaceAll(hostileText, `"`, `\"`)+`"}`, "from", before), code: http.StatusOK,
			holds: []string{kernelUpgrade("/entity/host/node-17"), `<td>note</td><td class="was"></td><td>&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>`,
				`value="host{name!=&#34;&lt;/script&gt;&lt;script&gt;alert(\&#34;x\&#34;)&lt;/script&gt;&#34;}"`},
			lacks: []string{`<script>alert`}},
	})
}
