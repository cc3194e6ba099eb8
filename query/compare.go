package query

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/strata-obs/strata/topology/graph"
)

// | compare [against (<path>)]: what the rows' entities (the set) share that the baseline's do
// not. Every attribute and label of the set's entities and of every entity beneath them (an
// instance's pod, container, image and host) is a value; each value present in the set is
// ranked by how much more common it is there than in the baseline (the difference of the
// shares, in points, as Honeycomb's BubbleUp ranks), with Fisher's exact test of it being more
// common by chance, its p-value multiplied by the number of values and pairs tried
// (Bonferroni), so that a value two of three instances share by chance does not come first:
// the values whose corrected p-value is under compareLevel come before the others. Pairs of
// values of the strongest candidates whose conjunction explains the set better than either
// value alone are ranked with them. The baseline is the against path's entities, else, for
// instances, the other instances of their services, else every other entity of the set's kind.

// compareColumns are the stage's answer's columns.
var compareColumns = []string{"layer", "attribute", "value", "in_set", "in_baseline", "difference", "p_value", "query"}

// Bounds of the ranking's work and answer.
const (
	compareLevel      = 0.05 // a corrected p-value under it is significant
	maxCompareValues  = 1000 // an attribute with more values in the set and baseline is an identity, left out
	maxPairCandidates = 30   // the strongest values whose pairs are tried
	maxCompareRows    = 500  // rows answered; the rest are counted in a warning
	maxPairs          = maxPairCandidates * (maxPairCandidates - 1) / 2
)

// notShared are attributes no two entities share by design (identities, addresses) or that
// select the set rather than describe it (health, the LB's traffic signals).
var notShared = map[string]bool{
	"address": true, "addresses": true, "port": true, "position": true, "server": true, "weight": true,
	"hostname": true, "machine_id": true, "boot_id": true, "system_uuid": true, "uid": true, "pod_uid": true,
	"ip": true, "ips": true, "container_id": true, "host": true, "node": true, "health": true, "failing": true, "ordinal": true, "reboot_required_since": true,
}

// sharedIDKinds are the kinds whose identity two instances may share (one host, one image).
var sharedIDKinds = map[graph.Kind]bool{graph.Host: true, graph.Image: true}

func parseCompare(p *parser, st *Stage) error {
	if t := p.peek(); t.kind != tIdent || t.text != "against" {
		return parseSince(p, st)
	}
	p.next()
	if _, err := p.expect(tLParen, `after "against"`); err != nil {
		return err
	}
	path, err := p.path()
	if err != nil {
		return err
	}
	if len(path.Project) > 0 {
		return p.errorf(p.peek(), "against (…) takes a path without projections")
	}
	if _, err := p.expect(tRParen, "to close against (…)"); err != nil {
		return err
	}
	st.Against = &path
	return parseSince(p, st)
}

// parseSince reads compare's since <time | duration>.
func parseSince(p *parser, st *Stage) error {
	if t := p.peek(); t.kind != tIdent || t.text != "since" {
		return nil
	}
	p.next()
	if p.peek().kind == tDuration {
		d, err := p.duration(`after "since"`)
		st.SinceAgo = d
		return err
	}
	at, err := p.timestamp(`after "since"`)
	st.SinceTime = &at
	return err
}

// feature is one value of one attribute of one layer.
type feature struct {
	layer       graph.Kind
	attr, value string
}

// ranked is a value (or a pair, two) with its counts and test.
type ranked struct {
	f            []feature
	inSet, inAll int // holders in the set, in the baseline
	diff, p      float64
}

