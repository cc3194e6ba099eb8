package query

import (
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// kindOf maps a kind's name to the kind ("" when there is none).
func kindOf(name string) graph.Kind {
	for _, k := range graph.Kinds() {
		if string(k) == name {
			return k
		}
	}
	return ""
}

func kindNames() []string {
	var out []string
	for _, k := range graph.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// suggest names the closest candidate to a misspelt word, if one is close: at most a third
// of its letters (at least one) changed, swapped, added or dropped.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), c)
		if d <= max(1, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance counts the edits from a to b (optimal string alignment: insert, delete,
// replace, swap two neighbours).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
