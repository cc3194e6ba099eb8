package ui

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// update rewrites the golden files under testdata instead of comparing against them:
// go test ./ui -update. Every golden test in package ui uses this one flag.

// The fixture: HAProxy "edge" with backend c1ps, s0 in a container on node-17, s1 a host
// process on node-18. Before fixtureMoved, s0 ran as a host process on node-16.
var (
	fixtureBefore = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	fixtureMoved  = time.Date(2026, 11, 20, 10, 3, 0, 0, time.UTC)
	fixtureNow    = time.Date(2026, 11, 20, 10, 5, 0, 0, time.UTC)
)

// fixtureGraph is the fixture's graph at a time: the latest one, or the one before s0 moved.
func fixtureGraph(at time.Time) *graph.Graph {
	g := graph.New(at)
	put := func(kind graph.Kind, id, name string, attrs, labels map[string]string) graph.Ref {
		e := &graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: name, Attrs: graph.AttrsOf(attrs), Labels: labels, LastSeen: at}
		if kind == graph.Container || kind == graph.Image || kind == graph.Host {
			e.Sources = []string{"metrics"}
		} else {
			e.Sources = []string{"haproxy/edge"}
		}
		return g.Put(e).Ref
	}
	link := func(from, to graph.Ref) { g.Link(from, to, "haproxy/edge", at) }

	lb := put(graph.LB, "haproxy/edge", "edge", map[string]string{"provider": "haproxy", "host": "node-1"}, map[string]string{"env": "prod"})
	svc := put(graph.Service, "edge/c1ps", "c1ps", map[string]string{"lb": "edge"},
		// A label a source could fill with anything: the pages must escape it.
		map[string]string{"team": "payments", "note": `<script>alert("x")</script> & co`})
	link(lb, svc)
	s1 := put(graph.Instance, "edge/c1ps/s1", "s1", map[string]string{"position": "1", "server": "s1", "address": "10.0.3.18",
		"port": "8080", "health": "DOWN", "resolved_via": "address of host node-18"}, nil)
	node18 := put(graph.Host, "node-18", "node-18", map[string]string{"kernel_release": "5.4.0-150-generic",
		"os_image": "Ubuntu 20.04.6 LTS", "product_name": "PowerEdge R640", "addresses": "10.0.3.18"}, map[string]string{"rack": "r12"})
	link(svc, s1)
	link(s1, node18)

	if at.Before(fixtureMoved) {
		s0 := put(graph.Instance, "edge/c1ps/s0", "s0", map[string]string{"position": "0", "server": "s0", "address": "10.0.3.16",
			"port": "8080", "health": "UP", "resolved_via": "address of host node-16"}, nil)
		node16 := put(graph.Host, "node-16", "node-16", map[string]string{"kernel_release": "5.10.0-28-amd64",
			"os_image": "Debian GNU/Linux 11 (bullseye)", "product_name": "PowerEdge R630", "addresses": "10.0.3.16"}, nil)
		link(svc, s0)
		link(s0, node16)
		return g
	}
	s0 := put(graph.Instance, "edge/c1ps/s0", "s0", map[string]string{"position": "0", "server": "s0", "address": "10.0.3.17",
		"port": "8080", "health": "UP", "resolved_via": "address of host node-17, port published by the container"}, nil)
	container := put(graph.Container, "aaaa000000000000000000000000000000000000000000000000000000000001", "c1ps-0",
		map[string]string{"host": "node-17", "image": "nginx:1.25.3", "runtime": "podman"}, nil)
	image := put(graph.Image, "nginx:1.25.3", "nginx", map[string]string{"tag": "1.25.3", "digest": "sha256:b539"}, nil)
	node17 := put(graph.Host, "node-17", "node-17", map[string]string{"kernel_release": "6.1.0-13-amd64",
		"os_image": "Debian GNU/Linux 12 (bookworm)", "product_name": "PowerEdge R640", "addresses": "10.0.3.17"}, map[string]string{"rack": "r12"})
	link(svc, s0)
	link(s0, container)
	link(container, image)
	link(container, node17)
	return g
}

