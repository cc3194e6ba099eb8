package query

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// TestUnknownNamesWarn: a name no entity of its kind has, in a matcher, a projection or a
// stage, answers with a warning that names it and the closest name there is; a known one, a
// label, a count's own column and an entity's kind, id and name say nothing.
func TestUnknownNamesWarn(t *testing.T) {
	g := graph.New(time.Time{})
	g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s0"}, Name: "s0",
		Attrs: map[string]string{"error_ratio": "0.9", "health": "UP"}, Labels: map[string]string{"team": "pay"}})
	g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "node-1"}, Attrs: map[string]string{"kernel_release": "6.1.0"}})
	for _, c := range []struct {
		q    string
		want []string
	}{
		{`instance{eror_ratio>0.5}`, []string{`no instance has an attribute or label "eror_ratio"; did you mean "error_ratio"?`}},
		{`host .kernel_relase`, []string{`no host has an attribute or label "kernel_relase"; did you mean "kernel_release"?`}},
		{`instance | where colour="red"`, []string{`no instance has an attribute or label "colour"`}},
		{`instance{error_ratio>0.5, team="pay"} .health | count by (health) | sort by count`, nil},
		{`instance{name="s0", id!="x", kind="instance"}`, nil},
		{`pod{nmae="x"}`, nil}, // no pods at all: nothing to compare with
	} {
		q, err := Parse(c.q, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Eval(context.Background(), g, q, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Warnings, c.want) {
			t.Errorf("%s: warnings %q, want %q", c.q, res.Warnings, c.want)
		}
	}
}
