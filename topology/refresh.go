// Package topology keeps strata's graph fresh: every refresh it asks each source, joins what
// they said into one graph (topology/join) and writes the graph as strata_topology_* series
// into the storage (series.go encodes them, history.go reads a past graph back from them);
// collector.go serves the latest graph's series on /metrics. The server (package server)
// wires it to the storage, the APIs and the UI.
package topology

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/join"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
)

// RefresherOptions configure the refresh loop.
type RefresherOptions struct {
	LBSources   []source.LoadBalancers
	FactSources []source.Facts
	LocalHost   string        // this machine's host name, for LBs read locally
	StaleAfter  time.Duration // --topology.stale-after: how long a failed source's last report is kept
	Timeout     time.Duration // per source and refresh
	Allowlist   []string      // metadata labels copied into series as label_<name>
	// Sink receives the series of each refresh (the TSDB); nil writes nowhere.
	Sink storage.Appendable
	Now  func() time.Time
	// FailingErrorRatio is --topology.failing-error-ratio: an instance whose share of failed
	// requests reaches it is failing; zero is DefaultFailingErrorRatio.
	FailingErrorRatio float64
	// ScrapedTraffic fills the counters an LB's source did not give from the series scraped of
	// the LB's own exporter (metrics.ScrapedTraffic.Fill); nil: none.
	ScrapedTraffic func(ctx context.Context, lbs []source.LB, at time.Time) error
	// ExternalLabels (global.external_labels) name this strata among others: every series it
	// writes carries them, and every entity of its graph the `cluster` one as an attribute.
	// A name its series already have is refused by NewRefresher.
	ExternalLabels labels.Labels
	// Global, when set, makes this a global strata's loop: each refresh's graph is every
	// site's, read from the shared store (Global.Graph), not built from sources, and nothing
	// is written.
	Global func(ctx context.Context, now time.Time) (*graph.Graph, []string, error)
	// Writer names this strata among those that write to one store (its host and listen
	// address): strata_topology_writer_info carries it. "" writes no such series.
	Writer string
	// Lifecycle is the policy hosts are held to (the lifecycle block): each host's worst state
	// is its lifecycle attribute, and its OS's support end its support_end. nil: neither.
	Lifecycle *lifecycle.Policy
}

// ClusterLabel is the external label, and the attribute, that names a site.
const ClusterLabel = graph.ClusterAttr

// replicaLabel is the external label that tells the two strata of a site's HA pair apart (the
// store deduplicates along it); writerReplicaLabel carries it on the writer's series.
const (
	replicaLabel       = "replica"
	writerReplicaLabel = "writer_replica"
)

// Refresher holds the latest graph and the state of each source.
type Refresher struct {
	opts   RefresherOptions
	logger *slog.Logger
	// lifecycle is the policy of the next refresh (opts.Lifecycle, then SetLifecycle's).
	lifecycle atomic.Pointer[lifecycle.Policy]

	// refreshMu makes refreshes one at a time, and guards written, epoch and writtenCount,
	// which only a refresh uses; mu guards the rest, which readers read.
	refreshMu    sync.Mutex
	mu           sync.RWMutex
	graph        *graph.Graph
	warnings     []string
	series       []store.Sample
	sources      map[sourceKey]*sourceState
	refreshed    bool        // a refresh has finished
	written      seriesIndex // the series written so far, to find what changed and what vanished
	epoch        uint64      // counts refreshes; a written series not seen in this one has vanished
	writtenCount int         // series in written
	// lastOrder is each family's series of the last refresh, in the order it made them: a
	// family makes the same series in the same order while nothing changes, so the series in
	// the same place last time is tried before the index (no hash, no lookup in a map of a
	// fleet's 700,000). Every one of them is in written: a sweep only drops a series its
	// refresh did not make.
	lastOrder [][]*written
	duration  time.Duration
	finished  time.Time    // when the last refresh finished
	interval  atomic.Int64 // Loop's, in nanoseconds, for strata_refresh_interval_seconds
	journal   *journal     // the changes of the last refreshes; it locks itself

	// collecting is set while the collection after a refresh runs; collected counts it.
	collecting atomic.Bool
	collected  sync.WaitGroup

	// watchMu guards what Watch started: its context and channel, and each watching source's
	// cancel, which SetSources calls for a source gone.
	watchMu  sync.Mutex
	watchCtx context.Context
	watched  chan struct{}
	watching map[source.Watcher]context.CancelFunc

	// inFlight holds the sources whose call runs, since when; a call abandoned by its refresh
	// stays here until it returns.
	flightMu sync.Mutex
	inFlight map[sourceKey]time.Time
}