// fixtureGraphs is query.Graphs over the fixture: the latest graph for now, the graph before
// s0 moved for a time before that, and an empty graph before anything was recorded.
type fixtureGraphs struct{}

func (fixtureGraphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	switch {
	case at.IsZero() || !at.Before(fixtureMoved):
		return fixtureGraph(fixtureNow), nil, nil
	case !at.Before(fixtureBefore):
		return fixtureGraph(fixtureBefore), nil, nil
	}
	return graph.New(at), nil, nil
}

// fixtureUI is the UI over the fixture, with no storage for charts and a fixed clock.
func fixtureUI(t *testing.T) *UI {
	t.Helper()
	u, err := New(Options{Graphs: fixtureGraphs{}, Limits: query.DefaultLimits, Now: func() time.Time { return fixtureNow }},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// getPage serves one GET of the UI.
func getPage(u *UI, path string) (int, string) {
	rec := httptest.NewRecorder()
	u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// goldenFile compares got with testdata/<name>.golden, or rewrites the file under -update.
func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name+".golden"), got)
}

// pageCase is one page of a golden test: the request, the status it answers, what its HTML
// must hold besides the golden file (the point of the case, stated where it is read).
type pageCase struct {
	name, path string
	code       int
	holds      []string
	lacks      []string
}

// runPageCases requests each case's page of u and checks its status, what it holds and lacks,
// and its golden file.
func runPageCases(t *testing.T, u *UI, cases []pageCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := getPage(u, c.path)
			if code != c.code {
				t.Errorf("GET %s: %d, want %d", c.path, code, c.code)
			}
			for _, s := range c.holds {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s: the page lacks %q", c.path, s)
				}
			}
			for _, s := range c.lacks {
				if strings.Contains(body, s) {
					t.Errorf("GET %s: the page holds %q", c.path, s)
				}
			}
			goldenFile(t, c.name, body)
		})
	}
}

func searchPath(q string, extra ...string) string {
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return "/search?" + v.Encode()
}

const fixtureMission = `service{name="c1ps"} -> instance[0] -> host .kernel_release .os_image`

func TestSearchGolden(t *testing.T) {
	before := fixtureBefore.Add(time.Minute).Format(time.RFC3339)
	runPageCases(t, fixtureUI(t), []pageCase{
		{name: "search-examples", path: "/search", code: http.StatusOK,
			holds: []string{"Ask the graph", `href="/search?q=service%7Bname%3D%22c1ps%22%7D`}},
		{name: "search-rows", path: searchPath(fixtureMission), code: http.StatusOK,
			holds: []string{"rows 1–1 of 1", `<a href="/entity/host/node-17">node-17</a>`, "6.1.0-13-amd64", "Debian GNU/Linux 12 (bookworm)"}},
		{name: "search-typo", path: searchPath(`service{name="c1ps"} -> hots`), code: http.StatusBadRequest,
			holds: []string{"1:25: expected kind after &#34;-&gt;&#34;, got &#34;hots&#34;; did you mean host?",
				"service{name=&#34;c1ps&#34;} -&gt; hots\n                        ^</pre>"}},
		{name: "search-plain", path: searchPath("node-17"), code: http.StatusOK,
			holds: []string{"Entities holding “node-17”", "rows 1–3 of 3", `<td>host=node-17</td>`, `<td>id</td>`}},
		{name: "search-escaped", path: searchPath(`<script>alert("x")</script>`), code: http.StatusOK,
			holds: []string{"Entities holding “&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;”", "rows 1–1 of 1", "label note=&lt;script&gt;"},
			lacks: []string{`<script>alert`}},
		// An exact IP: the host that has it first, then the instance at it, before entities that
		// merely hold it.
		{name: "search-exact-ip", path: searchPath("10.0.3.17"), code: http.StatusOK,
			holds: []string{`<tr><td>host</td><td><a href="/entity/host/node-17">node-17</a></td><td>node-17</td><td>addresses=10.0.3.17</td></tr>
  <tr><td>instance</td><td><a href="/entity/instance/edge/c1ps/s0">edge/c1ps/s0</a></td><td>s0</td><td>address=10.0.3.17</td></tr>`}},
		// ip:port is the instance at that address and port.
		{name: "search-ip-port", path: searchPath("10.0.3.17:8080"), code: http.StatusOK,
			holds: []string{"rows 1–1 of 1", `<td>address:port=10.0.3.17:8080</td>`}},
		// Nothing holds a misspelt name: the page says so and suggests the closest.
		{name: "search-no-hit", path: searchPath("node-71"), code: http.StatusOK,
			holds: []string{"Nothing holds “node-71”", `did you mean <a href="/search?q=node-17">node-17</a>?`}},
		// A query naming an attribute no host has: a warning with the closest name.
		{name: "search-unknown-attribute", path: searchPath("host .kernel_relase"), code: http.StatusOK,
			holds: []string{`<p class="warning" role="status">warning: `, "kernel_relase", "kernel_release"}},
		// A past time: s0 ran on node-16 then, and every link keeps the time.
		{name: "search-time", path: searchPath(fixtureMission, "time", before), code: http.StatusOK,
			holds: []string{"As of " + shownTime(before), `<a href="/entity/host/node-16?time=` + url.QueryEscape(before) + `">node-16</a>`, "5.10.0-28-amd64"},
			lacks: []string{"node-17"}},
	})
}

