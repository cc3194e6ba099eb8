package topology

import (
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
)

// The host attributes the lifecycle policy derives.
const (
	lifecycleAttr        = "lifecycle"          // the worst state of the host's (or image's) statuses: ok, unknown, warn or fail
	supportEndAttr       = "support_end"        // the day its OS's support ends (os-release's, else the data's)
	supportEndSourceAttr = "support_end_source" // the data's row that says it; none for os-release's own
)

// lifecycleAttrs are a host's lifecycle attributes at now, from its facts.
func lifecycleAttrs(p *lifecycle.Policy, attr func(string) string, now time.Time) []graph.Attr {
	out := []graph.Attr{{Name: lifecycleAttr, Value: string(lifecycle.Worst(p.Host(attr, now)))}}
	if end, from := p.SupportEnd(attr); !end.IsZero() && attr(supportEndAttr) == "" {
		out = append(out, graph.Attr{Name: supportEndAttr, Value: end.Format(time.DateOnly)},
			graph.Attr{Name: supportEndSourceAttr, Value: from})
	}
	return out
}

// imageLifecycleAttrs are an image's lifecycle attribute at now (its worst state against the
// image rules), none when the policy has no image rule.
func imageLifecycleAttrs(p *lifecycle.Policy, ref string, attr func(string) string, now time.Time) []graph.Attr {
	statuses := p.Image(ref, attr, now)
	if len(statuses) == 0 {
		return nil
	}
	return []graph.Attr{{Name: lifecycleAttr, Value: string(lifecycle.Worst(statuses))}}
}

// lifecycleSamples are the lifecycle series of a graph at now: each host's and each image's
// status against each rule (strata_lifecycle_status), and each host's support end.
func lifecycleSamples(p *lifecycle.Policy, g *graph.Graph, now time.Time, ext labels.Labels) []store.Sample {
	if p == nil {
		return nil
	}
	var out []store.Sample
	add := func(v float64, ls ...string) {
		b := labels.NewBuilder(labels.FromStrings(ls...))
		ext.Range(func(l labels.Label) { b.Set(l.Name, l.Value) })
		out = append(out, store.Sample{Labels: b.Labels(), Value: v})
	}
	status := func(kind, id string, statuses []lifecycle.Status) {
		for _, st := range statuses {
			add(1, model.MetricNameLabel, lifecycleStatusName, kind, id, "rule", st.Rule, "state", string(st.State), "reason", st.Reason)
		}
	}
	g.Each(graph.Host, func(e *graph.Entity) {
		status("host", e.ID, p.Host(e.Attr, now))
		if end, err := time.Parse(time.DateOnly, e.Attrs.Get(supportEndAttr)); err == nil {
			add(float64(end.Unix()), model.MetricNameLabel, supportEndName, "host", e.ID)
		}
	})
	g.Each(graph.Image, func(e *graph.Entity) {
		if statuses := p.Image(e.ID, e.Attr, now); len(statuses) > 0 {
			status("image", e.ID, statuses)
		}
	})
	return out
}
