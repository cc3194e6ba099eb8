package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// patchFixtureGraphs serves the LB fixture with the lifecycle states the policy would give:
// node-2 (Debian 11) fails, node-4 warns, node-1 and node-3 pass; image c1ps:1.3 fails.
type patchFixtureGraphs struct{}

func (patchFixtureGraphs) GraphAt(_ context.Context, at time.Time) (*graph.Graph, []string, error) {
	if !at.IsZero() && at.Before(lbFixtureUpgrade) {
		return graph.New(at), nil, nil
	}
	g := lbFixtureGraph(lbFixtureNow)
	for ref, attrs := range map[graph.Ref][][2]string{
		{Kind: graph.Host, ID: "node-1"}:                     {{"lifecycle", "ok"}},
		{Kind: graph.Host, ID: "node-2"}:                     {{"lifecycle", "fail"}, {"support_end", "2024-08-14"}, {"reboot_required", "false"}},
		{Kind: graph.Host, ID: "node-3"}:                     {{"lifecycle", "ok"}},
		{Kind: graph.Host, ID: "node-4"}:                     {{"lifecycle", "warn"}, {"reboot_required", "true"}},
		{Kind: graph.Image, ID: "registry.example/c1ps:1.3"}: {{"lifecycle", "fail"}},
	} {
		e, ok := g.Get(ref)
		if !ok {
			panic("no " + ref.String())
		}
		for _, a := range attrs {
			e.Attrs.Set(a[0], a[1])
		}
	}
	return g, nil, nil
}

// TestPatchPage: hosts by lifecycle state, each the search for its hosts; per service the
// instances on failing and warned hosts, worst first, with the hosts named and the search for
// the instances; the failing and warned hosts with what they run and carry.
func TestPatchPage(t *testing.T) {
	u := newTestUI(t, patchFixtureGraphs{})
	runPageCases(t, u, []pageCase{
		{name: "patch", path: "/patch", code: http.StatusOK,
			holds: []string{`aria-current="page">Patch status</a>`,
				`<li class="fail"><a href="/search?q=host%7Blifecycle%3D%22fail%22%7D">1 fail</a></li><li class="warn"><a href="/search?q=host%7Blifecycle%3D%22warn%22%7D">1 warn</a></li><li class="ok"><a href="/search?q=host%7Blifecycle%3D%22ok%22%7D">2 ok</a></li>`,
				`<li class="fail"><a href="/search?q=image%7Blifecycle%3D%22fail%22%7D">1 fail</a></li>`,
				// c1ps: one of its three instances on node-2, which fails; web: both on node-4, which warns.
				`<td><a href="/entity/service/edge/c1ps">c1ps</a></td><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td class="count">3</td><td class="count">1</td><td class="count">0</td><td><a href="/entity/host/node-2">node-2</a></td><td><a href="/search?q=service%7Bid%3D%22edge%2Fc1ps%22%7D&#43;-%3E&#43;instance&#43;-%3E&#43;host%7Blifecycle%3D%22fail%22%7D">paths</a></td>`,
				`<td><a href="/entity/service/edge/web">web</a></td><td><a href="/lb/haproxy/edge">haproxy/edge</a></td><td class="count">2</td><td class="count">0</td><td class="count">2</td><td><a href="/entity/host/node-4">node-4</a></td>`,
				`<td><a href="/entity/host/node-2">node-2</a></td><td class="state-fail">fail</td><td>Debian GNU/Linux 11 (bullseye)</td><td>2024-08-14</td><td>5.10.0-28-amd64</td><td>false</td><td class="count">1</td>`,
				`<td><a href="/entity/host/node-4">node-4</a></td><td class="state-warn">warn</td><td>Flatcar Container Linux 3815.2.0</td><td></td><td>6.1.0-13-amd64</td><td>true</td><td class="count">2</td>`},
			lacks: []string{`<a href="/entity/host/node-1">node-1</a>`, `<a href="/entity/host/node-3">node-3</a>`}},
		{name: "patch-before-policy", path: "/patch?time=" + pastTime, code: http.StatusOK,
			holds: []string{"No host has a lifecycle state at this time", "None: no instance behind an LB sits on a host that fails or warns."}},
	})
	// Worst first: c1ps (one failing) before web (none failing, two warned).
	_, body := getPage(u, "/patch")
	if c1ps, web := strings.Index(body, ">c1ps</a>"), strings.Index(body, ">web</a>"); c1ps < 0 || web < c1ps {
		t.Errorf("c1ps at %d, web at %d: want c1ps, with a failing instance, first", c1ps, web)
	}
}