// sourceKey names a source: an inventory is both an LB source and a facts source under one
// name, and each half keeps its own state.
type sourceKey struct{ kind, name string }

// sourceState is what strata knows of one source: its last good report and its last error.
type sourceState struct {
	kind  string // "lb" or "facts"
	lbs   []source.LB
	facts *source.FactSet
	seen  time.Time // of the last good report
	err   error     // of the last attempt
	// counted are the LB counters of the last good report, for the next one's rates; only a
	// refresh (under refreshMu) uses them.
	counted map[trafficKey]counted
	errors  int // refreshes at which it failed (strata_source_errors_total)
}

// CheckExternalLabels refuses an external label that strata's own series name already (the
// series' own would win, and the label would say nothing).
func CheckExternalLabels(ls labels.Labels) error {
	own := map[string]bool{model.MetricNameLabel: true, "source": true, staleLabel: true}
	for _, f := range families() {
		for _, l := range f.Labels {
			own[l] = true
		}
	}
	var err error
	ls.Range(func(l labels.Label) {
		if err == nil && (own[l.Name] || strings.HasPrefix(l.Name, metaLabelPrefix)) {
			err = fmt.Errorf("external label %q is a label of strata's own series: name it otherwise", l.Name)
		}
	})
	return err
}

// NewRefresher builds the loop; call Refresh or Run.
func NewRefresher(opts RefresherOptions, logger *slog.Logger) *Refresher {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.FailingErrorRatio <= 0 {
		opts.FailingErrorRatio = DefaultFailingErrorRatio
	}
	r := &Refresher{opts: opts, logger: logger, sources: map[sourceKey]*sourceState{}, written: newSeriesIndex(),
		inFlight: map[sourceKey]time.Time{}}
	for _, s := range opts.LBSources {
		r.sources[sourceKey{"lb", s.Name()}] = &sourceState{kind: "lb"}
	}
	for _, s := range opts.FactSources {
		r.sources[sourceKey{"facts", s.Name()}] = &sourceState{kind: "facts"}
	}
	r.graph = graph.New(opts.Now())
	r.journal = newJournal(journalSize, opts.Allowlist)
	r.lifecycle.Store(opts.Lifecycle)
	return r
}

// Loop refreshes every interval until ctx is done, and soon after changed (Watch's channel)
// says a watching source's view changed. The caller does the first refresh.
func (r *Refresher) Loop(ctx context.Context, interval time.Duration, changed <-chan struct{}) {
	r.interval.Store(int64(interval))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
			// A rollout is many events: let them settle into one refresh. A large cluster
			// changes all the time: waiting as long as the last refresh took (up to a
			// second, so that a change still shows within about two) keeps the loop from
			// refreshing back to back.
			select {
			case <-ctx.Done():
				return
			case <-time.After(max(settle, min(r.LastDuration(), time.Second))):
			}
			select {
			case <-changed:
			default:
			}
		}
		r.Refresh(ctx)
	}
}

// settle is how long the refresh loop waits after a watched change for more to come.
const settle = 200 * time.Millisecond

// Watch starts every source that watches (once, though it may be both an LB and a fact
// source) until ctx ends, and merges their signals into one channel that holds at most one.
// Sources that SetSources adds later watch into the same channel.
func (r *Refresher) Watch(ctx context.Context) <-chan struct{} {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	r.watchCtx, r.watched = ctx, make(chan struct{}, 1)
	r.watching = map[source.Watcher]context.CancelFunc{}
	r.rewatch()
	return r.watched
}

