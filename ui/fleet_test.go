package ui

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

func TestFleetGolden(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	atQ := "time=" + url.QueryEscape(pastTime)
	runPageCases(t, u, []pageCase{
		{name: "fleet", path: "/fleet", code: http.StatusOK,
			holds: []string{`aria-current="page">Fleet</a>`, "5 hosts, 2 containers.",
				// A table row per value, most common first, each the search for it.
				`<tr><td><a href="/search?q=host%7Bkernel_release%3D%226.1.0-13-amd64%22%7D">6.1.0-13-amd64</a></td><td class="count">3</td></tr>`,
				`<a href="/search?q=host%7Bproduct_name%3D%22%22%7D">(none)</a></td><td class="count">1</td>`,
				`<a href="/search?q=container%7Bimage%3D%22registry.example%2Fc1ps%3A1.4%22%7D">registry.example/c1ps:1.4</a>`,
				// Drift: c1ps mixes kernels, OS images and images; web's two instances share node-4.
				`<td><a href="/entity/service/edge/c1ps">c1ps</a></td><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td>kernel</td><td><a href="/search?q=service%7Bid%3D%22edge%2Fc1ps%22%7D&#43;-%3E&#43;host%7Bkernel_release%3D%226.1.0-13-amd64%22%7D">6.1.0-13-amd64 (2)</a><br><a href="/search?q=service%7Bid%3D%22edge%2Fc1ps%22%7D&#43;-%3E&#43;host%7Bkernel_release%3D%225.10.0-28-amd64%22%7D">5.10.0-28-amd64 (1)</a></td>`,
				`<td>OS image</td>`, `<td>image</td>`,
				`<td><a href="/entity/service/edge/web">web</a></td><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td class="count">2</td><td><a href="/entity/host/node-4">node-4</a></td>`,
				`<script src="/ui/assets/echarts.min.js"></script>`},
			lacks: []string{"go-echarts.github.io", "https://", `<td><a href="/entity/service/edge/web">web</a></td><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td>kernel</td>`}},
		// Before the upgrade: one host, its older kernel, no drift.
		{name: "fleet-time", path: "/fleet?" + atQ, code: http.StatusOK,
			holds: []string{"As of " + shownTime(pastTime), "1 host, 0 containers.", ">5.10.0-28-amd64</a>", "No containers in the graph at this time.",
				"None: every service's instances agree."},
			lacks: []string{"6.1.0-13-amd64", "node-4"}},
	})
}

// Each bar is its value's count and links to the same search as its table row.
func TestFleetBars(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	_, body := getPage(u, "/fleet")
	option, hrefs := chartOf(t, body, "fleet-kernel")
	raw, _ := json.Marshal(option)
	var bar struct {
		YAxis []struct {
			Type string
			Data []string
		}
		Series []struct {
			Type string
			Data []struct {
				Name  string
				Value int
			}
		}
	}
	if err := json.Unmarshal(raw, &bar); err != nil {
		t.Fatal(err)
	}
	if len(bar.Series) != 1 || bar.Series[0].Type != "bar" || len(bar.YAxis) != 1 || bar.YAxis[0].Type != "category" {
		t.Fatalf("not a horizontal bar chart: %s", raw)
	}
	want := []struct {
		Name  string
		Value int
		Href  string
	}{
		{"6.1.0-13-amd64", 3, `/search?q=host%7Bkernel_release%3D%226.1.0-13-amd64%22%7D`},
		{"5.10.0-28-amd64", 1, `/search?q=host%7Bkernel_release%3D%225.10.0-28-amd64%22%7D`},
		{`<script>"x`, 1, `/search?q=host%7Bkernel_release%3D%22%3Cscript%3E%5C%22x%22%7D`},
	}
	data := bar.Series[0].Data
	if len(data) != len(want) || len(hrefs) != len(want) || len(bar.YAxis[0].Data) != len(want) {
		t.Fatalf("bars %v, links %v, want %v", data, hrefs, want)
	}
	for i, w := range want {
		if data[i].Name != w.Name || data[i].Value != w.Value || bar.YAxis[0].Data[i] != w.Name || hrefs[i] != w.Href {
			t.Errorf("bar %d: %s=%d → %s, want %s=%d → %s", i, data[i].Name, data[i].Value, hrefs[i], w.Name, w.Value, w.Href)
		}
	}
	for _, id := range []string{"fleet-os", "fleet-hardware", "fleet-image"} {
		chartOf(t, body, id)
	}
}

// Every search the fleet page links to is a query the search page runs and answers with rows,
// hostile values and the "(none)" of a missing attribute included.
func TestFleetSearchesAnswer(t *testing.T) {
	u := newTestUI(t, lbFixtureGraphs{})
	_, body := getPage(u, "/fleet")
	searches := 0
	for _, m := range regexp.MustCompile(`href="(/search\?q=[^"]*)"`).FindAllStringSubmatch(body, -1) {
		link := html.UnescapeString(m[1])
		searches++
		code, page := getPage(u, link)
		if code != http.StatusOK || !regexp.MustCompile(`<p class="summary">rows 1–[0-9]+ of [1-9][0-9]*`).MatchString(page) {
			q, _ := url.Parse(link)
			t.Errorf("search %q: %d, no rows", q.Query().Get("q"), code)
		}
	}
	if searches < 15 {
		t.Errorf("only %d searches on the fleet page", searches)
	}
}

// TestFleetSharedZone: a service on two hosts of one zone is listed with its zone; one on two
// zones, or on a host whose zone is unknown, is not.
func TestFleetSharedZone(t *testing.T) {
	g := graph.New(time.Time{})
	put := func(kind graph.Kind, id string, labels map[string]string) *graph.Entity {
		return g.Put(&graph.Entity{Ref: graph.Ref{Kind: kind, ID: id}, Name: id, Labels: labels})
	}
	hosts := map[string]*graph.Entity{
		"a1": put(graph.Host, "a1", map[string]string{"zone": "eu-1a"}),
		"a2": put(graph.Host, "a2", map[string]string{"topology.kubernetes.io/zone": "eu-1a"}),
		"b1": put(graph.Host, "b1", map[string]string{"zone": "eu-1b"}),
		"x":  put(graph.Host, "x", nil),
	}
	for svc, on := range map[string][]string{"one-zone": {"a1", "a2"}, "two-zones": {"a1", "b1"}, "unknown": {"a1", "x"}} {
		s := put(graph.Service, "edge/"+svc, nil)
		for i, h := range on {
			inst := put(graph.Instance, fmt.Sprintf("edge/%s/s%d", svc, i), nil)
			g.Connect(s, inst, "t", time.Time{})
			g.Connect(inst, hosts[h], "t", time.Time{})
		}
	}
	_, _, _, _, rows := serviceDrift(g, "")
	if len(rows) != 1 || rows[0].Service.Text != "edge/one-zone" || rows[0].Zone != "eu-1a" || rows[0].Hosts != 2 {
		t.Fatalf("shared zones: %+v, want edge/one-zone in eu-1a on 2 hosts", rows)
	}
}
