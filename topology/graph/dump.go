package graph

import (
	"fmt"
	"sort"
	"strings"
)

// Dump writes the graph as text, one entity per line with its attributes, labels and sources,
// then one edge per line: a stable form for golden files and for reading a graph by eye.
// Times are left out so that dumps of two refreshes compare.
func Dump(g *Graph) string {
	var b strings.Builder
	for _, e := range g.Entities("") {
		fmt.Fprintf(&b, "%s name=%q", e.Ref, e.Name)
		writeMap(&b, " ", e.Attrs.Map())
		if len(e.Labels) > 0 {
			b.WriteString(" labels{")
			writeMap(&b, "", e.Labels)
			b.WriteString("}")
		}
		fmt.Fprintf(&b, " sources=%s", strings.Join(e.Sources, ","))
		if e.Stale {
			b.WriteString(" STALE")
		}
		b.WriteString("\n")
	}
	for _, e := range g.Edges() {
		fmt.Fprintf(&b, "%s -> %s sources=%s\n", e.From(), e.To(), strings.Join(e.Sources, ","))
	}
	return b.String()
}

func writeMap(b *strings.Builder, sep string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 || sep != "" {
			b.WriteString(" ")
		}
		fmt.Fprintf(b, "%s=%q", k, m[k])
	}
}
