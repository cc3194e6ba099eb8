package ui

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

type oneGraph struct{ g *graph.Graph }

func (o oneGraph) GraphAt(context.Context, time.Time) (*graph.Graph, []string, error) {
	return o.g, nil, nil
}

// TestIDsAPathCannotCarry: ids with "." or ".." segments or empty ones (an LB or server named
// so) link with ?id=, since a browser, a proxy and the router clean such a path into another
// one; their pages answer, and their links lead back to them.
func TestIDsAPathCannotCarry(t *testing.T) {
	g := graph.New(time.Time{})
	lb := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.LB, ID: ".."}, Name: "..", Attrs: graph.AttrsOf(map[string]string{"provider": "inventory"})})
	svc := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Service, ID: "../web"}, Name: "web", Attrs: graph.AttrsOf(map[string]string{})})
	inst := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: "../web/./x//y"}, Name: "./x//y", Attrs: graph.AttrsOf(map[string]string{"position": "0"})})
	g.Connect(lb, svc, "test", time.Time{})
	g.Connect(svc, inst, "test", time.Time{})
	u, err := New(Options{Graphs: oneGraph{g}, Limits: query.DefaultLimits}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	for _, c := range []struct {
		kind     graph.Kind
		id, href string
	}{
		{graph.LB, "..", "/entity/lb?id=..&amp;time=5"},
		{graph.Service, "../web", "/entity/service?id=..%2Fweb&amp;time=5"},
		{graph.Instance, "../web/./x//y", "/entity/instance?id=..%2Fweb%2F.%2Fx%2F%2Fy&amp;time=5"},
	} {
		if got := entityHref(c.kind, c.id, "5"); strings.ReplaceAll(got, "&", "&amp;") != c.href {
			t.Errorf("entityHref(%s, %q) = %s, want %s", c.kind, c.id, got, c.href)
		}
		page := get(strings.ReplaceAll(c.href, "&amp;", "&"))
		if !strings.Contains(page, c.id) || strings.Contains(page, "No "+string(c.kind)) {
			t.Errorf("the page of %s %q does not show it", c.kind, c.id)
		}
	}
	// The LB page, and its filter form keeps the id.
	page := get("/lb?id=..")
	if !strings.Contains(page, `<input type="hidden" name="id" value="..">`) {
		t.Error("the LB page of id .. has no hidden id in its filter form")
	}
	if !strings.Contains(page, `href="/entity/instance?id=..%2Fweb%2F.%2Fx%2F%2Fy"`) {
		t.Error("the LB page does not link its instance with ?id=")
	}
	if got := lbHref("edge", ""); got != "/lb/edge" {
		t.Errorf("lbHref(edge) = %s: a plain id keeps its path", got)
	}
}