// rewatch starts the watching sources not watching yet and stops those no longer among the
// sources; r.watchMu is held.
func (r *Refresher) rewatch() {
	if r.watchCtx == nil {
		return // Watch was not called: nothing watches
	}
	now := map[source.Watcher]bool{}
	for _, s := range r.allSources() {
		if w, ok := s.(source.Watcher); ok {
			now[w] = true
		}
	}
	for w, cancel := range r.watching {
		if !now[w] {
			cancel()
			delete(r.watching, w)
		}
	}
	for w := range now {
		if r.watching[w] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(r.watchCtx)
		r.watching[w] = cancel
		ch, merged := w.Watch(ctx), r.watched
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					select {
					case merged <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
}

// allSources are the LB sources and the fact sources. r.refreshMu or r.watchMu is held.
func (r *Refresher) allSources() []any {
	var all []any
	for _, s := range r.opts.LBSources {
		all = append(all, s)
	}
	for _, s := range r.opts.FactSources {
		all = append(all, s)
	}
	return all
}

// SetLifecycle replaces the lifecycle policy (a configuration reloaded) from the next refresh.
func (r *Refresher) SetLifecycle(p *lifecycle.Policy) { r.lifecycle.Store(p) }

// SetSources replaces the sources (a configuration reloaded), between two refreshes: a source
// whose name and kind are kept keeps its state (its last report, stale or not), a source gone
// is forgotten (its entities leave the next graph, their series end), a new one starts with
// none; a watching source gone stops watching, a new one starts.
func (r *Refresher) SetSources(lbs []source.LoadBalancers, facts []source.Facts) {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	r.mu.Lock()
	next := map[sourceKey]*sourceState{}
	keep := func(k sourceKey) {
		if st, ok := r.sources[k]; ok {
			next[k] = st
		} else {
			next[k] = &sourceState{kind: k.kind}
		}
	}
	for _, s := range lbs {
		keep(sourceKey{"lb", s.Name()})
	}
	for _, s := range facts {
		keep(sourceKey{"facts", s.Name()})
	}
	r.sources = next
	r.opts.LBSources, r.opts.FactSources = lbs, facts
	r.mu.Unlock()
	r.rewatch()
}

// Refresh asks every source once, joins and writes the graph. A source that fails keeps its
// last report, marked stale, for StaleAfter; it never wipes the graph. A source that does not
// answer within Timeout (and a second's grace) is abandoned: it fails this refresh, saying so,
// and the others' answers are joined without it; while its call goes on in the background it
// is not asked again, so a stuck source costs one goroutine, not one per refresh. When ctx ends
// (shutdown) before the sources answered, the graph is left as it was.
func (r *Refresher) Refresh(ctx context.Context) *graph.Graph {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	start := time.Now()
	now := r.opts.Now()
	if r.opts.Global != nil {
		return r.refreshGlobal(ctx, start, now)
	}
	answers, ok := r.askSources(ctx, start, now)
	if !ok {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.graph
	}

	// The signals of the LBs' traffic, from this answer's counters and the last: only
	// refreshes, one at a time, use the counters kept, so readers need not wait for this.
	for i, res := range answers {
		if st := r.sources[res.key]; res.err == nil && res.key.kind == "lb" {
			// The signals are written into the answer: a copy of its services and instances,
			// since a source may answer the same ones every time (an inventory keeps its file's).
			res.lbs = cloneServices(res.lbs)
			answers[i] = res
			if r.opts.ScrapedTraffic != nil {
				if err := r.opts.ScrapedTraffic(ctx, res.lbs, now); err != nil {
					r.logger.Warn("read the LBs' exporter series", "source", res.key.name, "err", err)
				}
			}
			st.counted = markSignals(res.lbs, now, st.counted, r.opts.FailingErrorRatio)
		}
	}

	// The sources' state changes under the lock; the graph and its series are built outside
	// it, while readers go on with the last graph: a refresh of a large fleet takes seconds,
	// which every query would otherwise wait out.
	r.mu.Lock()
	in, warnings := r.record(answers, now)
	up := r.sourceUpSamples()
	in.Last = r.graph // only refreshes, one at a time, replace it
	r.mu.Unlock()

	in.Cluster = r.opts.ExternalLabels.Get(ClusterLabel)
	g, joinWarnings := safeJoin(in)
	warnings = append(warnings, joinWarnings...)
	up = append(up, lifecycleSamples(r.lifecycle.Load(), g, now, r.opts.ExternalLabels)...)
	// The journal diffs this graph against the last beside the write, whose appends run on
	// one core: on a large fleet the diff then adds next to nothing to the refresh's time.
	journaled := make(chan struct{})
	go func() { defer close(journaled); r.journal.observe(g, now) }()
	series, err := r.write(ctx, g, now, up)
	<-journaled
	if err != nil {
		r.logger.Error("write topology series", "err", err)
		warnings = append(warnings, "write topology series: "+err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.graph, r.warnings, r.series = g, warnings, series
	r.duration = time.Since(start)
	r.finished = time.Now()
	r.refreshed = true
	r.collectAfter()
	return g
}

// collectAfter starts a garbage collection as a refresh ends, in the time before the next. A
// large site's refresh makes a graph of hundreds of megabytes and drops the last one: left to
// the runtime, the collector starts when the heap next reaches its goal, which is in the middle
// of a later refresh, and marking a heap of over a gigabyte (its TSDB's head most of it) on the
// refresh's cores doubled the refresh's time. Collected here, each refresh starts with a whole
// goal's room and the last graph is freed at once, so the peak is lower too. One at a time.
func (r *Refresher) collectAfter() {
	if !r.collecting.CompareAndSwap(false, true) {
		return
	}
	r.collected.Add(1)
	go func() {
		defer r.collected.Done()
		defer r.collecting.Store(false)
		runtime.GC()
	}()
}

// refreshGlobal reads every site's graph from the store. A store that cannot be read keeps
// the last graph, with a warning that says why.
func (r *Refresher) refreshGlobal(ctx context.Context, start, now time.Time) *graph.Graph {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	g, warnings, err := r.opts.Global(ctx, now)
	if err == nil {
		// Before the lock, as a site's refresh does: readers go on with the last graph while
		// the journal diffs a whole estate.
		r.journal.observe(g, now)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.duration, r.finished = time.Since(start), time.Now()
	if err != nil {
		r.logger.Warn("read the sites' topology from the store", "err", err)
		r.warnings = []string{"the store cannot be read, this is the graph of the last read: " + err.Error()}
		return r.graph
	}
	r.graph, r.warnings, r.refreshed = g, warnings, true
	r.collectAfter()
	return g
}

// cloneServices copies the LBs down to their instances, which the signals are written into.
func cloneServices(lbs []source.LB) []source.LB {
	out := slices.Clone(lbs)
	for i := range out {
		out[i].Services = slices.Clone(out[i].Services)
		for j := range out[i].Services {
			out[i].Services[j].Instances = slices.Clone(out[i].Services[j].Instances)
		}
	}
	return out
}

// answer is what one source said on this refresh, or why it said nothing.
type answer struct {
	key   sourceKey
	lbs   []source.LB
	facts *source.FactSet
	err   error
}

// askSources asks every source at once, each within the refresh's timeout, and returns an
// answer of each: a source still busy with an earlier call is not asked again, and one that
// outlasts its deadline is abandoned. ok is false when ctx ended first.
func (r *Refresher) askSources(ctx context.Context, start, now time.Time) (answers []answer, ok bool) {
	results := make(chan answer, len(r.opts.LBSources)+len(r.opts.FactSources))
	asked := map[sourceKey]bool{}
	var failed []answer
	ask := func(key sourceKey, call func(context.Context) answer) {
		if since, busy := r.busy(key, start); busy {
			failed = append(failed, answer{key: key, err: fmt.Errorf("its call of %s has not returned: not asked again until it does", since.UTC().Format(time.RFC3339))})
			return
		}
		asked[key] = true
		go func() {
			c, cancel := context.WithTimeout(ctx, r.opts.Timeout)
			defer cancel()
			res := call(c)
			r.done(key)
			results <- res // buffered: a late answer is dropped with the channel
		}()
	}
	for _, s := range r.opts.LBSources {
		key := sourceKey{"lb", s.Name()}
		ask(key, func(c context.Context) answer {
			lbs, err := safely(func() ([]source.LB, error) { return s.ListLoadBalancers(c) })
			return answer{key: key, lbs: lbs, err: err}
		})
	}
	for _, s := range r.opts.FactSources {
		key := sourceKey{"facts", s.Name()}
		ask(key, func(c context.Context) answer {
			fs, err := safely(func() (*source.FactSet, error) { return s.ListFacts(c, now) })
			return answer{key: key, facts: fs, err: err}
		})
	}
	answers = make([]answer, 0, len(asked)+len(failed))
	abandon := time.NewTimer(r.opts.Timeout + stragglerGrace)
	defer abandon.Stop()
wait:
	for len(answers) < len(asked) {
		select {
		case res := <-results:
			answers = append(answers, res)
		case <-abandon.C:
			break wait
		case <-ctx.Done():
			return nil, false
		}
	}
	for _, res := range answers {
		delete(asked, res.key)
	}
	for key := range asked {
		failed = append(failed, answer{key: key, err: fmt.Errorf("no answer within %s: abandoned (its call goes on in the background)", r.opts.Timeout)})
	}
	return append(answers, failed...), true
}

// record keeps what the sources answered (a failed source keeps its last report, stale, for
// StaleAfter) and returns the join's input with the sources' warnings. r.mu is held.
func (r *Refresher) record(answers []answer, now time.Time) (join.Input, []string) {
	for _, res := range answers {
		st := r.sources[res.key]
		st.err = res.err
		if res.err != nil {
			st.errors++
			r.logger.Warn("source failed", "source", res.key.name, "kind", res.key.kind, "err", res.err)
			continue
		}
		st.lbs, st.facts, st.seen = res.lbs, res.facts, now
	}
	in := join.Input{At: now, LocalHost: r.opts.LocalHost}
	if p := r.lifecycle.Load(); p != nil {
		in.HostAttrs = func(attr func(string) string) []graph.Attr { return lifecycleAttrs(p, attr, now) }
		in.ImageAttrs = func(ref string, attr func(string) string) []graph.Attr { return imageLifecycleAttrs(p, ref, attr, now) }
	}
	var warnings []string
	for _, key := range r.sourceKeys() {
		st, name := r.sources[key], key.name
		if st.err != nil {
			// A source that is both an LB and a fact source (kubernetes, an inventory) fails
			// both halves the same way: one warning says it.
			if w := fmt.Sprintf("source %s: %v", name, st.err); !slices.Contains(warnings, w) {
				warnings = append(warnings, w)
			}
		}
		if st.seen.IsZero() {
			continue
		}
		stale := st.err != nil
		if stale && now.Sub(st.seen) > r.opts.StaleAfter {
			warnings = append(warnings, fmt.Sprintf("source %s: nothing heard for %s, its entities are dropped", name, now.Sub(st.seen).Round(time.Second)))
			continue
		}
		if st.kind == "lb" {
			in.LBs = append(in.LBs, join.LBReport{Source: name, LBs: st.lbs, Seen: st.seen, Stale: stale})
		} else {
			in.Facts = append(in.Facts, join.FactReport{Source: name, Facts: st.facts, Seen: st.seen, Stale: stale})
		}
	}
	return in, warnings
}

// stragglerGrace is how long past its timeout a source's answer is waited for: a source that
// honours its context returns within it.
const stragglerGrace = time.Second

// busy tells whether a source's call (of an earlier refresh) is still running, and since when;
// if not, it marks one running from now.
func (r *Refresher) busy(key sourceKey, now time.Time) (time.Time, bool) {
	r.flightMu.Lock()
	defer r.flightMu.Unlock()
	if since, ok := r.inFlight[key]; ok {
		return since, true
	}
	r.inFlight[key] = now
	return time.Time{}, false
}

// done marks a source's call returned.
func (r *Refresher) done(key sourceKey) {
	r.flightMu.Lock()
	defer r.flightMu.Unlock()
	delete(r.inFlight, key)
}

// safeJoin joins; a bug in the join costs one refresh's graph (empty, with a warning), not
// the process.
func safeJoin(in join.Input) (g *graph.Graph, warnings []string) {
	defer func() {
		if p := recover(); p != nil {
			g, warnings = graph.New(in.At), []string{fmt.Sprintf("join panicked: %v", p)}
		}
	}()
	return join.Build(in)
}

// safely turns a source's panic into its error: one broken source must not stop the loop.
func safely[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("source panicked: %v", p)
		}
	}()
	return f()
}

// sourceKeys lists the sources by name, then kind.
func (r *Refresher) sourceKeys() []sourceKey {
	keys := make([]sourceKey, 0, len(r.sources))
	for k := range r.sources {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].kind < keys[j].kind
	})
	return keys
}

// sourceUpSamples is strata_topology_source_up for each source name: 0 when any half of it
// failed.
func (r *Refresher) sourceUpSamples() []store.Sample {
	var out []store.Sample
	keys := r.sourceKeys()
	for i, key := range keys {
		if i > 0 && keys[i-1].name == key.name {
			continue
		}
		up := 1.0
		for _, k := range keys[i:] {
			if k.name == key.name && r.sources[k].err != nil {
				up = 0
			}
		}
		b := labels.NewBuilder(labels.FromStrings(model.MetricNameLabel, sourceUpName, "source", key.name))
		r.opts.ExternalLabels.Range(func(l labels.Label) { b.Set(l.Name, l.Value) })
		out = append(out, store.Sample{Labels: b.Labels(), Value: up})
	}
	if r.opts.Writer != "" {
		b := labels.NewBuilder(labels.FromStrings(model.MetricNameLabel, writerInfoName, "writer", r.opts.Writer))
		r.opts.ExternalLabels.Range(func(l labels.Label) { b.Set(l.Name, l.Value) })
		// The replica label again under a name of its own: a store that deduplicates an HA
		// pair drops `replica` from what it answers, and the pair would look like two sites.
		if rep := r.opts.ExternalLabels.Get(replicaLabel); rep != "" {
			b.Set(writerReplicaLabel, rep)
		}
		out = append(out, store.Sample{Labels: b.Labels(), Value: 1})
	}
	return out
}

// write builds this refresh's series, keeps them for /metrics, and appends to the storage
// each one that is new or changed, or that was last written a heartbeat ago, and a staleness
// marker for each series of the last refresh that is gone, so that a query at a later time
// does not see it for five more minutes (the instance removed really is removed). A series
// already written keeps its labels from then: a steady refresh of a large fleet allocates
// next to nothing for its series. It commits in batches: one transaction of a large fleet's
// series would hold them all in one WAL record.
func (r *Refresher) write(ctx context.Context, g *graph.Graph, now time.Time, up []store.Sample) ([]store.Sample, error) {
	r.epoch++
	ts := now.UnixMilli()
	w := &batchWriter{sink: r.opts.Sink, ctx: ctx, ts: ts}
	// Room for the last refresh's count: most refreshes change little.
	series := make([]store.Sample, 0, r.writtenCount+len(up))
	seen := 0 // distinct written series of this refresh: when all are seen, none vanished
	keep := func(last *written, v float64, always bool) {
		if last.epoch != r.epoch {
			seen++
		}
		last.epoch = r.epoch
		series = append(series, store.Sample{Labels: last.labels, Value: v})
		// A series never written has at math.MinInt64, which ts-at would overflow into a
		// "recent" sample: its first value, 0 (a source down from the start), was never written.
		if !always && last.at != math.MinInt64 && last.value == v && ts-last.at < heartbeat.Milliseconds() {
			return // unchanged and recent: no sample needed yet
		}
		if ref, ok := w.append(last.ref, last.labels, v); ok {
			last.ref, last.at, last.value = ref, ts, v
		}
	}
	found := r.findSeries(g)
	if len(r.lastOrder) != len(found) {
		r.lastOrder = make([][]*written, len(found))
	}
	for i, fam := range found {
		order := r.lastOrder[i][:0]
		for _, f := range fam {
			if f.known.epoch == 0 { // new: hashed again, which only a new series costs
				r.written.add(f.known.labels.Hash(), f.known)
				r.writtenCount++
			}
			keep(f.known, f.value, false)
			order = append(order, f.known)
		}
		r.lastOrder[i] = order
	}
	for _, s := range up {
		h := s.Labels.Hash()
		last := r.written.get(h, s.Labels)
		if last == nil {
			last = &written{labels: s.Labels, at: math.MinInt64}
			r.written.add(h, last)
			r.writtenCount++
		}
		// The writer series is written at every refresh: its newest sample is this strata's
		// clock at its last refresh, by which a global strata tells a site whose clock is off.
		keep(last, s.Value, s.Labels.Get(model.MetricNameLabel) == writerInfoName)
	}
	if seen < r.writtenCount {
		stale := math.Float64frombits(value.StaleNaN)
		r.written.sweep(r.epoch, func(gone *written) {
			w.append(gone.ref, gone.labels, stale)
			r.writtenCount--
		})
	}
	return series, w.commit()
}

// found is a series of this refresh with its value: the one written before with the same
// labels, or a new one, not yet in the index.
type found struct {
	known *written // a new one has never been kept (epoch 0): the write indexes it
	value float64
}

// findSeries builds the graph's series family by family on every core, and looks each up
// among the series written before (the index is only read here).
func (r *Refresher) findSeries(g *graph.Graph) [][]found {
	fams := families()
	out := make([][]found, len(fams))
	// The largest families first, so that the cores finish together.
	order := make([]int, len(fams))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return fams[order[a]].size(g) > fams[order[b]].size(g) })
	next := make(chan int, len(fams))
	for _, i := range order {
		next <- i
	}
	close(next)
	allowed := allowSet(r.opts.Allowlist)
	ext := r.opts.ExternalLabels
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(fams)) {
		wg.Go(func() {
			var scratch labels.Labels
			for i := range next {
				var last []*written
				if i < len(r.lastOrder) {
					last = r.lastOrder[i]
				}
				list := make([]found, 0, max(fams[i].size(g), len(last)))
				fams[i].series(g, allowed, func(b *labels.ScratchBuilder, v float64) {
					if ext.Len() > 0 {
						ext.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
						b.Sort()
					}
					b.Overwrite(&scratch)
					if n := len(list); n < len(last) && labels.Equal(last[n].labels, scratch) {
						list = append(list, found{known: last[n], value: v})
						return
					}
					w := r.written.get(scratch.Hash(), scratch)
					if w == nil {
						w = &written{labels: scratch.Copy(), at: math.MinInt64}
					}
					list = append(list, found{known: w, value: v})
				})
				out[i] = list
			}
		})
	}
	wg.Wait()
	return out
}

