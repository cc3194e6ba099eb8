package topology

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/topology/graph"
)

// A global strata reads the topology series that many sites' strata send to one store, and
// serves one graph of them all. Each site's series carry its `cluster` (global.external_labels),
// and each site's graph is rebuilt on its own, as GraphAt rebuilds one site's, so that nothing
// of one site joins to another by an address or a name: private addresses and container names
// repeat across sites. The graphs are then put side by side in one, the site's name before
// the id of what is the site's own (lb, service, instance, pod, container: `eu-1/edge/c1ps/s0`).
// A host is one host wherever it is seen when its machine-id says so (a machine seen by two
// sites is one entity, with both sites in its cluster attribute); a host without one is its
// site's. An image is one image wherever it runs: its reference names it.

// Site is what a global read found of one site.
type Site struct {
	Cluster  string
	Newest   time.Time // the newest sample of its series: when it last sent
	Entities int
	Writers  int // strata that write as this site and no label tells apart: 1, or a conflict
}

// siteScoped are the kinds whose entities belong to their site.
var siteScoped = map[graph.Kind]bool{graph.LB: true, graph.Service: true, graph.Instance: true, graph.Pod: true, graph.Container: true}

// GraphAtSites is the graph of every site at at, read from q, with what was found of each
// site, newest first, and warnings: series that name no site, and sites silent at at (no
// sample within silentAfter before it).
func GraphAtSites(ctx context.Context, q storage.Queryable, at time.Time, silentAfter time.Duration) (*graph.Graph, []Site, []string, error) {
	read, err := readSites(ctx, q, at)
	if err != nil {
		return nil, nil, nil, err
	}
	g, sites, warnings := mergeSites(at, read, silentAfter, 0)
	return g, sites, warnings, nil
}

// siteRead is one site's graph as read at a time.
type siteRead struct {
	g        *graph.Graph
	newest   time.Time
	warnings []string
	writers  []string // strata that write as this site and that no other external label tells apart
}

// readSites reads the topology series of every site alive at at, and rebuilds each site's
// graph on its own.
func readSites(ctx context.Context, q storage.Queryable, at time.Time) (map[string]siteRead, error) {
	read, err := readFamilies(ctx, q, at)
	if err != nil {
		return nil, err
	}
	nfam := len(read)
	bySite := map[string][][]aliveSeries{}
	newest := map[string]int64{}
	for i := range read {
		for _, s := range read[i] {
			c := s.labels.Get(ClusterLabel)
			parts := bySite[c]
			if parts == nil {
				parts = make([][]aliveSeries, nfam)
				bySite[c] = parts
			}
			parts[i] = append(parts[i], s)
			newest[c] = max(newest[c], s.t)
		}
	}
	writers, err := readWriters(ctx, q, at)
	if err != nil {
		return nil, err
	}
	out := make(map[string]siteRead, len(bySite))
	for c, parts := range bySite {
		g, ws := rebuild(at, parts)
		out[c] = siteRead{g: g, newest: time.UnixMilli(newest[c]), warnings: ws, writers: writers[c]}
	}
	return out, nil
}

// readWriters finds, per site, the strata that write as it and that nothing but their writer
// label tells apart: two strata claiming one cluster, whose graphs would merge into one site's.
// The two of an HA pair differ in their replica label, which their writer series carry as
// writer_replica too (a deduplicating store drops `replica` itself): they are not counted.
func readWriters(ctx context.Context, q storage.Queryable, at time.Time) (map[string][]string, error) {
	series, err := readAlive(ctx, q, at.Add(-lookback).UnixMilli()+1, at.UnixMilli(), writerInfoName)
	if err != nil {
		return nil, err
	}
	byKey := map[string]map[string]bool{} // the labels but writer → writers
	cluster := map[string]string{}
	for _, s := range series {
		key := labels.NewBuilder(s.labels).Del("writer").Labels().String()
		if byKey[key] == nil {
			byKey[key] = map[string]bool{}
		}
		byKey[key][s.labels.Get("writer")] = true
		cluster[key] = s.labels.Get(ClusterLabel)
	}
	out := map[string][]string{}
	for key, ws := range byKey {
		if len(ws) > 1 {
			out[cluster[key]] = append(out[cluster[key]], slices.Sorted(maps.Keys(ws))...)
		}
	}
	return out, nil
}