func applyCompare(t table, w *walker, st Stage) (table, error) {
	out := table{columns: compareColumns, grouped: true}
	if t.grouped {
		return t, &Error{Pos: st.Pos, Msg: "| compare ranks entities: put it before | count"}
	}
	set := uniqueEntities(t.ents)
	if len(set) == 0 {
		w.warn("| compare: the set is empty: nothing to rank")
		return out, nil
	}
	kind := set[0].Kind
	inSet := make(map[*graph.Entity]bool, len(set))
	for _, e := range set {
		inSet[e] = true
	}
	var base []*graph.Entity
	if st.Against != nil {
		ents, err := w.path(w.g, *st.Against)
		if err != nil {
			return t, err
		}
		last := st.Against.Steps[len(st.Against.Steps)-1]
		if last.Kind != kind {
			return t, &Error{Pos: last.Pos, Msg: fmt.Sprintf("against (…) reaches %s entities, the set is of %s: compare like with like", last.Kind, kind)}
		}
		for _, e := range uniqueEntities(ents) {
			if !inSet[e] {
				base = append(base, e)
			}
		}
	} else {
		base = defaultBaseline(w.g, set, inSet)
	}
	if len(base) == 0 {
		w.warn("| compare: the baseline is empty (the set is the whole population): nothing to compare against")
		return out, nil
	}

	past, err := w.since(st)
	if err != nil {
		return t, err
	}
	var walk beneath
	values := func(out []feature, e *graph.Entity) []feature { return featuresOf(&walk, w.g, e, out) }
	if past != nil {
		values = func(out []feature, e *graph.Entity) []feature { return changesOf(&walk, w.g, past, e, out) }
	}
	// Each entity's values, as indexes into feats, in one array (held[i] its part); the set's
	// first. A hundred thousand entities make one array, not a hundred thousand.
	all := append(slices.Clone(set), base...)
	ids := map[feature]int32{}
	var feats, buf []feature
	var flat []int32
	ends := make([]int, len(all))
	for i, e := range all {
		buf = values(buf[:0], e)
		// The entity and what lies beneath it count against --query.max-visited.
		if err := w.visitN(st.Pos, len(walk.queue), len(walk.queue)); err != nil {
			return t, err
		}
		start := len(flat)
		for _, f := range buf {
			id, ok := ids[f]
			if !ok {
				id = int32(len(feats))
				ids[f] = id
				feats = append(feats, f)
			}
			flat = append(flat, id)
		}
		slices.Sort(flat[start:])
		flat = flat[:start+len(slices.Compact(flat[start:]))]
		ends[i] = len(flat)
	}
	held := make([][]int32, len(all))
	for i := range held {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		held[i] = flat[start:ends[i]:ends[i]]
	}
	// An attribute of more values than maxCompareValues is an identity: left out.
	valuesOf := map[feature]int{}
	for _, f := range feats {
		valuesOf[feature{layer: f.layer, attr: f.attr}]++
	}
	for key, n := range valuesOf {
		if n > maxCompareValues {
			w.warn(fmt.Sprintf("| compare: %s attribute %q has %d values, more than %d: left out as an identity", key.layer, key.attr, n, maxCompareValues))
		}
	}
	setCount, baseCount := make([]int, len(feats)), make([]int, len(feats))
	for i, h := range held {
		for _, id := range h {
			if i < len(set) {
				setCount[id]++
			} else {
				baseCount[id]++
			}
		}
	}
	var singles []ranked
	for id, f := range feats {
		// Absent from the set, held by every entity (no test: both margins full), or an identity.
		if setCount[id] == 0 || setCount[id]+baseCount[id] == len(all) || valuesOf[feature{layer: f.layer, attr: f.attr}] > maxCompareValues {
			continue
		}
		singles = append(singles, rank(len(set), len(base), setCount[id], baseCount[id], f))
	}
	pairs := comparePairs(len(set), len(base), held, ids, singles)
	tried := len(singles) + pairs.tried
	rows := append(singles, pairs.shown...)
	for i := range rows {
		rows[i].p = min(1, rows[i].p*float64(tried))
	}
	slices.SortFunc(rows, func(a, b ranked) int {
		if sa, sb := a.p < compareLevel, b.p < compareLevel; sa != sb {
			if sa {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.diff, a.diff), cmp.Compare(a.p, b.p), cmp.Compare(len(a.f), len(b.f)), compareFeatures(a.f, b.f))
	})
	// Only what is more common in the set ranks.
	n := slices.IndexFunc(rows, func(r ranked) bool { return r.diff <= 0 && r.p >= compareLevel })
	if n < 0 {
		n = len(rows)
	}
	if n > maxCompareRows {
		w.warn(fmt.Sprintf("| compare: %d more values more common in the set than in the baseline, not shown (at most %d)", n-maxCompareRows, maxCompareRows))
		n = maxCompareRows
	}
	if err := w.cells(st.Pos, n, len(compareColumns)); err != nil {
		return t, err
	}
	for _, r := range rows[:n] {
		query := ""
		if past == nil { // a change (old → new) is no value a path can match
			query = holdersQuery(w.setPath, r.f, w.setTime)
		}
		out.rows = append(out.rows, r.row(query, len(set), len(base)))
	}
	return out, nil
}