// batchWriter appends to the storage and commits every batch samples; the first error
// ends the writes of the refresh.
type batchWriter struct {
	sink storage.Appendable
	ctx  context.Context
	ts   int64
	app  storage.Appender
	n    int
	err  error
}

const batch = 20_000

func (w *batchWriter) append(ref storage.SeriesRef, ls labels.Labels, v float64) (storage.SeriesRef, bool) {
	if w.sink == nil {
		return ref, true
	}
	if w.err != nil {
		return ref, false
	}
	if w.app == nil {
		w.app = w.sink.Appender(w.ctx)
	}
	got, err := w.app.Append(ref, ls, w.ts, v)
	if err != nil {
		_ = w.app.Rollback()
		w.app, w.err = nil, err
		return ref, false
	}
	if w.n++; w.n%batch == 0 {
		w.err = w.app.Commit()
		w.app = nil
	}
	return got, w.err == nil
}

func (w *batchWriter) commit() error {
	if w.app != nil && w.err == nil {
		w.err = w.app.Commit()
	}
	return w.err
}

// heartbeat is how often a series that did not change is written again. Every new, changed or
// vanished series is written at once; an unchanged one only needs a sample within a query's
// lookback (Prometheus's 5m) to be seen at any time, and writing each of a large fleet's
// series every refresh would cost most of the refresh.
const heartbeat = time.Minute

