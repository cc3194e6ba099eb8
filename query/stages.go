package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// stageKind is one verb of a query's pipeline (`| count by (kernel_release)`): how its words
// are read after the verb, how it turns the table of the rows so far into the next, and how it
// is written in PromQL over strata_topology_path_info. As Prometheus keeps its functions, the
// verbs are a table: to add one, write its three functions below and add it to stageKinds (and
// the grammar in docs/query.md, and a querytest script).
type stageKind struct {
	name  string
	parse func(p *parser, st *Stage) error
	apply func(t table, w *walker, st Stage) (table, error)
	// explain adds the stage to the PromQL being written; nil: the stage has no PromQL
	// equivalent.
	explain func(x *explained, st Stage) error
}

// stageKinds lists the verbs, in the order an error message names them.
func stageKinds() []stageKind {
	return []stageKind{
		{name: "count", parse: parseCount, apply: applyCount, explain: explainCount},
		{name: "sort", parse: parseSort, apply: applySort},
		{name: "limit", parse: parseLimit, apply: applyLimit},
		{name: "where", parse: parseWhere, apply: applyWhere, explain: explainWhere},
		{name: "compare", parse: parseCompare, apply: applyCompare},
	}
}

func stageNamed(name string) (stageKind, bool) {
	for _, k := range stageKinds() {
		if k.name == name {
			return k, true
		}
	}
	return stageKind{}, false
}

func stageNames() []string {
	var names []string
	for _, k := range stageKinds() {
		names = append(names, k.name)
	}
	return names
}

// orList writes a, b, c or d.
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// | count [by (a, b)]: one row per group, with its size.

func parseCount(p *parser, st *Stage) error {
	if p.peek().kind == tIdent && p.peek().text == "by" {
		p.next()
		names, err := p.nameList("count by")
		if err != nil {
			return err
		}
		st.By = names
	}
	return nil
}

func applyCount(t table, w *walker, st Stage) (table, error) {
	width := len(st.By) + 1
	groups := map[string]int{}
	var keys [][]string
	for i := range t.len() {
		if err := w.tick(st.Pos); err != nil {
			return t, err
		}
		key := make([]string, len(st.By))
		for j, b := range st.By {
			key[j] = t.get(i, b)
		}
		k := strings.Join(key, "\x00")
		if _, ok := groups[k]; !ok {
			if err := w.cells(st.Pos, len(keys)+1, width); err != nil {
				return t, err
			}
			keys = append(keys, key)
		}
		groups[k]++
	}
	slices.SortFunc(keys, func(a, b []string) int { return slices.Compare(a, b) })
	out := table{columns: append(slices.Clone(st.By), "count"), rows: [][]string{}, grouped: true}
	if len(st.By) == 0 && len(keys) == 0 {
		keys = [][]string{{}} // count of nothing is a row with 0
	}
	for _, k := range keys {
		out.rows = append(out.rows, append(k, strconv.Itoa(groups[strings.Join(k, "\x00")])))
	}
	return out, nil
}

func explainCount(x *explained, st Stage) error {
	var groups []string
	for _, b := range st.By {
		l, err := x.label(b)
		if err != nil {
			return fmt.Errorf("%s: %w", st.Pos, err)
		}
		if !slices.Contains(x.by, l) {
			x.by = append(x.by, l)
		}
		groups = append(groups, l)
	}
	if len(x.outer) > 0 {
		return fmt.Errorf("%s: a second count has no PromQL equivalent here", st.Pos)
	}
	if len(groups) == 0 {
		x.outer = append(x.outer, "count ")
	} else {
		x.outer = append(x.outer, "count by ("+strings.Join(groups, ", ")+") ")
	}
	return nil
}

// | sort by a [asc|desc]: numbers as numbers, then text.

func parseSort(p *parser, st *Stage) error {
	if b, err := p.expect(tIdent, `after "sort"`); err != nil || b.text != "by" {
		return p.errorf(b, `expected "by" after "sort", got %s`, b.describe())
	}
	a, err := p.expect(tIdent, `after "sort by"`)
	if err != nil {
		return p.errorf(a, `expected an attribute after "sort by", got %s`, a.describe())
	}
	st.By = []string{a.text}
	if n := p.peek(); n.kind == tIdent && (n.text == "desc" || n.text == "asc") {
		p.next()
		st.Desc = n.text == "desc"
	}
	return nil
}

func applySort(t table, w *walker, st Stage) (table, error) {
	keys := make([]sorted, t.len())
	idx := make([]int, t.len())
	for i := range keys {
		if err := w.tick(st.Pos); err != nil {
			return t, err
		}
		keys[i], idx[i] = sortValue(t.get(i, st.By[0])), i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		c := keys[a].compare(keys[b])
		if st.Desc {
			c = -c
		}
		return c
	})
	return t.keep(idx), nil
}

// | limit n: the first n rows.

func parseLimit(p *parser, st *Stage) error {
	n, err := p.expect(tNumber, `after "limit"`)
	if err != nil {
		return err
	}
	st.Limit, err = strconv.Atoi(n.text)
	if err != nil || st.Limit < 0 {
		return p.errorf(n, "expected a count of rows (0 or more) after \"limit\", got %s", n.describe())
	}
	return nil
}

func applyLimit(t table, _ *walker, st Stage) (table, error) {
	idx := make([]int, min(st.Limit, t.len()))
	for i := range idx {
		idx[i] = i
	}
	return t.keep(idx), nil
}

// | where a <op> "value": the rows whose column matches.

func parseWhere(p *parser, st *Stage) error {
	name, err := p.expect(tIdent, `after "where"`)
	if err != nil {
		return p.errorf(name, `expected an attribute after "where", got %s`, name.describe())
	}
	m, err := p.matcherAfterName(name, `after "where"`)
	if err != nil {
		return err
	}
	st.Where = m
	return nil
}

func applyWhere(t table, w *walker, st Stage) (table, error) {
	var idx []int
	for i := range t.len() {
		if err := w.tick(st.Pos); err != nil {
			return t, err
		}
		if st.Where.Matches(t.get(i, st.Where.Name)) {
			idx = append(idx, i)
		}
	}
	return t.keep(idx), nil
}

func explainWhere(x *explained, st Stage) error {
	if st.Where.Numeric() {
		return fmt.Errorf("%s: where %s: PromQL compares label values as text, not as numbers: no equivalent", st.Pos, st.Where)
	}
	l, err := x.label(st.Where.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", st.Pos, err)
	}
	if len(x.outer) > 0 {
		return fmt.Errorf("%s: where after count has no PromQL equivalent here", st.Pos)
	}
	x.matchers = append(x.matchers, l+st.Where.Op+strconv.Quote(st.Where.Value))
	return nil
}