func TestEntityGolden(t *testing.T) {
	before := fixtureBefore.Add(time.Minute).Format(time.RFC3339)
	runPageCases(t, fixtureUI(t), []pageCase{
		{name: "entity-host", path: "/entity/host/node-17", code: http.StatusOK,
			holds: []string{"kernel_release", "6.1.0-13-amd64", `<a href="/entity/container/aaaa000000000000000000000000000000000000000000000000000000000001">`,
				`<a href="/entity/lb/haproxy/edge">haproxy/edge</a>`, "Nothing below."}},
		// An id with slashes, up to the LB and down to the hardware.
		{name: "entity-instance", path: "/entity/instance/edge/c1ps/s0", code: http.StatusOK,
			holds: []string{`<a href="/entity/service/edge/c1ps">c1ps</a>`, `<a href="/entity/host/node-17">node-17</a>`, `<code class="id" title="its id">edge/c1ps/s0</code>`,
				`<code>instance{name=&#34;s0&#34;}</code>`, `its series carry <code>server=&#34;s0&#34;</code>`,
				`<a href="/entity/image/nginx:1.25.3">nginx:1.25.3</a>`}},
		{name: "entity-service-escaped", path: "/entity/service/edge/c1ps", code: http.StatusOK,
			holds: []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co"}, lacks: []string{`<script>alert`}},
		{name: "entity-not-found", path: "/entity/host/node-99", code: http.StatusNotFound,
			holds: []string{"No host “node-99”"}},
		{name: "entity-unknown-kind", path: "/entity/rack/r12", code: http.StatusNotFound,
			holds: []string{"No rack “r12”"}},
		// A past time: s0 ran on node-16, and every link (entities, navigation, the brand) keeps the time.
		{name: "entity-time", path: "/entity/instance/edge/c1ps/s0?time=" + url.QueryEscape(before), code: http.StatusOK,
			holds: []string{"As of " + shownTime(before), "10.0.3.16", `<a href="/entity/host/node-16?time=` + url.QueryEscape(before) + `">node-16</a>`,
				`<a href="/entity/service/edge/c1ps?time=` + url.QueryEscape(before) + `">`, `<a class="brand" href="/?time=` + url.QueryEscape(before) + `">`},
			lacks: []string{"node-17", `href="/entity/host/node-16"`}},
		// Before anything was recorded the entity is not there.
		{name: "entity-time-empty", path: "/entity/host/node-17?time=2026-11-19T00:00:00Z", code: http.StatusNotFound,
			holds: []string{"As of 2026-11-19 00:00:00 UTC", "No host “node-17”"}},
	})
}

// shownTime is an RFC 3339 time as the pages show it.
func shownTime(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		panic(err)
	}
	return fmtTime(t)
}
