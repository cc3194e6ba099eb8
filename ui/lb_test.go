package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// The LB and fleet fixture: HAProxy "edge" with
//   - c1ps: c1ps-0 (UP) in pod default/c1ps-0 on node-1, c1ps-1 (DOWN) in a container on node-2,
//     c1ps-2 (MAINT) a host process on node-3: mixed kernels, OS images and images;
//   - web: web-0 (UP) and web-1 (DRAIN), both host processes on node-4: one host for both;
//   - a service, an instance and a host with hostile names.
//
// Before lbFixtureUpgrade only c1ps-0 ran, on node-1 with an older kernel.
var (
	lbFixtureBefore  = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	lbFixtureUpgrade = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	lbFixtureNow     = time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)
)

// hostile is a name a source could report: the pages must show it as text, in HTML and in
// the charts' JavaScript alike. go-echarts turns a string that starts or ends with __f__ into
// code, hence the instance's name.
const (
	hostile     = `<script>"x`
	hostileCode = `__f__alert(1)__f__`
)

// fixtureBuilder puts entities and edges in a graph with few words.
type fixtureBuilder struct {
	g  *graph.Graph
	at time.Time
}

func (b fixtureBuilder) put(kind graph.Kind, id, name string, attrs map[string]string) graph.Ref {
	return b.g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: name, Attrs: graph.AttrsOf(attrs), Sources: []string{"test"}, LastSeen: b.at}).Ref
}

func (b fixtureBuilder) link(refs ...graph.Ref) {
	for i := 0; i+1 < len(refs); i++ {
		b.g.Link(refs[i], refs[i+1], "test", b.at)
	}
}

func (b fixtureBuilder) host(id, kernel, os, product string) graph.Ref {
	return b.put(graph.Host, id, id, map[string]string{"kernel_release": kernel, "os_image": os, "product_name": product})
}

func (b fixtureBuilder) instance(svc graph.Ref, name string, position int, address, health string) graph.Ref {
	ref := b.put(graph.Instance, svc.ID+"/"+name, name, map[string]string{"server": name, "position": fmt.Sprint(position),
		"address": address, "port": "8080", "health": health})
	b.link(svc, ref)
	return ref
}

func lbFixtureGraph(at time.Time) *graph.Graph {
	b := fixtureBuilder{g: graph.New(at), at: at}
	lb := b.put(graph.LB, "haproxy/edge", "edge", map[string]string{"provider": "haproxy", "addresses": "203.0.113.10:443"})
	c1ps := b.put(graph.Service, "edge/c1ps", "c1ps", map[string]string{"lb": "edge"})
	b.link(lb, c1ps)
	if at.Before(lbFixtureUpgrade) {
		node1 := b.host("node-1", "5.10.0-28-amd64", "Debian GNU/Linux 11 (bullseye)", "PowerEdge R640")
		b.link(b.instance(c1ps, "c1ps-0", 0, "10.0.3.1", "UP"), node1)
		return b.g
	}
	node1 := b.host("node-1", "6.1.0-13-amd64", "Debian GNU/Linux 12 (bookworm)", "PowerEdge R640")
	node2 := b.host("node-2", "5.10.0-28-amd64", "Debian GNU/Linux 11 (bullseye)", "PowerEdge R640")
	node3 := b.host("node-3", "6.1.0-13-amd64", "Debian GNU/Linux 12 (bookworm)", "ProLiant DL360 Gen10")
	node4 := b.host("node-4", "6.1.0-13-amd64", "Flatcar Container Linux 3815.2.0", "")
	img14 := b.put(graph.Image, "registry.example/c1ps:1.4", "registry.example/c1ps", map[string]string{"tag": "1.4"})
	img13 := b.put(graph.Image, "registry.example/c1ps:1.3", "registry.example/c1ps", map[string]string{"tag": "1.3"})

	pod := b.put(graph.Pod, "default/c1ps-0", "c1ps-0", map[string]string{"namespace": "default", "node": "node-1"})
	ct0 := b.put(graph.Container, "aaaa000000000000000000000000000000000000000000000000000000000001", "c1ps",
		map[string]string{"image": "registry.example/c1ps:1.4", "host": "node-1"})
	b.link(b.instance(c1ps, "c1ps-0", 0, "10.0.3.1", "UP"), pod, ct0, img14)
	b.link(pod, node1)
	b.link(ct0, node1)
	ct1 := b.put(graph.Container, "bbbb000000000000000000000000000000000000000000000000000000000002", "c1ps-1",
		map[string]string{"image": "registry.example/c1ps:1.3", "host": "node-2"})
	b.link(b.instance(c1ps, "c1ps-1", 1, "10.0.3.2", "DOWN"), ct1, img13)
	b.link(ct1, node2)
	b.link(b.instance(c1ps, "c1ps-2", 2, "10.0.3.3", "MAINT"), node3)

	web := b.put(graph.Service, "edge/web", "web", map[string]string{"lb": "edge"})
	b.link(lb, web)
	b.link(b.instance(web, "web-1", 1, "10.0.3.4", "DRAIN"), node4)
	b.link(b.instance(web, "web-0", 0, "10.0.3.4", "UP"), node4)

	bad := b.put(graph.Service, "edge/"+hostile, hostile, map[string]string{"lb": "edge"})
	b.link(lb, bad)
	b.link(b.instance(bad, hostileCode, 0, "10.0.3.9", hostile), b.host(hostile, hostile, hostile, hostile))
	return b.g
}

