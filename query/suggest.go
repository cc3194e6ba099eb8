package query

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// Suggest names the closest candidate to a misspelt word, if one is close: at most a third
// of its letters (at least one) changed, swapped, added or dropped.
func Suggest(word string, candidates []string) string {
	best, bestD := "", -1
	word = strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(word, c)
		if d <= max(1, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance counts the edits from a to b (optimal string alignment: insert, delete,
// replace, swap two neighbours).
func editDistance(a, b string) int {
	// Three rows of the table, the last two and this one (a swap looks two back), in one
	// allocation: a "did you mean" over a fleet's names counts thousands of distances, and a
	// row per letter of each was most of its time.
	n := len(b) + 1
	rows := make([]int, 3*n)
	prev2, prev, cur := rows[:n], rows[n:2*n], rows[2*n:]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// unknownNames warns of each attribute or label a query names that no entity of its kind
// has: a misspelt name matches nothing and fills a column with empty cells, and the answer
// should say why, with the closest name there is.
func unknownNames(g *graph.Graph, q *Query) []string {
	type use struct {
		kind graph.Kind
		name string
	}
	var uses []use
	var warnings []string
	for _, st := range q.Path.Steps {
		for _, m := range st.Matchers {
			uses = append(uses, use{st.Kind, m.Name})
			if m.Numeric() {
				if msg, ok := noNumber(g, st.Kind, m); ok {
					warnings = append(warnings, msg)
				}
			}
		}
	}
	target := q.Path.Steps[len(q.Path.Steps)-1].Kind
	for _, a := range q.Path.Project {
		uses = append(uses, use{target, a})
	}
	columns := slices.Clone(q.Path.Project)
stages:
	for _, st := range q.Stages {
		var names []string
		switch st.Op {
		case "where":
			names = []string{st.Where.Name}
		case "sort", "count":
			names = st.By
		}
		for _, n := range names {
			if !slices.Contains(columns, n) {
				uses = append(uses, use{target, n})
			}
		}
		if st.Op == "count" || st.Op == "compare" {
			break stages // past a count or compare the rows are its own: its names are columns
		}
	}
	seen := map[use]bool{}
	for _, u := range uses {
		if seen[u] || slices.Contains(graph.OwnAttrs, u.name) {
			continue
		}
		seen[u] = true
		if msg, unknown := unknownName(g, u.kind, u.name); unknown {
			warnings = append(warnings, msg)
		}
	}
	return warnings
}

// unknownName says when no entity of kind has name as an attribute or label, and the closest
// name they have; a kind with no entities says nothing.
func unknownName(g *graph.Graph, kind graph.Kind, name string) (string, bool) {
	found := false
	for e := range g.All(kind) {
		found = true
		if _, ok := e.Attrs.Lookup(name); ok {
			return "", false
		}
		if _, ok := e.Labels[name]; ok {
			return "", false
		}
	}
	if !found {
		return "", false
	}
	names := map[string]bool{}
	for e := range g.All(kind) {
		for k := range e.Attrs.All() {
			names[k] = true
		}
		for k := range e.Labels {
			names[k] = true
		}
	}
	msg := fmt.Sprintf("no %s has an attribute or label %q", kind, name)
	if graph.IsSignal(name) {
		// Not a typo: the LBs count no traffic there, or not yet.
		msg += " (a traffic signal: absent where the LB counts nothing, before its second refresh, or after its counters went back; signal_note says why)"
	} else if s := Suggest(name, slices.Sorted(maps.Keys(names))); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg, true
}

// noNumber says when a numeric comparison (error_ratio>0.05) names an attribute that entities
// of the kind have but none as a number (health>1): it never matches, and the answer says why.
func noNumber(g *graph.Graph, kind graph.Kind, m *Matcher) (string, bool) {
	example := ""
	for e := range g.All(kind) {
		v, ok := e.Attrs.Lookup(m.Name)
		if !ok {
			v, ok = e.Labels[m.Name]
		}
		if !ok {
			continue
		}
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return "", false
		}
		if example == "" {
			example = v
		}
	}
	if example == "" {
		return "", false // no entity has it: unknownName says so
	}
	return fmt.Sprintf("%s%s%s compares numbers, but no %s's %s is one (%q): it matches nothing", m.Name, m.Op, m.Value, kind, m.Name, example), true
}
