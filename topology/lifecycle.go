package topology

import (
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
)

// The host attributes the lifecycle policy derives.
const (
	lifecycleAttr  = "lifecycle"   // the worst state of the host's statuses: ok, unknown, warn or fail
	supportEndAttr = "support_end" // the day its OS's support ends (os-release's, else the data's)
)

// lifecycleAttrs are a host's lifecycle attributes at now, from its facts.
func lifecycleAttrs(p *lifecycle.Policy, attr func(string) string, now time.Time) []graph.Attr {
	out := []graph.Attr{{Name: lifecycleAttr, Value: string(lifecycle.Worst(p.Host(attr, now)))}}
	if end, _ := p.SupportEnd(attr); !end.IsZero() && attr(supportEndAttr) == "" {
		out = append(out, graph.Attr{Name: supportEndAttr, Value: end.Format(time.DateOnly)})
	}
	return out
}
