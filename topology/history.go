package topology

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/strata-obs/strata/topology/graph"
)

// lookback is how long a series' last sample counts, as in PromQL: a series written no
// later than this before the asked time is gone, as if a staleness marker had ended it.
const lookback = 5 * time.Minute

// GraphAt rebuilds the graph as it was at a past time from the strata_topology_* series the
// refreshes wrote: each series alive at that time (its last sample within the lookback and no
// staleness marker) becomes its entity and the edges its labels carry. Any storage.Queryable
// serves: the embedded TSDB, or a Prometheus-compatible store through remote read.
//
// The series carry less than the graph held: entities come back without sources, and with
// only the attributes and allow-listed labels (under their sanitized names) that the series
// have; LastSeen is when the series was last written, within a heartbeat of the refresh. The
// warnings name series that cannot be placed, such as an edge to an entity no series names.
func GraphAt(ctx context.Context, q storage.Queryable, at time.Time) (*graph.Graph, []string, error) {
	read, partial, err := readFamilies(ctx, q, at)
	if err != nil {
		return nil, nil, err
	}
	g, warnings := rebuild(at, read)
	return g, append(partial, warnings...), nil
}

// readFamilies reads the series of every family that restores something, alive at at, with
// the entity each names (not yet in a graph), and the store's warnings: a store member that did
// not answer makes a partial answer, which says so.
func readFamilies(ctx context.Context, q storage.Queryable, at time.Time) ([][]aliveSeries, []string, error) {
	// (at-lookback, at]: left-open, as PromQL's lookback is since Prometheus 3.
	mint, maxt := at.Add(-lookback).UnixMilli()+1, at.UnixMilli()
	fams := families()
	read := make([][]aliveSeries, len(fams))
	errs := make([]error, len(fams))
	partial := make([][]string, len(fams))
	var wg sync.WaitGroup
	for i, fam := range fams {
		r := fam.restore
		if !r.restores() {
			continue // path_info: nothing of its own to restore, not worth reading
		}
		// A querier per family: storage.Querier does not promise concurrent Selects. Each
		// family's entities are made here too, on every core: only putting them in the
		// graph is sequential.
		wg.Go(func() {
			series, ws, err := readAlive(ctx, q, mint, maxt, fam.Name, !fam.valued)
			if r.kind != "" {
				attrs := r.attrNames(fam)
				for j := range series {
					series[j].entity = r.entity(fam, attrs, series[j])
				}
			}
			read[i], partial[i], errs[i] = series, ws, err
		})
	}
	wg.Wait()
	// A member down says so in every family's answer: once is enough.
	warnings := sortedUnique(slices.Concat(partial...))
	// A store that cannot be read fails every family alike: the first error says it, with a
	// count of the others, rather than one line per family.
	failed := slices.DeleteFunc(errs, func(err error) bool { return err == nil })
	switch len(failed) {
	case 0:
		return read, warnings, nil
	case 1:
		return nil, nil, failed[0]
	}
	return nil, nil, fmt.Errorf("%w (and %d more families)", failed[0], len(failed)-1)
}

