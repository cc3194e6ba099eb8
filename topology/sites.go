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
	// ClockSkew is how far the site's clock is from this strata's, at least: ahead when
	// positive, behind when negative, 0 when within clockTolerance or not known.
	ClockSkew time.Duration
}

// siteScoped are the kinds whose entities belong to their site.
var siteScoped = map[graph.Kind]bool{graph.LB: true, graph.Service: true, graph.Instance: true, graph.Pod: true, graph.Container: true}

// GraphAtSites is the graph of every site at at, read from q, with what was found of each
// site, newest first, and warnings: series that name no site, and sites silent at at (no
// sample within silentAfter before it).
func GraphAtSites(ctx context.Context, q storage.Queryable, at time.Time, silentAfter time.Duration) (*graph.Graph, []Site, []string, error) {
	read, partial, err := readSites(ctx, q, at)
	if err != nil {
		return nil, nil, nil, err
	}
	g, sites, warnings := mergeSites(at, read, silentAfter, 0)
	return g, sites, append(partial, warnings...), nil
}

// siteRead is one site's graph as read at a time.
type siteRead struct {
	g        *graph.Graph
	newest   time.Time
	warnings []string
	writers  []string  // strata that write as this site and that no other external label tells apart
	wrote    time.Time // the newest sample of its writer series, written at each refresh (zero: none)
	// Set by Global, which follows the site's clock from one read to the next:
	skew time.Duration // as Site.ClockSkew
	// advanced is when, by this strata's clock, a read last found a newer writer sample; for a
	// site behind, how long it has been silent is counted from then, not from its old stamps.
	advanced time.Time
	// first: this read is the first to find its writer series, and cannot tell a site that
	// stopped from one whose clock is behind: the next read decides.
	first bool
}

// readSites reads the topology series of every site alive at at, and rebuilds each site's
// graph on its own; partial are the store's warnings (a member that did not answer).
func readSites(ctx context.Context, q storage.Queryable, at time.Time) (_ map[string]siteRead, partial []string, _ error) {
	read, partial, err := readFamilies(ctx, q, at)
	if err != nil {
		return nil, nil, err
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
	writers, wrote, writersPartial, err := readWriters(ctx, q, at.Add(-lookback).UnixMilli()+1, at.UnixMilli())
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]siteRead, len(bySite))
	for c, parts := range bySite {
		g, ws := rebuild(at, parts)
		r := siteRead{g: g, newest: time.UnixMilli(newest[c]), warnings: ws, writers: writers[c]}
		if t, ok := wrote[c]; ok { // written at each refresh: the newest sample of the site
			r.wrote, r.newest = time.UnixMilli(t), time.UnixMilli(max(t, newest[c]))
		}
		out[c] = r
	}
	return out, sortedUnique(append(partial, writersPartial...)), nil
}

// readWriters reads the writer series of (mint, maxt] and finds, per site, the strata that
// write as it and that nothing but their writer label tells apart: two strata claiming one
// cluster, whose graphs would merge into one site's. The two of an HA pair differ in their
// replica label, which their writer series carry as writer_replica too (a deduplicating store
// drops `replica` itself): they are not counted. wrote is each site's newest writer sample.
func readWriters(ctx context.Context, q storage.Queryable, mint, maxt int64) (writers map[string][]string, wrote map[string]int64, partial []string, err error) {
	series, partial, err := readAlive(ctx, q, mint, maxt, writerInfoName, true)
	if err != nil {
		return nil, nil, nil, err
	}
	byKey := map[string]map[string]bool{} // the labels but writer → writers
	cluster := map[string]string{}
	wrote = map[string]int64{}
	for _, s := range series {
		c := s.labels.Get(ClusterLabel)
		wrote[c] = max(wrote[c], s.t)
		key := labels.NewBuilder(s.labels).Del("writer").Labels().String()
		if byKey[key] == nil {
			byKey[key] = map[string]bool{}
		}
		byKey[key][s.labels.Get("writer")] = true
		cluster[key] = s.labels.Get(ClusterLabel)
	}
	writers = map[string][]string{}
	for key, ws := range byKey {
		if len(ws) > 1 {
			writers[cluster[key]] = append(writers[cluster[key]], slices.Sorted(maps.Keys(ws))...)
		}
	}
	return writers, wrote, partial, nil
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
		// A site whose clock is off is silent since a read last found it sending, however old
		// (or new) its clock makes its samples look.
		silent := at.Sub(r.newest)
		switch {
		case r.first:
			silent = 0
		case r.skew != 0 && !r.advanced.IsZero():
			silent = at.Sub(r.advanced)
		}
		// A site whose entities are stale is named too, however short the stale-after.
		stale := staleAfter > 0 && silent > staleAfter
		quiet := silent > silentAfter || stale
		skew := r.skew
		if quiet {
			skew = 0 // a site that stopped is silent, whatever its clock was
		}
		switch {
		case skew > 0:
			warnings = append(warnings, fmt.Sprintf("%s: its clock is ahead of this strata's by at least %s (it wrote a sample stamped %s): its graph here is as it was that long before; set the site's clock (NTP)",
				label, skew, r.wrote.UTC().Format(time.RFC3339)))
		case skew < 0:
			warnings = append(warnings, fmt.Sprintf("%s: its clock is behind this strata's by at least %s (it still sends, its newest sample stamped %s): set the site's clock (NTP), or see whether its remote write lags",
				label, -skew, r.wrote.UTC().Format(time.RFC3339)))
		}
		if quiet {
			warnings = append(warnings, fmt.Sprintf("%s: no topology since %s", label, r.newest.UTC().Format(time.RFC3339)))
		}
		m.add(c, r.g, stale)
		sites = append(sites, Site{Cluster: c, Newest: r.newest, Entities: r.g.Len(), Writers: max(1, len(r.writers)), ClockSkew: skew})
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

	mu       sync.Mutex
	last     map[string]siteRead
	sites    []Site // of the last read, for /metrics
	clocks   map[string]*siteClock
	lastRead time.Time
}