// lbFixtureGraphs serves the fixture: the latest graph, the one before the upgrade, nothing
// before that.
type lbFixtureGraphs struct{}

func (lbFixtureGraphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	switch {
	case at.IsZero() || !at.Before(lbFixtureUpgrade):
		return lbFixtureGraph(lbFixtureNow), nil, nil
	case !at.Before(lbFixtureBefore):
		return lbFixtureGraph(lbFixtureBefore), nil, nil
	}
	return graph.New(at), nil, nil
}

// bigLBGraph has two LBs past maxChartNodes: "inventory/wide" has 600 instances on 20 hosts,
// 5 of w2's on none known (aggregated, 25 nodes), "inventory/huge" 6 services of 100 instances, each on its own host
// (too many even aggregated: 607 nodes; one service filtered is 202).
func bigLBGraph(at time.Time) *graph.Graph {
	b := fixtureBuilder{g: graph.New(at), at: at}
	wide := b.put(graph.LB, "inventory/wide", "wide", map[string]string{"provider": "inventory"})
	for s := range 3 {
		svc := b.put(graph.Service, fmt.Sprintf("wide/w%d", s), fmt.Sprintf("w%d", s), nil)
		b.link(wide, svc)
		for i := range 200 {
			inst := b.instance(svc, fmt.Sprintf("w%d-%03d", s, i), i, "10.1.0.1", "UP")
			if s == 2 && i%40 == 0 {
				continue
			}
			b.link(inst, b.host(fmt.Sprintf("w-host-%02d", i%20), "6.1.0-13-amd64", "Debian GNU/Linux 12 (bookworm)", "PowerEdge R640"))
		}
	}
	huge := b.put(graph.LB, "inventory/huge", "huge", map[string]string{"provider": "inventory"})
	for s := range 6 {
		svc := b.put(graph.Service, fmt.Sprintf("huge/s%d", s), fmt.Sprintf("s%d", s), nil)
		b.link(huge, svc)
		for i := range 100 {
			h := b.host(fmt.Sprintf("h-host-%d-%03d", s, i), "6.1.0-13-amd64", "Debian GNU/Linux 12 (bookworm)", "PowerEdge R640")
			b.link(b.instance(svc, fmt.Sprintf("s%d-%03d", s, i), i, "10.2.0.1", "UP"), h)
		}
	}
	return b.g
}

type graphFunc func(time.Time) *graph.Graph

func (f graphFunc) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	return f(at), nil, nil
}

