package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
)

// endsAfter is a context that ends after its Err has been asked n times: a deadline that
// passes, or a client that leaves, in the middle of a walk.
type endsAfter struct {
	context.Context
	n, asked int
}

func (c *endsAfter) Err() error {
	if c.asked++; c.asked > c.n {
		return context.DeadlineExceeded
	}
	return nil
}

// TestContextEndsTheWalk: a query whose context ends while it walks stops there, whatever it
// is doing: selecting, walking down, sorting, counting, writing its rows. The context is looked
// at every few hundred units of work, so a query of 20,000 matchers stops within an entity or
// two.
func TestContextEndsTheWalk(t *testing.T) {
	g := graph.New(time.Time{})
	for i := range 10_000 {
		h := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: fmt.Sprintf("h%05d", i)}, Attrs: graph.AttrsOf(map[string]string{"rack": fmt.Sprint(i % 40)})})
		c := g.Put(&graph.Entity{Ref: graph.Ref{Kind: graph.Container, ID: fmt.Sprintf("c%05d", i)}, Attrs: graph.AttrsOf(map[string]string{})})
		g.Connect(c, h, "test", time.Time{})
	}
	many := "host{" + strings.TrimSuffix(strings.Repeat(`rack!="x",`, 2000), ",") + "}"
	lim := DefaultLimits
	lim.MaxMatchers = 5000
	// asks is how often a whole query looks at a live context.
	asks := func(src string) int {
		q, err := Parse(src, lim)
		if err != nil {
			t.Fatalf("%.40s: %v", src, err)
		}
		ctx := &endsAfter{Context: context.Background(), n: 1 << 30}
		if _, err := Eval(ctx, g, q, lim); err != nil {
			t.Fatalf("%.40s: %v", src, err)
		}
		return ctx.asked
	}
	for _, c := range []struct {
		src string
		n   int // asks before the context ends: past the walk, the end comes in the stage
	}{
		{`host{rack!="x"}`, 3},
		{`container -> host`, 3},
		{many, 3},
		{`host | sort by rack`, asks(`host | limit 0`)},
		{`host | where rack="1"`, asks(`host | limit 0`)},
		{`host | count by (rack)`, asks(`host | limit 0`)},
		{`host .rack .name .id`, asks(`host | limit 0`)},
	} {
		q, err := Parse(c.src, lim)
		if err != nil {
			t.Fatalf("%.40s: %v", c.src, err)
		}
		ctx := &endsAfter{Context: context.Background(), n: c.n}
		_, err = Eval(ctx, g, q, lim)
		if err == nil || !strings.Contains(err.Error(), "query stopped: context deadline exceeded") {
			t.Errorf("%.40s: %v, want the walk stopped", c.src, err)
		}
		if ctx.asked > c.n+2 {
			t.Errorf("%.40s: the context was asked %d times after it ended", c.src, ctx.asked-c.n-1)
		}
	}
}