// siteClock follows a site's writer series from one read to the next.
type siteClock struct {
	wrote    time.Time     // its newest writer sample yet
	advanced time.Time     // when, by this strata's clock, a read last found a newer one
	skew     time.Duration // the last estimate
}

// clockTolerance is how far a site's clock may be from this strata's before a warning says so:
// more than a remote write's usual delay, less than the minute a person would notice.
const clockTolerance = 30 * time.Second

// SilentAfter is how long a site may send nothing before a warning names it: a site's strata
// writes an unchanged series once a heartbeat, so two heartbeats without a sample is a site
// that stopped.
const SilentAfter = 2 * heartbeat

// Graph reads every site's graph of now, and each site's clock against this strata's.
func (gl *Global) Graph(ctx context.Context, now time.Time) (*graph.Graph, []string, error) {
	// A site whose clock is ahead writes samples stamped after now, which no read at now sees:
	// they are looked for in the lookback after it (what an instant query a lookback ahead
	// finds, in a store read through its query API too). First, while the reads are short:
	// a site whose clock is right writes samples stamped after now too, as the reads go on
	// (the sites' read of a large estate takes a minute), and they are compared with the time
	// this read ended, not with now.
	start := time.Now()
	_, ahead, aheadPartial, err := readWriters(ctx, gl.Store, now.UnixMilli()+1, now.Add(lookback).UnixMilli())
	if err != nil {
		return nil, nil, err
	}
	aheadOf := now.Add(time.Since(start).Truncate(time.Second))
	read, partial, err := readSites(ctx, gl.Store, now)
	if err != nil {
		return nil, nil, err
	}
	partial = sortedUnique(append(partial, aheadPartial...))
	gl.mu.Lock()
	defer gl.mu.Unlock()
	if gl.last == nil {
		gl.last, gl.clocks = map[string]siteRead{}, map[string]*siteClock{}
	}
	for c, r := range read {
		gl.last[c] = r
	}
	for c := range ahead {
		if _, ok := gl.last[c]; !ok { // all it wrote is ahead of now: a site with an empty graph
			gl.last[c] = siteRead{g: graph.New(now)}
		}
	}
	for c, r := range gl.last {
		if _, ok := read[c]; !ok {
			read[c] = r // a site gone from the store's lookback: its last graph
		}
	}
	for c, r := range read {
		if t, ok := ahead[c]; ok { // its newest sample, and what it last sent
			r.wrote = time.UnixMilli(t)
			r.newest = r.wrote
		}
		r.skew, r.advanced, r.first = gl.clock(c, r.wrote, now, aheadOf)
		read[c] = r
	}
	gl.lastRead = now
	g, sites, warnings := mergeSites(now, read, SilentAfter, gl.StaleAfter)
	gl.sites = sites
	return g, append(partial, warnings...), nil
}

// clock estimates a site's clock skew from its newest writer sample, wrote. A sample stamped
// after aheadOf (when the read that found it ended) comes from a clock ahead by at least that
// much. A newer sample than the last read found arrived after that read (it would have been
// found), so it was written after it, give or take the store's delay: stamped before it, it
// comes from a clock behind by at least the difference. Between reads that find nothing newer
// the last estimate holds. advanced is when a read last found a newer sample, by this strata's
// clock (zero: not yet). first is whether this is the first read to find a sample: it knows
// nothing of when that sample was written.
func (gl *Global) clock(cluster string, wrote, now, aheadOf time.Time) (skew time.Duration, advanced time.Time, first bool) {
	ck := gl.clocks[cluster]
	if ck == nil {
		ck = &siteClock{}
		gl.clocks[cluster] = ck
	}
	if wrote.After(ck.wrote) {
		ck.skew = 0
		switch {
		case wrote.Sub(aheadOf) > clockTolerance:
			ck.skew = wrote.Sub(aheadOf).Truncate(time.Second)
		case !ck.wrote.IsZero() && !gl.lastRead.IsZero() && gl.lastRead.Sub(wrote) > clockTolerance:
			ck.skew = -gl.lastRead.Sub(wrote).Truncate(time.Second)
		}
		if !ck.wrote.IsZero() { // the first sample seen says nothing of when it was written
			ck.advanced = now
		}
		first = ck.wrote.IsZero()
		ck.wrote = wrote
	}
	return ck.skew, ck.advanced, first
}

