package query

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// FuzzParse: no input makes the parser or the evaluator panic; every refusal is an *Error
// with a position inside the query.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`service{name="c1ps"} -> instance[0] -> host .kernel_release .os_image`,
		`lb{name="edge"} -> host | count by (kernel_release)`,
		`host{product_name="PowerEdge R640"} <- lb`,
		`container{image=~"nginx:1\\.25.*"} -> host .bios_version`,
		`service{name="c1ps"} -> instance[0] -> host .kernel_release @ 2026-11-20T10:00:00Z`,
		`diff(lb{name="edge"} -> instance, 2026-11-20T10:00:00Z, 2026-11-20T10:05:00Z)`,
		`instance[1:3] | where health =~ "UP|DOWN" | sort by port desc | limit 2 offset 1h30m`,
		`host[-1] @ 1795168800.5`, `host{a="\x"}`, "host{a=`raw`}", `host # comment`, `[`, `"`, `->`, `diff(`,
	} {
		f.Add(s)
	}
	g := graph.New(time.Time{})
	h := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "h"}, Attrs: map[string]string{"position": "x"}})
	c := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Container, ID: "c"}})
	g.Connect(c, h, "s", time.Time{})
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src, DefaultLimits)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Pos.Line < 1 || qe.Pos.Col < 1 {
				t.Fatalf("%q: error without a position: %v", src, err)
			}
			return
		}
		if q.Diff == nil {
			if _, err := Eval(context.Background(), g, q, DefaultLimits); err != nil {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("%q: eval error without a position: %v", src, err)
				}
			}
		}
		_, _ = Explain(q)
	})
}
