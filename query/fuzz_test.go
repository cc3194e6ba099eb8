package query

import (
	"context"
	"encoding/json"
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
		`instance{error_ratio>0.05, weight<=10} | where port==8080 | where position != 0`,
		`host | compare`, `instance | compare since 1h`, `instance | compare against (instance) since 1795168800`, `container -> host | compare against (host{a="x"}) | where p_value<0.05 | limit 1`,
		`container{a="q\"uote\n"} -> host[1:] | compare | count`,
		`host[-1] @ 1795168800.5`, `host{a="\x"}`, "host{a=`raw`}", `host # comment`, `[`, `"`, `->`, `diff(`,
	} {
		f.Add(s)
	}
	g := graph.New(time.Time{})
	h := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "h"}, Attrs: graph.AttrsOf(map[string]string{"position": "x"})})
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
		// A path written back (compare's query column) reads as the same path.
		if q.Diff == nil {
			text := q.Path.String()
			back, err := Parse(text, Limits{})
			if err != nil || back.Path.String() != text {
				t.Fatalf("%q written back as %q: %v, reads as %q", src, text, err, back.Path.String())
			}
		}
	})
}

// FuzzParseTime: the time parameter of every topology endpoint and page, and @ in a query.
// Whatever it accepts is a time a graph can be asked for and an answer can carry: not the
// zero time (which means "now"), within 1970 to MaxTime.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1795168800", "1795168800.5", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.123+02:00",
		"NaN", "+Inf", "-1", "0", "1e11", "1e300", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseTime(s)
		if err != nil {
			return
		}
		if at.IsZero() || at.Before(time.Unix(0, 0)) || at.After(MaxTime) {
			t.Errorf("ParseTime(%q) = %s, outside 1970 to %s", s, at, MaxTime)
		}
		if _, err := json.Marshal(at); err != nil {
			t.Errorf("ParseTime(%q) = %s, which JSON cannot write: %v", s, at, err)
		}
	})
}
