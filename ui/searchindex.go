package ui

import (
	"sort"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// searchIndex is every entity's searchable text (id, name, attribute and label values, and an
// instance's address:port), lower-cased, in one string: a text search is then one
// strings.Index pass over it rather than a walk of hundreds of thousands of attribute maps.
// Values are separated by NUL, which a search text never holds, so a hit never spans two.
type searchIndex struct {
	text     string
	starts   []int // entity i's text begins at starts[i]
	entities []*graph.Entity
}

func newSearchIndex(g *graph.Graph) *searchIndex {
	ix := &searchIndex{}
	var b strings.Builder
	put := func(s string) {
		b.WriteByte(0)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 { // not ASCII: let the library lower it
				b.WriteString(strings.ToLower(s[i:]))
				return
			} else {
				b.WriteByte(lowerASCII(c))
			}
		}
	}
	g.Each("", func(e *graph.Entity) {
		ix.starts = append(ix.starts, b.Len())
		ix.entities = append(ix.entities, e)
		put(e.ID)
		put(e.Name)
		for _, a := range e.Attrs {
			put(a.Value)
		}
		for _, v := range e.Labels {
			put(v)
		}
		if e.Kind == graph.Instance && e.Attrs.Get("address") != "" {
			put(e.Attrs.Get("address") + ":" + e.Attrs.Get("port"))
		}
	})
	ix.text = b.String()
	return ix
}

// each calls f once for every entity whose text holds the (lower-case) needle, in the graph's
// order; f returns false to stop.
func (ix *searchIndex) each(needle string, f func(*graph.Entity) bool) {
	if needle == "" || strings.IndexByte(needle, 0) >= 0 {
		return
	}
	for pos := 0; pos < len(ix.text); {
		i := strings.Index(ix.text[pos:], needle)
		if i < 0 {
			return
		}
		k := sort.SearchInts(ix.starts, pos+i+1) - 1 // the entity whose text holds the hit
		if !f(ix.entities[k]) {
			return
		}
		if k+1 == len(ix.starts) {
			return
		}
		pos = ix.starts[k+1]
	}
}