// sortedUnique sorts ss and drops repeats.
func sortedUnique(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// rebuild makes the graph of at from the series read of each family (families()'s order).
func rebuild(at time.Time, read [][]aliveSeries) (*graph.Graph, []string) {
	fams := families()
	// Entities first, then edges: an edge needs both its ends, whatever family names them.
	// Put merges the two host families into one host. The graph is sized once: grown
	// entity by entity, its index would cost a fleet more than all its entities' attributes.
	n := 0
	for i, fam := range fams {
		if fam.restore.kind != "" {
			n += len(read[i])
		}
	}
	b := &rebuilder{g: graph.NewSized(at, n), unmapped: map[unmappedKey]*unmappedCount{}}
	for _, series := range read {
		for j := range series {
			if e := series[j].entity; e != nil {
				series[j].entity = b.g.Put(e)
			}
		}
	}
	b.index()
	for i, fam := range fams {
		r := fam.restore
		if r.link == nil {
			continue
		}
		b.family = fam.Name
		for _, s := range read[i] {
			r.link(b, s)
		}
	}
	// Only edge_info names the sources of an edge; the edges that other series carry were
	// linked with none.
	dropNoSource(b.g)
	return b.g, b.warnings()
}

// noSource links an edge whose series says nothing of its sources (graph.Connect takes one).
const noSource = ""

// dropNoSource leaves the edges linked with noSource alone without sources.
func dropNoSource(g *graph.Graph) {
	g.EachEdge(func(e *graph.Edge) {
		if len(e.Sources) == 1 && e.Sources[0] == noSource {
			e.Sources = nil
		}
	})
}

// aliveSeries is a series alive at the asked time: its labels, the time of its last sample,
// and the entity it names once put in the graph.
type aliveSeries struct {
	labels labels.Labels
	t      int64   // milliseconds
	value  float64 // of the last sample
	entity *graph.Entity
}

func (s aliveSeries) seen() time.Time { return time.UnixMilli(s.t) }

// readAlive returns the series of a family whose last sample in [mint, maxt] is not a
// staleness marker.
//
// timesOnly says that only the time of each series' last sample is needed, not its value (an
// info family's is 1): the hint PromQL gives a selector inside timestamp(), which lets a store
// read through its query API answer one query instead of two (store.QueryAPIReader).
func readAlive(ctx context.Context, q storage.Queryable, mint, maxt int64, name string, timesOnly bool) ([]aliveSeries, []string, error) {
	querier, err := q.Querier(mint, maxt)
	if err != nil {
		return nil, nil, fmt.Errorf("open querier for %s: %w", name, err)
	}
	defer querier.Close()
	hints := &storage.SelectHints{Start: mint, End: maxt}
	if timesOnly {
		hints.Func = "timestamp"
	}
	set := querier.Select(ctx, false, hints,
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name))
	var out []aliveSeries
	var it chunkenc.Iterator
	for set.Next() {
		series := set.At()
		it = series.Iterator(it)
		last, lastT, ok := 0.0, int64(0), false
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			if t > maxt {
				break
			}
			last, lastT, ok = v, t, true
		}
		if err := it.Err(); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		if ok && !value.IsStaleNaN(last) {
			if len(out) == cap(out) {
				// Doubling: append grows a large slice by a quarter, which for the
				// 300k containers of a fleet copies them over and over.
				out = slices.Grow(out, max(len(out), 1024))
			}
			out = append(out, aliveSeries{labels: series.Labels(), t: lastT, value: last})
		}
	}
	if err := set.Err(); err != nil {
		return nil, nil, fmt.Errorf("select %s: %w", name, err)
	}
	var warnings []string
	for _, w := range set.Warnings() {
		warnings = append(warnings, w.Error())
	}
	return out, warnings, nil
}

// restorer turns the series of one family back into the graph: the entity each names, and
// the edges its labels carry.
type restorer struct {
	kind graph.Kind // of the entity; "" for a family of edges only
	// ident forms the entity's identity and name from the series as the join forms them
	// from the sources' facts.
	ident func(ls labels.Labels) (id, name string)
	// attr renames the labels whose attribute is named otherwise; "" drops a label that is
	// the entity's identity or name, not an attribute. The other labels of the family are
	// attributes of the same name.
	attr map[string]string
	// link adds the edges the series carries, from its entity's attributes where it has
	// one (the entity is in the graph by then).
	link func(b *rebuilder, s aliveSeries)
}

// restores tells a family that has something of its own to restore.
func (r restorer) restores() bool { return r.kind != "" || r.link != nil }

// hostIdent: a host's identity is its name, with "~" and the start of its machine-id where
// two hosts share the name (a host name holds no "~").
func hostIdent(ls labels.Labels) (string, string) {
	id := ls.Get("host")
	name, _, _ := strings.Cut(id, "~")
	return id, name
}

