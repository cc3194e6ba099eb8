package testenv

import (
	"fmt"
	"strings"
)

// The worst path queries of the hardening issue's probe, which the hardening and load tests
// send.

// ManyMatchers is a selector of kind with n regular-expression matchers that every entity
// passes, so that each is tried on each: `instance{a!~"z0",a!~"z1",…}` (12 bytes a matcher).
func ManyMatchers(kind string, n int) string {
	var b strings.Builder
	b.WriteString(kind + "{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `a!~"z%d"`, i%1000)
	}
	b.WriteString("}")
	return b.String()
}

// WideProjection is `host .a .a …` with n projections, cut to one row (3 bytes a projection).
func WideProjection(n int) string { return "host" + strings.Repeat(" .a", n) + " | limit 1" }