// compareFeatures orders values by layer (from the top), attribute and value, a pair by its
// first then its second.
func compareFeatures(a, b []feature) int {
	for i := range min(len(a), len(b)) {
		if c := cmp.Or(cmp.Compare(a[i].layer.Depth(), b[i].layer.Depth()), strings.Compare(a[i].attr, b[i].attr), strings.Compare(a[i].value, b[i].value)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// rank is a value's counts, shares' difference and uncorrected p-value.
func rank(nSet, nBase, inSet, inBase int, f ...feature) ranked {
	return ranked{f: f, inSet: inSet, inAll: inBase,
		diff: float64(inSet)/float64(nSet) - float64(inBase)/float64(nBase),
		p:    fisherGreater(inSet, nSet-inSet, inBase, nBase-inBase)}
}

// defaultBaseline is, for instances, the other instances of their services; for any other
// kind, every other entity of it.
func defaultBaseline(g *graph.Graph, set []*graph.Entity, inSet map[*graph.Entity]bool) []*graph.Entity {
	var out []*graph.Entity
	seen := map[*graph.Entity]bool{}
	add := func(e *graph.Entity) {
		if !inSet[e] && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	if set[0].Kind != graph.Instance {
		for e := range g.All(set[0].Kind) {
			add(e)
		}
		return out
	}
	services := map[*graph.Entity]bool{}
	for _, inst := range set {
		if svc := g.FirstAbove(inst, graph.Service); svc != nil && !services[svc] { // an instance is its service's
			services[svc] = true
			for _, edge := range g.DownOf(svc) { // not Below: no list made per service
				if e := edge.ToEntity(); e.Kind == graph.Instance {
					add(e)
				}
			}
		}
	}
	return out
}

// beneath walks what lies beneath entity after entity, its room kept from one to the next.
type beneath struct {
	seen  map[*graph.Entity]bool
	queue []*graph.Entity
}

// of is e and every entity beneath it, each once; valid until the next call.
func (b *beneath) of(g *graph.Graph, e *graph.Entity) []*graph.Entity {
	if b.seen == nil {
		b.seen = map[*graph.Entity]bool{}
	}
	clear(b.seen)
	b.seen[e] = true
	b.queue = append(b.queue[:0], e)
	for i := 0; i < len(b.queue); i++ {
		for _, edge := range g.DownOf(b.queue[i]) {
			if n := edge.ToEntity(); !b.seen[n] {
				b.seen[n] = true
				b.queue = append(b.queue, n)
			}
		}
	}
	return b.queue
}

// featuresOf appends to out an entity's values and those of every entity beneath it.
func featuresOf(walk *beneath, g *graph.Graph, e *graph.Entity, out []feature) []feature {
	for _, x := range walk.of(g, e) {
		if sharedIDKinds[x.Kind] {
			out = append(out, feature{x.Kind, "id", x.ID})
		}
		for _, a := range x.Attrs {
			if a.Value != "" && !notShared[a.Name] && !graph.IsSignal(a.Name) {
				out = append(out, feature{x.Kind, a.Name, a.Value})
			}
		}
		for name, v := range x.Labels {
			if v != "" {
				out = append(out, feature{x.Kind, name, v})
			}
		}
	}
	return out
}

// comparedPairs are the pairs tried and those shown.
type comparedPairs struct {
	tried int
	shown []ranked
}

// comparePairs tries the pairs of the strongest values (of different attributes) and keeps
// those whose conjunction is more common in the set than in the baseline by more than either
// value alone, and whose second value, among the holders of the stronger, is more common in the
// set beyond chance: a cause that needs both.
func comparePairs(nSet, nBase int, held [][]int32, ids map[feature]int32, singles []ranked) comparedPairs {
	cands := slices.Clone(singles)
	cands = slices.DeleteFunc(cands, func(r ranked) bool { return r.inSet < 2 })
	// Ties broken by the values themselves: the same answer every time, whatever order the
	// labels came in.
	slices.SortFunc(cands, func(a, b ranked) int { return cmp.Or(cmp.Compare(b.diff, a.diff), compareFeatures(a.f, b.f)) })
	cands = cands[:min(len(cands), maxPairCandidates)]
	// Each candidate's holders as bits, entity i at bit i; inSet has the set's (the first nSet).
	words := (len(held) + 63) / 64
	inSetBits := make([]uint64, words)
	for e := range nSet {
		inSetBits[e/64] |= 1 << (e % 64)
	}
	bitsOf := make([][]uint64, len(cands))
	for i, c := range cands {
		bitsOf[i] = make([]uint64, words)
		id := ids[c.f[0]]
		for e, h := range held {
			if _, ok := slices.BinarySearch(h, id); ok {
				bitsOf[i][e/64] |= 1 << (e % 64)
			}
		}
	}
	var out comparedPairs
	for i := range cands {
		for j := i + 1; j < len(cands); j++ {
			a, b := cands[i], cands[j]
			if a.f[0].layer == b.f[0].layer && a.f[0].attr == b.f[0].attr {
				continue // one attribute has one value an entity
			}
			out.tried++
			inSet, inBase := 0, 0
			for k, x := range bitsOf[i] {
				both := x & bitsOf[j][k]
				inSet += bits.OnesCount64(both & inSetBits[k])
				inBase += bits.OnesCount64(both &^ inSetBits[k])
			}
			if inSet < 2 {
				continue
			}
			pair := []feature{a.f[0], b.f[0]}
			if compareFeatures(pair[:1], pair[1:]) > 0 {
				pair[0], pair[1] = pair[1], pair[0] // a pair is written from the top: container & host
			}
			r := rank(nSet, nBase, inSet, inBase, pair...)
			// Shown when it beats both values, and among the holders of the stronger value the
			// other is more common in the set beyond chance (corrected for the pairs tried).
			strong := a
			if b.diff > a.diff {
				strong = b
			}
			if r.diff > strong.diff && fisherGreater(inSet, strong.inSet-inSet, inBase, strong.inAll-inBase)*float64(maxPairs) < compareLevel {
				out.shown = append(out.shown, r)
			}
		}
	}
	return out
}

// row is the stage's answer's row for a value or pair: its layers, attributes and values
// (" & " between a pair's), the shares, their difference, the corrected p-value, and the query
// that lists the set's entities holding it.
func (r ranked) row(query string, nSet, nBase int) []string {
	var layers, attrs, vals []string
	for _, f := range r.f {
		layers, attrs, vals = append(layers, string(f.layer)), append(attrs, f.attr), append(vals, f.value)
	}
	return []string{strings.Join(layers, " & "), strings.Join(attrs, " & "), strings.Join(vals, " & "),
		share(r.inSet, nSet), share(r.inAll, nBase), strconv.FormatFloat(r.diff, 'f', 3, 64),
		strconv.FormatFloat(r.p, 'g', 3, 64), query}
}

func share(n, of int) string { return strconv.FormatFloat(float64(n)/float64(of), 'f', 3, 64) }

// holdersQuery is the set's path narrowed to the entities holding the values, at the set's
// time: a value of the set's own kind is a matcher of its last step, one beneath a step down to
// its layer (a pair's second when the first's layer walks down to it, else the first alone);
// "" for a value of a label whose name no matcher can hold (app.kubernetes.io/version).
func holdersQuery(set Path, fs []feature, at string) string {
	for _, f := range fs {
		if !isName(f.attr) {
			return ""
		}
	}
	p := Path{Steps: slices.Clone(set.Steps)}
	last := len(p.Steps) - 1
	p.Steps[last].Matchers = slices.Clone(p.Steps[last].Matchers)
	own := p.Steps[last].Kind
	for _, f := range fs {
		m := &Matcher{Name: f.attr, Op: "=", Value: f.value}
		switch end := p.Steps[len(p.Steps)-1].Kind; {
		case f.layer == own:
			p.Steps[last].Matchers = append(p.Steps[last].Matchers, m)
		case end == own || reachesDown(end, f.layer):
			p.Steps = append(p.Steps, Step{Dir: Down, Kind: f.layer, Matchers: []*Matcher{m}})
		}
	}
	return p.String() + at
}

// isName tells a name the language reads as an attribute's.
func isName(s string) bool {
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	return s != ""
}

// setPathOf is compare's set as a path and its time: the query's path with the where stages
// before the compare as matchers of its last step (they test the same entities), and its @ or
// offset. A sort or limit before the compare is not written: the set's query then names more
// than the set.
func setPathOf(q *Query) (Path, string) {
	p := Path{Steps: slices.Clone(q.Path.Steps)}
	if len(p.Steps) == 0 {
		return p, ""
	}
	last := len(p.Steps) - 1
	p.Steps[last].Matchers = slices.Clone(p.Steps[last].Matchers)
	for _, st := range q.Stages {
		if st.Op != "where" {
			break
		}
		p.Steps[last].Matchers = append(p.Steps[last].Matchers, st.Where)
	}
	at := ""
	if q.At != nil {
		at = " @ " + q.At.UTC().Format(time.RFC3339Nano)
	}
	if q.Offset != 0 {
		at += " offset " + model.Duration(q.Offset).String()
	}
	return p, at
}

// reachesDown tells whether a step down from kind from reaches kind to: a pod or container
// reaches what lies beneath it; an image and a host reach nothing.
func reachesDown(from, to graph.Kind) bool {
	return (from == graph.Pod || from == graph.Container) && to.Depth() > from.Depth()
}

// String writes a path as the language reads it, without its projections.
func (p Path) String() string {
	var b strings.Builder
	for _, st := range p.Steps {
		switch st.Dir {
		case Down:
			b.WriteString(" -> ")
		case Up:
			b.WriteString(" <- ")
		}
		b.WriteString(string(st.Kind))
		if len(st.Matchers) > 0 {
			b.WriteByte('{')
			for j, m := range st.Matchers {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(m.Name + m.Op)
				if m.numeric {
					b.WriteString(m.Value)
				} else {
					b.WriteString(Quote(m.Value))
				}
			}
			b.WriteByte('}')
		}
		if pk := st.Pick; pk != nil {
			b.WriteString(pk.String())
		}
	}
	return b.String()
}

// String writes a pick as written: [i] or [a:b].
func (pk *Pick) String() string {
	if pk.Index != nil {
		return "[" + strconv.Itoa(*pk.Index) + "]"
	}
	s := "["
	if pk.From != nil {
		s += strconv.Itoa(*pk.From)
	}
	s += ":"
	if pk.To != nil {
		s += strconv.Itoa(*pk.To)
	}
	return s + "]"
}

// Quote writes a string value as the lexer reads it back.
func Quote(s string) string { return `"` + stringEscaper.Replace(s) + `"` }

var stringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

func uniqueEntities(es []*graph.Entity) []*graph.Entity {
	seen := make(map[*graph.Entity]bool, len(es))
	out := make([]*graph.Entity, 0, len(es))
	for _, e := range es {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// since is the graph compare's since names, or nil without since.
func (w *walker) since(st Stage) (*graph.Graph, error) {
	if st.SinceTime == nil && st.SinceAgo == 0 {
		return nil, nil
	}
	if w.graphs == nil {
		return nil, &Error{Pos: st.Pos, Msg: "| compare since reads the stored history: ask a server (strata query, the API)"}
	}
	at := w.at.Add(-st.SinceAgo)
	if st.SinceTime != nil {
		at = *st.SinceTime
	}
	if !at.Before(w.at) {
		return nil, &Error{Pos: st.Pos, Msg: fmt.Sprintf("| compare since %s: not before the query's time, %s", at.UTC().Format(time.RFC3339), w.at.UTC().Format(time.RFC3339))}
	}
	past, _, err := w.graphs.GraphAt(w.ctx, at)
	if err != nil {
		return nil, &Error{Pos: st.Pos, Msg: fmt.Sprintf("| compare since: the graph at %s: %v", at.UTC().Format(time.RFC3339), err)}
	}
	return past, nil
}

// changesOf is what changed beneath an entity (and in it) since the past graph: each attribute
// whose value differs ("old → new", "(none)" for no value), and each entity that was not there
// then ("added").
func changesOf(walk *beneath, g, past *graph.Graph, e *graph.Entity, out []feature) []feature {
	for _, x := range walk.of(g, e) {
		then, ok := past.Get(x.Ref)
		if !ok {
			out = append(out, feature{x.Kind, "added", "yes"})
			continue
		}
		change := func(name, before, now string) {
			if before != now && !notShared[name] && !graph.IsSignal(name) {
				out = append(out, feature{x.Kind, name, cmp.Or(before, "(none)") + " → " + cmp.Or(now, "(none)")})
			}
		}
		for _, a := range x.Attrs {
			change(a.Name, then.Attrs.Get(a.Name), a.Value)
		}
		for _, a := range then.Attrs { // those it no longer has
			if _, ok := x.Attrs.Lookup(a.Name); !ok {
				change(a.Name, a.Value, "")
			}
		}
	}
	return out
}

// CompareSet is | compare of a set of entities of one kind that no path names (the instances
// a PromQL condition selects): st is the stage (its against and since), graphs and at what
// since reads. The query column narrows a path naming the set by id when it has at most
// maxSetIDs entities, else one naming every entity of its kind, with a warning.
func CompareSet(ctx context.Context, g *graph.Graph, set []*graph.Entity, st Stage, lim Limits, graphs Graphs, at time.Time) (*Result, error) {
	w := newWalker(ctx, lim)
	w.g, w.graphs, w.at = g, graphs, at
	if len(set) > 0 {
		kind := set[0].Kind
		sel := Step{Kind: kind}
		if len(set) <= maxSetIDs {
			ids := make([]string, len(set))
			for i, e := range set {
				ids[i] = regexp.QuoteMeta(e.ID)
			}
			value := strings.Join(ids, "|")
			sel.Matchers = []*Matcher{{Name: "id", Op: "=~", Value: value, re: regexp.MustCompile("^(?s:" + value + ")$")}}
		} else {
			w.warn(fmt.Sprintf("| compare: the set has %d entities, more than %d: each row's query lists the holders among every %s", len(set), maxSetIDs, kind))
		}
		w.setPath = Path{Steps: []Step{sel}}
	}
	t, err := applyCompare(entityTable(set, nil), w, st)
	if err != nil {
		return nil, err
	}
	res, err := t.result(w, st.Pos)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, w.warnings...)
	return res, nil
}

// maxSetIDs is the most entities CompareSet names by id in its queries.
const maxSetIDs = 50
