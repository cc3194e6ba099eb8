package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/strata-obs/strata/topology/graph"
)

// A scoped role's series: those whose every identity label names an entity of its view, and
// that carry at least one (a series that names no entity says nothing a scope can decide on:
// another team's scrape target, a process's own metrics). The same filter serves the
// Prometheus API, the UI's PromQL page and its charts: it reads the identity from the
// context every Select and label lookup is given.

// identityLabels are the labels strata's series name entities by.
var identityLabels = []string{"host", "container_id", "lb", "service", "server", "namespace", "pod", "image"}

// seriesIndex is what a view's entities are called in series: their refs, an LB's by its
// name (series name an LB so).
type seriesIndex struct{ visible map[graph.Ref]bool }

func newSeriesIndex(view *graph.Graph) *seriesIndex {
	ix := &seriesIndex{visible: make(map[graph.Ref]bool, view.Len())}
	for e := range view.All("") {
		r := e.Ref
		if e.Kind == graph.LB {
			r.ID = e.Name
		}
		ix.visible[r] = true
	}
	return ix
}

func (ix *seriesIndex) has(kind graph.Kind, id string) bool {
	return ix.visible[graph.Ref{Kind: kind, ID: id}]
}

// allows tells whether a series may be shown: every identity label it has names a visible
// entity, and it has one.
func (ix *seriesIndex) allows(ls labels.Labels) bool {
	named := false
	check := func(ok bool) bool { named = true; return ok }
	if h := ls.Get("host"); h != "" && !check(ix.has(graph.Host, h)) {
		return false
	}
	if c := ls.Get("container_id"); c != "" && !check(ix.has(graph.Container, c)) {
		return false
	}
	if img := ls.Get("image"); img != "" && ls.Get("container_id") == "" && !check(ix.has(graph.Image, img)) {
		return false // an image's own series; a container's image label goes with the container
	}
	ns := ls.Get("namespace")
	if p := ls.Get("pod"); p != "" && !check(ix.has(graph.Pod, ns+"/"+p)) {
		return false
	}
	if lb := ls.Get("lb"); lb != "" {
		if !check(ix.has(graph.LB, lb)) {
			return false
		}
		if svc := ls.Get("service"); svc != "" {
			id := graph.ServiceID(lb, ns, svc)
			if !ix.has(graph.Service, id) {
				return false
			}
			if server := ls.Get("server"); server != "" && !ix.has(graph.Instance, id+"/"+server) {
				return false
			}
		}
	}
	return named
}

// Queryable wraps a storage so that a scoped identity in the context of a Select or a label
// lookup reads only its series; an admin, or a context without an identity (auth off, strata's
// own reads), reads everything. latest is the graph whose view decides, the one the refresh
// loop made last: a series of something gone since is not shown to a scoped role.
func (a *Authenticator) Queryable(q storage.Queryable, latest func() *graph.Graph) storage.Queryable {
	return scopedQueryable{q: q, a: a, latest: latest}
}

type scopedQueryable struct {
	q      storage.Queryable
	a      *Authenticator
	latest func() *graph.Graph
}

func (s scopedQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return scopedQuerier{Querier: q, s: s, mint: mint, maxt: maxt}, nil
}

type scopedQuerier struct {
	storage.Querier
	s          scopedQueryable
	mint, maxt int64
}

// index is the identity's series index, nil when it sees everything.
func (q scopedQuerier) index(ctx context.Context) *seriesIndex {
	id, ok := FromContext(ctx)
	if !ok || id.Admin {
		return nil
	}
	if id.Scope == nil {
		return &seriesIndex{} // sees nothing
	}
	view := q.s.a.View(ctx, q.s.latest())
	return q.s.a.indexes.Get(view, struct{}{}, func() *seriesIndex { return newSeriesIndex(view) })
}

// errNoIdentityLabel warns that series were left out for naming no entity.
var errNoIdentityLabel = errors.New("series that carry none of the labels host, container_id, lb, service, namespace, pod or image are not shown to a role with a scope")

func (q scopedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	ix := q.index(ctx)
	set := q.Querier.Select(ctx, sortSeries, hints, ms...)
	if ix == nil {
		return set
	}
	return &filteredSet{SeriesSet: set, ix: ix}
}

// LabelValues and LabelNames of a scoped identity are those of its series: read from them,
// with the matchers given (all series when none are).
func (q scopedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	ix := q.index(ctx)
	if ix == nil {
		return q.Querier.LabelValues(ctx, name, hints, ms...)
	}
	seen := map[string]bool{}
	err := q.each(ctx, ix, ms, func(ls labels.Labels) {
		if v := ls.Get(name); v != "" {
			seen[v] = true
		}
	})
	return limited(seen, hints), nil, err
}

func (q scopedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	ix := q.index(ctx)
	if ix == nil {
		return q.Querier.LabelNames(ctx, hints, ms...)
	}
	seen := map[string]bool{}
	err := q.each(ctx, ix, ms, func(ls labels.Labels) {
		ls.Range(func(l labels.Label) { seen[l.Name] = true })
	})
	return limited(seen, hints), nil, err
}

func (q scopedQuerier) each(ctx context.Context, ix *seriesIndex, ms []*labels.Matcher, f func(labels.Labels)) error {
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")}
	}
	set := &filteredSet{SeriesSet: q.Querier.Select(ctx, false, &storage.SelectHints{Start: q.mint, End: q.maxt, Func: "series"}, ms...), ix: ix}
	// Without matchers that is every series of the range: the request's --query.timeout bounds it.
	for n := 0; set.Next(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			break
		}
		f(set.At().Labels())
	}
	if ctx.Err() != nil {
		return fmt.Errorf("listing the labels of this role's series: %w (--query.timeout)", context.Cause(ctx))
	}
	return set.Err()
}

func limited(seen map[string]bool, hints *storage.LabelHints) []string {
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out
}

// filteredSet passes the series the index allows.
type filteredSet struct {
	storage.SeriesSet
	ix      *seriesIndex
	unnamed bool // a series was left out for naming no entity
}

func (f *filteredSet) Next() bool {
	for f.SeriesSet.Next() {
		ls := f.SeriesSet.At().Labels()
		if f.ix.allows(ls) {
			return true
		}
		if !slices.ContainsFunc(identityLabels, func(n string) bool { return ls.Has(n) }) {
			f.unnamed = true
		}
	}
	return false
}

func (f *filteredSet) Warnings() annotations.Annotations {
	w := f.SeriesSet.Warnings()
	if f.unnamed {
		w = w.Add(errNoIdentityLabel)
	}
	return w
}