// mergeSites puts the sites' graphs side by side. A site silent for silentAfter is named in a
// warning; for staleAfter (when not zero), its entities are stale.
func mergeSites(at time.Time, read map[string]siteRead, silentAfter, staleAfter time.Duration) (*graph.Graph, []Site, []string) {
	names := make([]string, 0, len(read))
	for c := range read {
		names = append(names, c)
	}
	slices.Sort(names)
	var warnings []string
	n := 0
	for _, r := range read {
		n += r.g.Len()
	}
	m := newSiteMerge(at, n)
	var sites []Site
	for _, c := range names {
		r := read[c]
		label := siteName(c)
		for _, w := range r.warnings {
			warnings = append(warnings, label+": "+w)
		}
		if c == "" {
			warnings = append(warnings, "series without a cluster label (a strata without global.external_labels, or an older one): shown as one site of their own, their ids as they are")
		}
		if len(r.writers) > 1 {
			warnings = append(warnings, fmt.Sprintf("%s: %d strata write as this site (%s) and no label tells them apart: their graphs are merged; give each site its own cluster, or each strata of an HA pair its own replica label",
				label, len(r.writers), strings.Join(r.writers, ", ")))
		}
		silent := at.Sub(r.newest)
		if silent > silentAfter {
			warnings = append(warnings, fmt.Sprintf("%s: no topology since %s", label, r.newest.UTC().Format(time.RFC3339)))
		}
		m.add(c, r.g, staleAfter > 0 && silent > staleAfter)
		sites = append(sites, Site{Cluster: c, Newest: r.newest, Entities: r.g.Len(), Writers: max(1, len(r.writers))})
	}
	slices.SortStableFunc(sites, func(a, b Site) int { return b.Newest.Compare(a.Newest) })
	return m.done(), sites, warnings
}

// Global is the graph of a global strata: every site's, read from the shared store at each
// refresh. A site whose strata stopped sending keeps its last graph, named in a warning with
// the time it last sent, and its entities turn stale after StaleAfter; a site seen again
// replaces it.
type Global struct {
	Store      storage.Queryable
	StaleAfter time.Duration

	mu    sync.Mutex
	last  map[string]siteRead
	sites []Site // of the last read, for /metrics
}

// SilentAfter is how long a site may send nothing before a warning names it: a site's strata
// writes an unchanged series once a heartbeat, so two heartbeats without a sample is a site
// that stopped.
const SilentAfter = 2 * heartbeat