// attrNames maps each label of the family to the attribute it holds ("" for none).
func (r restorer) attrNames(fam family) map[string]string {
	names := make(map[string]string, len(fam.Labels))
	for _, l := range fam.Labels {
		names[l] = l
		if a, ok := r.attr[l]; ok {
			names[l] = a
		}
	}
	names[staleLabel] = ""
	return names
}

const (
	staleLabel      = "stale"  // "true" on the series of a stale entity
	metaLabelPrefix = "label_" // before an allow-listed metadata label's sanitized name
)

// rebuilder holds the graph being rebuilt, the indexes its edges resolve through, and the
// series that could not be placed.
type rebuilder struct {
	g           *graph.Graph
	lbsByName   map[string][]*graph.Entity
	hostsByName map[string]*graph.Entity // nil for a name two hosts answer to
	family      string                   // whose edges are being linked
	unmapped    map[unmappedKey]*unmappedCount
}

// entity is the entity a series names, not yet in the graph.
func (r restorer) entity(fam family, attrs map[string]string, s aliveSeries) *graph.Entity {
	id, name := r.ident(s.labels)
	// The series' labels bound its attributes.
	e := &graph.Entity{Ref: graph.Ref{Kind: r.kind, ID: id}, Name: name,
		Attrs: make(graph.Attrs, 0, s.labels.Len()-1), LastSeen: s.seen()}
	// Only the family's own labels, and the site's name: a store read remotely may add other
	// external labels.
	s.labels.Range(func(l labels.Label) {
		if l.Name == staleLabel {
			e.Stale = l.Value == "true"
		} else if l.Name == ClusterLabel {
			e.Attrs.Set(ClusterLabel, l.Value)
		} else if a := attrs[l.Name]; a != "" {
			e.Attrs.Set(a, l.Value)
		} else if k, ok := strings.CutPrefix(l.Name, metaLabelPrefix); ok && fam.MetaLabels {
			if e.Labels == nil {
				e.Labels = map[string]string{}
			}
			e.Labels[k] = l.Value
		}
	})
	return e
}

// index finds LBs by name (service_info names its LB so) and hosts by the names the join
// resolves a pod's node by: the host's name and hostname, when one host alone answers to it.
func (b *rebuilder) index() {
	b.lbsByName = map[string][]*graph.Entity{}
	b.g.Each(graph.LB, func(e *graph.Entity) { b.lbsByName[e.Name] = append(b.lbsByName[e.Name], e) })
	b.hostsByName = map[string]*graph.Entity{}
	b.g.Each(graph.Host, func(e *graph.Entity) {
		for _, n := range []string{e.Name, e.Attrs.Get("hostname")} {
			if other, taken := b.hostsByName[n]; n != "" && taken && other != e {
				b.hostsByName[n] = nil
			} else if n != "" && !taken {
				b.hostsByName[n] = e
			}
		}
	})
}

// find returns the entity a series names, or counts the series as unmapped when no series
// of that time names the entity.
func (b *rebuilder) find(r graph.Ref, s aliveSeries) (*graph.Entity, bool) {
	e, ok := b.g.Get(r)
	if !ok {
		b.unmappedSeries(r.Kind, r.ID, s)
	}
	return e, ok
}

// unmappedKey and unmappedCount sum the unmapped series by family and missing kind: one
// broken source can leave thousands, which one line each would bury.
type unmappedKey struct {
	family string
	kind   graph.Kind
}

type unmappedCount struct {
	n     int
	first string
}

func (b *rebuilder) unmappedSeries(kind graph.Kind, id string, s aliveSeries) {
	k := unmappedKey{b.family, kind}
	c := b.unmapped[k]
	if c == nil {
		c = &unmappedCount{first: fmt.Sprintf("%s/%s in %s", kind, id, s.labels)}
		b.unmapped[k] = c
	}
	c.n++
}

func (b *rebuilder) warnings() []string {
	var out []string
	for k, c := range b.unmapped {
		out = append(out, fmt.Sprintf("%s: %d series point at a missing %s, first %s", k.family, c.n, k.kind, c.first))
	}
	sort.Strings(out)
	return out
}