func newTestUI(t *testing.T, graphs query.Graphs) *UI {
	t.Helper()
	u, err := New(Options{Graphs: graphs, Limits: query.DefaultLimits, Now: func() time.Time { return lbFixtureNow }},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// pastTime is a time before the upgrade, as a page's ?time= parameter.
var pastTime = lbFixtureBefore.Add(time.Minute).Format(time.RFC3339)

func TestLBGolden(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	atQ := "time=" + url.QueryEscape(pastTime)
	runPageCases(t, u, []pageCase{
		{name: "lbs", path: "/lbs", code: http.StatusOK,
			holds: []string{`<a href="/lb/haproxy/edge">haproxy/edge</a>`, `<td>3</td><td>6</td>`, `aria-current="page">Load balancers</a>`}},
		{name: "lb-edge", path: "/lb/haproxy/edge", code: http.StatusOK,
			holds: []string{
				// What the one DOWN instance (c1ps-1, image c1ps:1.3 on node-2) shares that the other
				// instances of c1ps do not: its image first, each value the search for its holders.
				`<h2>What do the DOWN instances share?</h2>`,
				`<tr><td>container</td><td>image</td><td><a href="/search?q=lb%7Bid%3D%22haproxy%2Fedge%22%7D&#43;-%3E&#43;instance%7Bhealth%3D%22DOWN%22%7D&#43;-%3E&#43;container%7Bimage%3D%22registry.example%2Fc1ps%3A1.3%22%7D">registry.example/c1ps:1.3</a></td><td class="count">1.000</td><td class="count">0.000</td><td class="count">1.000</td>`,
				`"name":"DOWN instances","type":"bar"`,
				`<td><a href="/entity/image/registry.example/c1ps:1.3">image</a></td><td>id</td>`,
				// The table: position order, the way down to the host, the host's facts as searches.
				`<td><a href="/entity/service/edge/c1ps">c1ps</a></td><td>0</td><td><a href="/entity/instance/edge/c1ps/c1ps-0">c1ps-0</a></td><td>10.0.3.1:8080</td><td class="health up">UP</td>`,
				`<a href="/entity/container/aaaa000000000000000000000000000000000000000000000000000000000001">c1ps</a>`,
				`<a href="/entity/image/registry.example/c1ps:1.4">registry.example/c1ps:1.4</a>`,
				`<a href="/entity/host/node-1">node-1</a>`,
				`<a href="/search?q=host%7Bkernel_release%3D%226.1.0-13-amd64%22%7D">6.1.0-13-amd64</a>`,
				`<td class="health down">DOWN</td>`, `<td class="health maint">DRAIN</td>`,
				`<script src="/ui/assets/echarts.min.js"></script>`},
			lacks: []string{"go-echarts.github.io", "https://", "Filter by service to see each instance"}},
		// The filter narrows the table and the graph, and the as-of form keeps it.
		{name: "lb-edge-filter", path: "/lb/haproxy/edge?service=WE", code: http.StatusOK,
			holds: []string{"2 instances matching “WE”", `<a href="/entity/instance/edge/web/web-0">web-0</a>`,
				`<input type="hidden" name="service" value="WE">`, `<a href="/lb/haproxy/edge">all services</a>`},
			lacks: []string{"c1ps-0"}},
		{name: "lb-edge-time", path: "/lb/haproxy/edge?" + atQ, code: http.StatusOK,
			holds: []string{"As of " + shownTime(pastTime), "5.10.0-28-amd64", `<a href="/entity/host/node-1?` + atQ + `">node-1</a>`},
			lacks: []string{"c1ps-1", "web-0", "6.1.0-13-amd64"}},
		{name: "lb-not-found", path: "/lb/haproxy/nowhere", code: http.StatusNotFound,
			holds: []string{"No load balancer “haproxy/nowhere”"}},
	})
}

// A page at a past time keeps the time in every link, the charts' included.
func TestLBAndFleetLinksKeepTime(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	for _, path := range []string{"/lbs", "/lb/haproxy/edge", "/lb/haproxy/edge?service=c1", "/fleet"} {
		for _, at := range []string{pastTime, lbFixtureNow.Format(time.RFC3339)} {
			page := withTime(path, at)
			code, body := getPage(u, page)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d", page, code)
			}
			links := pageLinks(t, body)
			if len(links) < 5 {
				t.Fatalf("GET %s: only %d links", page, len(links))
			}
			for _, l := range links {
				if v, err := url.Parse(l); err != nil || v.Query().Get("time") != at {
					t.Errorf("GET %s: link %q does not keep time=%s", page, l, at)
				}
			}
		}
	}
}

// pageLinks are a page's links (<a href>) and its charts' links.
func pageLinks(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`<a\s[^>]*?href="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[0], `class="timelink"`) { // "1h ago", "now": they change the time on purpose
			out = append(out, html.UnescapeString(m[1]))
		}
	}
	for _, m := range regexp.MustCompile(`getElementById\("([^"]+)"\)`).FindAllStringSubmatch(body, -1) {
		_, hrefs := chartOf(t, body, m[1])
		for _, h := range hrefs {
			if h != "" {
				out = append(out, h)
			}
		}
	}
	return out
}