// The global strata's own series, one per site.
const (
	siteLastWriteName = "strata_federation_site_last_write_timestamp_seconds"
	siteLastWriteHelp = "When a site's strata last wrote a topology series the global strata read (a global strata's): a site silent for long stopped sending."
	siteEntitiesName  = "strata_federation_site_entities"
	siteEntitiesHelp  = "The entities of a site's graph in the global strata's last read (a global strata's)."
	siteWritersName   = "strata_federation_site_writers"
	siteWritersHelp   = "How many strata write as the site with nothing but their writer to tell them apart (a global strata's): above 1, two strata claim one cluster."
	siteClockSkewName = "strata_federation_site_clock_skew_seconds"
	siteClockSkewHelp = "How far a site's clock is from the global strata's, at least (a global strata's): positive ahead, negative behind, 0 within 30s or not known."
)

var (
	siteLastWriteDesc = prometheus.NewDesc(siteLastWriteName, siteLastWriteHelp, []string{ClusterLabel}, nil)
	siteEntitiesDesc  = prometheus.NewDesc(siteEntitiesName, siteEntitiesHelp, []string{ClusterLabel}, nil)
	siteWritersDesc   = prometheus.NewDesc(siteWritersName, siteWritersHelp, []string{ClusterLabel}, nil)
	siteClockSkewDesc = prometheus.NewDesc(siteClockSkewName, siteClockSkewHelp, []string{ClusterLabel}, nil)
)

// Collector is the sites of the last read on /metrics, one series per site, for alerts on a
// site that stopped sending.
func (gl *Global) Collector() prometheus.Collector { return globalCollector{gl} }

type globalCollector struct{ gl *Global }

func (c globalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- siteLastWriteDesc
	ch <- siteEntitiesDesc
	ch <- siteWritersDesc
	ch <- siteClockSkewDesc
}

func (c globalCollector) Collect(ch chan<- prometheus.Metric) {
	c.gl.mu.Lock()
	sites := c.gl.sites
	c.gl.mu.Unlock()
	for _, s := range sites {
		ch <- prometheus.MustNewConstMetric(siteLastWriteDesc, prometheus.GaugeValue, float64(s.Newest.UnixMilli())/1000, s.Cluster)
		ch <- prometheus.MustNewConstMetric(siteEntitiesDesc, prometheus.GaugeValue, float64(s.Entities), s.Cluster)
		ch <- prometheus.MustNewConstMetric(siteWritersDesc, prometheus.GaugeValue, float64(s.Writers), s.Cluster)
		ch <- prometheus.MustNewConstMetric(siteClockSkewDesc, prometheus.GaugeValue, s.ClockSkew.Seconds(), s.Cluster)
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
				old.Attrs, old.Labels = slices.Clone(old.Attrs), maps.Clone(old.Labels)
				m.shared[old] = true
			}
			cs := strings.Split(old.Attrs.Get(ClusterLabel), ",")
			if !slices.Contains(cs, cluster) {
				cs = append(cs, cluster)
				slices.Sort(cs)
				old.Attrs.Set(ClusterLabel, strings.Join(cs, ","))
			}
			global[g.Place(e)] = m.g.Put(&graph.Entity{Ref: r, Attrs: e.Attrs, LastSeen: g.LastSeen(e), Stale: e.Stale || stale}) // fills what the first lacks
			continue
		}
		c := *e
		c.Ref, c.LastSeen = r, g.LastSeen(e)
		c.Stale = c.Stale || stale
		if c.Attrs.Get(ClusterLabel) != cluster && cluster != "" { // (the series carry it: never, but for a hand-made store)
			c.Attrs = slices.Clone(c.Attrs)
			c.Attrs.Set(ClusterLabel, cluster)
		}
		global[g.Place(e)] = m.g.Put(&c)
	}
	g.EachEdge(func(e *graph.Edge) {
		from, to := global[g.Place(e.FromEntity())], global[g.Place(e.ToEntity())]
		if len(e.Sources) == 0 {
			m.g.Connect(from, to, noSource, e.LastSeen())
		}
		for _, s := range e.Sources {
			m.g.Connect(from, to, s, e.LastSeen())
		}
	})
}

// done ends the merge: edges linked with no source are left without.
func (m *siteMerge) done() *graph.Graph {
	dropNoSource(m.g)
	return m.g
}

// ref is an entity's identity in the global graph.
func (m *siteMerge) ref(cluster string, e *graph.Entity) graph.Ref {
	switch {
	case siteScoped[e.Kind] && cluster != "":
		return graph.Ref{Kind: e.Kind, ID: cluster + "/" + e.ID}
	case e.Kind == graph.Host:
		mid := e.Attrs.Get("machine_id")
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