// written is a series as last written: the storage's reference to it, which saves the
// storage a lookup by labels (as Prometheus's scrape cache does), its last sample, and the
// refresh that last had it.
type written struct {
	labels labels.Labels
	ref    storage.SeriesRef
	at     int64 // milliseconds
	value  float64
	epoch  uint64
}

// seriesIndex finds a written series by its labels' hash; it lives across refreshes, so a
// steady refresh changes it in place instead of building a new one. Two series of one 64-bit
// hash are rare: the second and later are kept apart, so that a written series needs no link
// to the next (48 bytes each instead of 64, for a fleet's 700,000).
type seriesIndex struct {
	one  map[uint64]*written
	more map[uint64][]*written
}

func newSeriesIndex() seriesIndex {
	return seriesIndex{one: map[uint64]*written{}, more: map[uint64][]*written{}}
}

func (x seriesIndex) get(h uint64, ls labels.Labels) *written {
	if w := x.one[h]; w != nil && labels.Equal(w.labels, ls) {
		return w
	}
	for _, w := range x.more[h] {
		if labels.Equal(w.labels, ls) {
			return w
		}
	}
	return nil
}

func (x seriesIndex) add(h uint64, w *written) {
	if x.one[h] == nil {
		x.one[h] = w
	} else {
		x.more[h] = append(x.more[h], w)
	}
}