// chartOf reads the options and the links of the chart with that id out of a page's script.
func chartOf(t *testing.T, body, id string) (option map[string]any, hrefs []string) {
	t.Helper()
	re := regexp.MustCompile(`(?s)getElementById\(` + regexp.QuoteMeta(`"`+id+`"`) + `\).*?chart\.setOption\((.*?)\);\n  var hrefs = (.*?) \|\| \[\];`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no chart %s in the page", id)
	}
	if err := json.Unmarshal([]byte(m[1]), &option); err != nil {
		t.Fatalf("chart %s: options: %v", id, err)
	}
	if err := json.Unmarshal([]byte(m[2]), &hrefs); err != nil {
		t.Fatalf("chart %s: links: %v", id, err)
	}
	return option, hrefs
}

// sankeyOf is the LB page's sankey: its nodes (name → colour, in order) and links.
type sankeyNode struct {
	Name      string
	ItemStyle struct{ Color string }
	Depth     int
}

type sankeyLink struct {
	Source, Target string
	Value          float64
}

func sankeyOf(t *testing.T, body string) (nodes []sankeyNode, links []sankeyLink, hrefs []string) {
	t.Helper()
	option, hrefs := chartOf(t, body, "lb-sankey")
	series, _ := option["series"].([]any)
	if len(series) != 1 {
		t.Fatalf("sankey: %d series", len(series))
	}
	raw, _ := json.Marshal(series[0])
	var s struct {
		Type  string
		Data  []sankeyNode
		Links []sankeyLink
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != "sankey" {
		t.Fatalf("series type %q, want sankey", s.Type)
	}
	if len(hrefs) != len(s.Data) {
		t.Fatalf("%d links for %d nodes", len(hrefs), len(s.Data))
	}
	return s.Data, s.Links, hrefs
}

func TestLBSankey(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	_, body := getPage(u, "/lb/haproxy/edge")
	nodes, links, hrefs := sankeyOf(t, body)
	byName := map[string]int{}
	for i, n := range nodes {
		byName[n.Name] = i
	}
	// LB, 3 services, 6 instances, 5 hosts.
	if len(nodes) != 15 {
		t.Errorf("%d nodes, want 15: %v", len(nodes), nodes)
	}
	for name, want := range map[string]struct {
		colour string
		depth  int
		href   string
	}{
		"haproxy/edge":    {colourLB, 0, "/entity/lb/haproxy/edge"},
		"c1ps":            {colourService, 1, "/entity/service/edge/c1ps"},
		"c1ps-0":          {"#2e7d32", 2, "/entity/instance/edge/c1ps/c1ps-0"},
		"c1ps-1":          {"#c62828", 2, "/entity/instance/edge/c1ps/c1ps-1"},
		"c1ps-2":          {"#f0a30a", 2, "/entity/instance/edge/c1ps/c1ps-2"},
		"web-1":           {"#f0a30a", 2, "/entity/instance/edge/web/web-1"},
		hostileCode:       {"#9e9e9e", 2, "/entity/instance/edge/%3Cscript%3E%22x/__f__alert%281%29__f__"},
		"node-1":          {"#2e7d32", 3, "/entity/host/node-1"},
		"node-4":          {"#f0a30a", 3, "/entity/host/node-4"}, // its worst instance is DRAIN
		hostile:           {colourService, 1, "/entity/service/edge/%3Cscript%3E%22x"},
		"host " + hostile: {"#9e9e9e", 3, "/entity/host/%3Cscript%3E%22x"}, // the service took the name
	} {
		i, ok := byName[name]
		if !ok {
			t.Errorf("no node %q", name)
			continue
		}
		if n := nodes[i]; n.ItemStyle.Color != want.colour || n.Depth != want.depth || hrefs[i] != want.href {
			t.Errorf("node %q: colour %s depth %d link %s, want %s %d %s", name, n.ItemStyle.Color, n.Depth, hrefs[i], want.colour, want.depth, want.href)
		}
	}
	has := map[sankeyLink]bool{}
	for _, l := range links {
		has[l] = true
	}
	for _, l := range []sankeyLink{{"haproxy/edge", "c1ps", 3}, {"c1ps", "c1ps-1", 1}, {"c1ps-1", "node-2", 1},
		{"c1ps-0", "node-1", 1}, {"web-0", "node-4", 1}, {hostileCode, "host " + hostile, 1}} {
		if !has[l] {
			t.Errorf("no link %v in %v", l, links)
		}
	}
}

func TestLBAggregates(t *testing.T) {
	u := newTestUI(t, graphFunc(bigLBGraph))

	_, body := getPage(u, "/lb/inventory/wide")
	nodes, links, _ := sankeyOf(t, body)
	if len(nodes) != 1+3+20+1 {
		t.Errorf("aggregated view: %d nodes, want 25", len(nodes))
	}
	for _, n := range nodes {
		if strings.HasPrefix(n.Name, "w0-") {
			t.Errorf("aggregated view draws instance %s", n.Name)
		}
	}
	for _, want := range []sankeyLink{{"inventory/wide", "w2", 200}, {"w1", "w-host-07", 10}, {"w2", "w-host-00", 5}, {"w2", "no host resolved", 5}} {
		if !contains(links, want) {
			t.Errorf("no link %v: instances counted per service and host", want)
		}
	}
	if !strings.Contains(body, "More than 500 nodes: instances are counted per service and host (25 nodes)") {
		t.Error("the page does not say the view is aggregated")
	}
	if !strings.Contains(body, "rows 1–100 of 600") || strings.Count(body, `<tr><td><a href="/entity/service/`) != 100 {
		t.Error("the table does not count every instance, or does not show its first page")
	}
	_, page6 := getPage(u, "/lb/inventory/wide?page=6")
	if !strings.Contains(page6, "rows 501–600 of 600") || strings.Count(page6, `<tr><td><a href="/entity/service/`) != 100 {
		t.Error("the last page does not show the last instances")
	}

	_, body = getPage(u, "/lb/inventory/huge")
	if strings.Contains(body, "lb-sankey") || !strings.Contains(body, "The graph view would draw 607 nodes even with instances counted per host (at most 500): filter by service") {
		t.Error("a view past 500 nodes even aggregated is drawn, or the page does not say to filter")
	}
	if !strings.Contains(body, `<form class="filter"`) {
		t.Error("no filter box")
	}

	_, body = getPage(u, "/lb/inventory/huge?service=s1")
	nodes, _, _ = sankeyOf(t, body)
	if len(nodes) != 1+1+100+100 || strings.Contains(body, "counted per") {
		t.Errorf("filtered to one service: %d nodes, want 202, one per instance", len(nodes))
	}
}

func contains[T comparable](l []T, v T) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// Hostile names stay text: escaped in the HTML, JSON strings in the charts' script.
func TestLBAndFleetEscapeNames(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	for _, path := range []string{"/lbs", "/lb/haproxy/edge", "/lb/haproxy/edge?service=" + url.QueryEscape(hostile), "/fleet"} {
		code, body := getPage(u, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		if strings.Contains(body, hostile) || strings.Contains(body, `"x</`) {
			t.Errorf("GET %s: %q is not escaped", path, hostile)
		}
		if strings.Count(body, "<script") != strings.Count(body, "</script>") {
			t.Errorf("GET %s: unbalanced script tags", path)
		}
		for _, s := range regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1) {
			if strings.Contains(s[1], "<") {
				t.Errorf("GET %s: a script holds a raw <", path)
			}
		}
	}
	_, body := getPage(u, "/lb/haproxy/edge")
	for _, want := range []string{
		`&lt;script&gt;&#34;x`,           // in the table
		`"name":"\u003cscript\u003e\"x"`, // in the chart, a string
		`"name":"` + hostileCode + `"`,   // __f__ stays a string
		`"name":"host \u003cscript\u003e\"x"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the LB page lacks %s", want)
		}
	}
	nodes, _, _ := sankeyOf(t, body)
	if !contains(nodes, sankeyNode{Name: hostile, ItemStyle: struct{ Color string }{colourService}, Depth: 1}) {
		t.Error("the hostile service is not a node named as it is")
	}
}

// An id is read back as escapeID wrote it, whatever it holds.
func TestLBOddIDs(t *testing.T) {
	for _, id := range []string{"inv/100%", "inv/a%2Fb", `inv/a b<c"/d`, "inv/x;y,z?", "inv/ünï"} {
		u := newTestUI(t, graphFunc(func(at time.Time) *graph.Graph {
			b := fixtureBuilder{g: graph.New(at), at: at}
			b.put(graph.LB, id, "x", nil)
			return b.g
		}))
		href := lbHref(id, pastTime)
		code, body := getPage(u, href)
		if want := "load balancer</span> " + html.EscapeString(id) + ` <code class="id" title="its name">x</code></h1>`; code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want 200 and %q", href, code, want)
		}
	}
}
