package topology

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// scriptedLBs answers what the test says next: an LB list or an error.
type scriptedLBs struct {
	lbs []source.LB
	err error
}

func (*scriptedLBs) Name() string { return "edge" }
func (s *scriptedLBs) ListLoadBalancers(context.Context) ([]source.LB, error) {
	return s.lbs, s.err
}

// TestStaleSourceKeptThenDropped: a source that fails keeps its last report, stale, with a
// warning and source_up 0; past --topology.stale-after its entities go.
func TestStaleSourceKeptThenDropped(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	src := &scriptedLBs{lbs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
		Instances: []source.Instance{{Name: "s0", Address: "192.0.2.7", Port: 80}}}}}}}
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{src}, StaleAfter: 5 * time.Minute,
		Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	inst := graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}

	g := r.Refresh(context.Background())
	if e, ok := g.Get(inst); !ok || e.Stale {
		t.Fatalf("fresh instance: %+v", e)
	}
	up := func() float64 {
		for _, s := range r.Samples() {
			if s.Name() == "strata_topology_source_up" && s.Labels.Get("source") == "edge" {
				return s.Value
			}
		}
		t.Fatal("no strata_topology_source_up{source=edge}")
		return -1
	}
	if up() != 1 {
		t.Error("source_up after a good refresh is not 1")
	}

	src.err = errors.New("dial unix /run/haproxy/admin.sock: connect: connection refused")
	now = now.Add(time.Minute)
	g = r.Refresh(context.Background())
	if e, ok := g.Get(inst); !ok || !e.Stale {
		t.Fatalf("after a failure the instance must stay, stale: %+v", e)
	}
	_, warnings := r.Graph()
	if len(warnings) == 0 || !strings.Contains(warnings[0], "connection refused") {
		t.Errorf("warnings %v lack the source's error", warnings)
	}
	if up() != 0 {
		t.Error("source_up after a failure is not 0")
	}

	now = now.Add(5 * time.Minute)
	g = r.Refresh(context.Background())
	if _, ok := g.Get(inst); ok {
		t.Error("the instance outlived --topology.stale-after")
	}

	src.err = nil
	now = now.Add(time.Minute)
	if _, ok := r.Refresh(context.Background()).Get(inst); !ok {
		t.Error("the instance did not come back with its source")
	}
}

// panickingLBs is a broken source.
type panickingLBs struct{}

func (panickingLBs) Name() string { return "broken" }
func (panickingLBs) ListLoadBalancers(context.Context) ([]source.LB, error) {
	var lbs []source.LB
	_ = lbs[3] // index out of range
	return nil, nil
}

func TestPanickingSourceIsAWarning(t *testing.T) {
	r := NewRefresher(RefresherOptions{LBSources: []source.LoadBalancers{panickingLBs{}}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	_, warnings := r.Graph()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "panicked") {
		t.Errorf("warnings %v", warnings)
	}
}