// Graph reads every site's graph of now.
func (gl *Global) Graph(ctx context.Context, now time.Time) (*graph.Graph, []string, error) {
	read, err := readSites(ctx, gl.Store, now)
	if err != nil {
		return nil, nil, err
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	if gl.last == nil {
		gl.last = map[string]siteRead{}
	}
	for c, r := range read {
		gl.last[c] = r
	}
	for c, r := range gl.last {
		if _, ok := read[c]; !ok {
			read[c] = r // a site gone from the store's lookback: its last graph
		}
	}
	g, sites, warnings := mergeSites(now, read, SilentAfter, gl.StaleAfter)
	gl.sites = sites
	return g, warnings, nil
}

// The global strata's own series, one per site.
const (
	siteLastWriteName = "strata_federation_site_last_write_timestamp_seconds"
	siteLastWriteHelp = "When a site's strata last wrote a topology series the global strata read (a global strata's): a site silent for long stopped sending."
	siteEntitiesName  = "strata_federation_site_entities"
	siteEntitiesHelp  = "The entities of a site's graph in the global strata's last read (a global strata's)."
	siteWritersName   = "strata_federation_site_writers"
	siteWritersHelp   = "How many strata write as the site with nothing but their writer to tell them apart (a global strata's): above 1, two strata claim one cluster."
)

var (
	siteLastWriteDesc = prometheus.NewDesc(siteLastWriteName, siteLastWriteHelp, []string{ClusterLabel}, nil)
	siteEntitiesDesc  = prometheus.NewDesc(siteEntitiesName, siteEntitiesHelp, []string{ClusterLabel}, nil)
	siteWritersDesc   = prometheus.NewDesc(siteWritersName, siteWritersHelp, []string{ClusterLabel}, nil)
)

// Collector is the sites of the last read on /metrics, one series per site, for alerts on a
// site that stopped sending.
func (gl *Global) Collector() prometheus.Collector { return globalCollector{gl} }

type globalCollector struct{ gl *Global }

func (c globalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- siteLastWriteDesc
	ch <- siteEntitiesDesc
	ch <- siteWritersDesc
}

func (c globalCollector) Collect(ch chan<- prometheus.Metric) {
	c.gl.mu.Lock()
	sites := c.gl.sites
	c.gl.mu.Unlock()
	for _, s := range sites {
		ch <- prometheus.MustNewConstMetric(siteLastWriteDesc, prometheus.GaugeValue, float64(s.Newest.UnixMilli())/1000, s.Cluster)
		ch <- prometheus.MustNewConstMetric(siteEntitiesDesc, prometheus.GaugeValue, float64(s.Entities), s.Cluster)
		ch <- prometheus.MustNewConstMetric(siteWritersDesc, prometheus.GaugeValue, float64(s.Writers), s.Cluster)
	}
}

// siteName is how a warning names a site.
func siteName(cluster string) string {
	if cluster == "" {
		return "site (no cluster label)"
	}
	return "site " + cluster
}

// siteMerge puts sites' graphs side by side in one.
type siteMerge struct {
	g      *graph.Graph
	shared map[*graph.Entity]bool // hosts more than one site sees, whose maps are their own
	byMID  map[string]graph.Ref   // hosts by machine-id
	idMIDs map[string]string      // a machine-id's host id: a name another machine also has gets its machine-id after it
}

func newSiteMerge(at time.Time, n int) *siteMerge {
	return &siteMerge{g: graph.NewSized(at, n), shared: map[*graph.Entity]bool{}, byMID: map[string]graph.Ref{}, idMIDs: map[string]string{}}
}

// add puts one site's graph in; stale marks all its entities stale. The global graph's
// entities are copies (their refs differ) that share their attribute maps with the site's:
// the site's graph is kept for the next refresh while this one is served, so neither writes
// into a map the other holds, but for a host two sites see, whose map is its own.
func (m *siteMerge) add(cluster string, g *graph.Graph, stale bool) {
	global := make([]*graph.Entity, g.Len()) // by place in g
	for e := range g.All("") {
		r := m.ref(cluster, e)
		if old, ok := m.g.Get(r); ok { // a host another site sees too
			if !m.shared[old] {
				old.Attrs, old.Labels = maps.Clone(old.Attrs), maps.Clone(old.Labels)
				m.shared[old] = true
			}
			cs := strings.Split(old.Attrs[ClusterLabel], ",")
			if !slices.Contains(cs, cluster) {
				cs = append(cs, cluster)
				slices.Sort(cs)
				old.Attrs[ClusterLabel] = strings.Join(cs, ",")
			}
			global[g.Place(e)] = m.g.Put(&graph.Entity{Ref: r, Attrs: e.Attrs, LastSeen: e.LastSeen, Stale: e.Stale || stale}) // fills what the first lacks
			continue
		}
		c := *e
		c.Ref = r
		c.Stale = c.Stale || stale
		if c.Attrs[ClusterLabel] != cluster && cluster != "" { // (the series carry it: never, but for a hand-made store)
			c.Attrs = maps.Clone(c.Attrs)
			if c.Attrs == nil {
				c.Attrs = map[string]string{}
			}
			c.Attrs[ClusterLabel] = cluster
		}
		global[g.Place(e)] = m.g.Put(&c)
	}
	g.EachEdge(func(e *graph.Edge) {
		from, to := global[g.Place(e.FromEntity())], global[g.Place(e.ToEntity())]
		if len(e.Sources) == 0 {
			m.g.Connect(from, to, noSource, e.LastSeen)
		}
		for _, s := range e.Sources {
			m.g.Connect(from, to, s, e.LastSeen)
		}
	})
}

// done ends the merge: edges linked with no source are left without.
func (m *siteMerge) done() *graph.Graph {
	m.g.EachEdge(func(e *graph.Edge) {
		if len(e.Sources) == 1 && e.Sources[0] == noSource {
			e.Sources = nil
		}
	})
	return m.g
}

// ref is an entity's identity in the global graph.
func (m *siteMerge) ref(cluster string, e *graph.Entity) graph.Ref {
	switch {
	case siteScoped[e.Kind] && cluster != "":
		return graph.Ref{Kind: e.Kind, ID: cluster + "/" + e.ID}
	case e.Kind == graph.Host:
		mid := e.Attrs["machine_id"]
		if mid == "" {
			if cluster == "" {
				return e.Ref
			}
			return graph.Ref{Kind: graph.Host, ID: cluster + "/" + e.ID}
		}
		if r, ok := m.byMID[mid]; ok {
			return r
		}
		id := e.ID
		if other, taken := m.idMIDs[id]; taken && other != mid {
			id = e.ID + "~" + mid[:min(8, len(mid))]
		}
		r := graph.Ref{Kind: graph.Host, ID: id}
		m.byMID[mid], m.idMIDs[id] = r, mid
		return r
	}
	return e.Ref
}