// sweep removes the series not seen in epoch, calling gone for each.
func (x seriesIndex) sweep(epoch uint64, gone func(*written)) {
	for h, w := range x.one {
		others := x.more[h]
		if w.epoch == epoch && len(others) == 0 {
			continue
		}
		var kept []*written
		for _, w := range append([]*written{w}, others...) {
			if w.epoch == epoch {
				kept = append(kept, w)
			} else {
				gone(w)
			}
		}
		delete(x.more, h)
		if len(kept) == 0 {
			delete(x.one, h)
			continue
		}
		x.one[h] = kept[0]
		if len(kept) > 1 {
			x.more[h] = kept[1:]
		}
	}
}

// Graph returns the latest graph and its warnings.
func (r *Refresher) Graph() (*graph.Graph, []string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.graph, append([]string(nil), r.warnings...)
}

// Refreshed tells whether a refresh has finished since the start.
func (r *Refresher) Refreshed() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.refreshed
}

// Samples returns the latest refresh's series.
func (r *Refresher) Samples() []store.Sample {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.series
}

// SourceStatus is one source's state for the API.
type SourceStatus struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Up       bool      `json:"up"`
	LastSeen time.Time `json:"last_seen"`
	Error    string    `json:"error,omitempty"`
}

// Sources returns each source's state.
func (r *Refresher) Sources() []SourceStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []SourceStatus
	for _, key := range r.sourceKeys() {
		st := r.sources[key]
		s := SourceStatus{Name: key.name, Kind: st.kind, Up: st.err == nil && !st.seen.IsZero(), LastSeen: st.seen}
		if st.err != nil {
			s.Error = st.err.Error()
		}
		out = append(out, s)
	}
	return out
}

// LastFinished is when the last refresh finished; zero before the first.
func (r *Refresher) LastFinished() time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.finished
}

// LastDuration is how long the last refresh took.
func (r *Refresher) LastDuration() time.Duration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.duration
}
