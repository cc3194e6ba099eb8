package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// Storage is the embedded TSDB of strata serve and up, made to survive a write failure (a full
// disk, a read-only file system) without losing what is written after it.
//
// Why: a write-ahead log record that spans a page boundary is torn when the page's flush fails
// (tsdb/wlog's own TODO in WL.log): its first part stays in the page buffer, the rest is
// dropped. Once the disk has room again, the next flush writes that torn part and everything
// logged after it; at the next start, the replay meets the torn record and Prometheus's repair
// deletes the rest of the log from there, samples written long after the failure included.
// Prometheus itself behaves so. Here, the first failed write stops all writing (writes fail
// at once, and /-/ready says why) until a probe file can be written in the storage directory;
// then the TSDB is closed and opened again in place: the torn record is the end of the log, the
// repair drops it alone, and writing resumes on a clean log. What the disk refused is lost;
// nothing written afterwards is.
//
// Series references are tagged with the generation of the TSDB that issued them: a scraper's
// or the refresh loop's cached reference from before a reopen is dropped rather than taken for
// another series of the new head.
type Storage struct {
	opts   Options
	logger *slog.Logger
	// failures is strata_storage_write_failures_total{operation}: write (a commit) and
	// compaction (a block the TSDB could not write, from its own counter).
	failures *prometheus.CounterVec
	own      *prometheus.Registry // failures

	mu       sync.Mutex
	changed  *sync.Cond // active or draining changed
	db       *tsdb.DB   // nil while closed for a reopen that has not opened again
	reg      *prometheus.Registry
	gen      uint64
	active   int  // queriers and appenders of db not yet closed
	draining bool // a reopen waits for active to reach 0; new users wait
	notified wlog.WriteNotified

	broken       error // the failed write's error, from the first failure to the reopen
	since        time.Time
	openFailures error // the last reopen's error, while the TSDB stays closed
	// The TSDB's compaction counts as last read, and whether the latest change was a failure.
	compactionsFailed, compactionsRan float64
	compactionFailing                 bool
}

// OpenReopenable opens the TSDB at opts.Path as a Storage; its metrics and the TSDB's are
// served by Gather.
func OpenReopenable(opts Options, logger *slog.Logger) (*Storage, error) {
	s := &Storage{opts: opts, logger: logger, failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strata_storage_write_failures_total",
		Help: "Writes into the embedded TSDB that failed (operation=write: a scrape's or a refresh's commit; operation=compaction: a block the TSDB could not write).",
	}, []string{"operation"})}
	s.changed = sync.NewCond(&s.mu)
	for _, op := range []string{"write", "compaction"} {
		s.failures.WithLabelValues(op)
	}
	s.own = prometheus.NewRegistry()
	s.own.MustRegister(s.failures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strata_storage_available_bytes",
			Help: "Bytes free for strata in the file system of --storage.path (as df says: for an unprivileged user)."},
			func() float64 { avail, _ := s.space(); return avail }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strata_storage_capacity_bytes",
			Help: "The size of the file system of --storage.path."},
			func() float64 { _, size := s.space(); return size }))
	if err := s.open(); err != nil {
		return nil, err
	}
	s.logRecovered()
	return s, nil
}

// logRecovered says what the start found on disk: the blocks, and the series and time range
// the write-ahead log gave back (what a crash kept: all but the refresh or scrape it cut).
func (s *Storage) logRecovered() {
	h := s.db.Head()
	blocks := s.db.Blocks()
	args := []any{"path", s.opts.Path, "blocks", len(blocks), "head_series", h.NumSeries()}
	if len(blocks) > 0 {
		args = append(args, "blocks_from", time.UnixMilli(blocks[0].Meta().MinTime).UTC(), "blocks_to", time.UnixMilli(blocks[len(blocks)-1].Meta().MaxTime).UTC())
	}
	if h.NumSeries() > 0 {
		args = append(args, "head_from", time.UnixMilli(h.MinTime()).UTC(), "head_to", time.UnixMilli(h.MaxTime()).UTC())
	}
	if len(blocks) == 0 && h.NumSeries() == 0 {
		s.logger.Info("TSDB opened, empty", args...)
		return
	}
	s.logger.Info("TSDB opened: recovered what was written before the last stop", args...)
}

// open opens the TSDB with a registry of its own (the metrics of a TSDB cannot be registered
// twice). The caller holds mu, or is the constructor.
func (s *Storage) open() error {
	reg := prometheus.NewRegistry()
	db, err := Open(s.opts, s.logger, reg)
	if err != nil {
		return err
	}
	if s.notified != nil {
		db.SetWriteNotified(s.notified)
	}
	s.db, s.reg = db, reg
	s.gen++
	s.compactionsFailed, s.compactionsRan = 0, 0
	return nil
}

// begin takes the current TSDB for one querier or appender, waiting out a reopen; end gives
// it back.
func (s *Storage) begin() (*tsdb.DB, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.draining {
		s.changed.Wait()
	}
	if s.db == nil {
		return nil, 0, fmt.Errorf("the storage is closed: %w", s.openFailures)
	}
	s.active++
	return s.db, s.gen, nil
}

func (s *Storage) end() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	s.changed.Broadcast()
}

// Querier is the current TSDB's.
func (s *Storage) Querier(mint, maxt int64) (storage.Querier, error) {
	db, _, err := s.begin()
	if err != nil {
		return nil, err
	}
	q, err := db.Querier(mint, maxt)
	if err != nil {
		s.end()
		return nil, err
	}
	return &releasingQuerier{Querier: q, release: sync.OnceFunc(s.end)}, nil
}

// ChunkQuerier is the current TSDB's.
func (s *Storage) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	db, _, err := s.begin()
	if err != nil {
		return nil, err
	}
	q, err := db.ChunkQuerier(mint, maxt)
	if err != nil {
		s.end()
		return nil, err
	}
	return &releasingChunkQuerier{ChunkQuerier: q, release: sync.OnceFunc(s.end)}, nil
}

type releasingQuerier struct {
	storage.Querier
	release func()
}

func (q *releasingQuerier) Close() error { defer q.release(); return q.Querier.Close() }

type releasingChunkQuerier struct {
	storage.ChunkQuerier
	release func()
}

func (q *releasingChunkQuerier) Close() error { defer q.release(); return q.ChunkQuerier.Close() }

// Appender appends to the current TSDB, or fails every call while writing is stopped.
func (s *Storage) Appender(ctx context.Context) storage.Appender {
	db, gen, err := s.beginWrite()
	if err != nil {
		return failingAppender{s, err}
	}
	app := db.Appender(ctx)
	return &tracked{txn: s.txn(app, gen), app: app}
}

// AppenderV2 is Appender in Prometheus's newer interface.
func (s *Storage) AppenderV2(ctx context.Context) storage.AppenderV2 {
	db, gen, err := s.beginWrite()
	if err != nil {
		return failingV2{failingAppender{s, err}}
	}
	app := db.AppenderV2(ctx)
	return &trackedV2{txn: s.txn(app, gen), app: app}
}

// beginWrite is begin for an appender: refused while writing is stopped.
func (s *Storage) beginWrite() (*tsdb.DB, uint64, error) {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		return nil, 0, fmt.Errorf("the storage takes no writes until it can write again: %w", broken)
	}
	return s.begin()
}

func (s *Storage) txn(app storage.AppenderTransaction, gen uint64) txn {
	return txn{s: s, app: app, gen: gen, release: sync.OnceFunc(s.end)}
}

// StartTime is the current TSDB's.
func (s *Storage) StartTime() (int64, error) {
	db, _, err := s.begin()
	if err != nil {
		return 0, err
	}
	defer s.end()
	return db.StartTime()
}

// Dir is where the TSDB lives.
func (s *Storage) Dir() string { return s.opts.Path }

// SetWriteNotified wakes n at every commit, of this TSDB and of those a reopen opens.
func (s *Storage) SetWriteNotified(n wlog.WriteNotified) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notified = n
	if s.db != nil {
		s.db.SetWriteNotified(n)
	}
}

// Snapshot writes a copy of the TSDB's blocks (and, with head, of what is in memory) to
// <path>/snapshots/<name>, as Prometheus's admin API does: hard links where it can, a restore
// is the directory itself as --storage.path. A failed one (a full disk) leaves nothing behind.
func (s *Storage) Snapshot(name string, head bool) (string, error) {
	db, _, err := s.begin()
	if err != nil {
		return "", err
	}
	defer s.end()
	dir := filepath.Join(s.opts.Path, "snapshots", name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create snapshot directory: %w", err)
	}
	if err := db.Snapshot(dir, head); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create snapshot: %w", err)
	}
	return dir, nil
}

// space is what statfs says of --storage.path's file system: the bytes available to an
// unprivileged user, and its size; NaN when it cannot say (the path is gone).
func (s *Storage) space() (avail, size float64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.opts.Path, &st); err != nil {
		return math.NaN(), math.NaN()
	}
	return float64(st.Bavail) * float64(st.Frsize), float64(st.Blocks) * float64(st.Frsize) // counted in fragments
}

// Close closes the TSDB.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Gather serves strata_storage_write_failures_total and the current TSDB's own metrics
// (prometheus_tsdb_*).
func (s *Storage) Gather() ([]*dto.MetricFamily, error) {
	s.mu.Lock()
	reg := s.reg
	s.mu.Unlock()
	return prometheus.Gatherers{s.own, reg}.Gather()
}

// Problem is why the storage cannot be written, or nil: for /-/ready.
func (s *Storage) Problem() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.broken != nil:
		return fmt.Errorf("the storage cannot be written since %s: %w", s.since.UTC().Format(time.RFC3339), s.broken)
	case s.db == nil && s.openFailures != nil:
		return fmt.Errorf("the storage could not be opened again: %w", s.openFailures)
	case s.compactionFailing:
		return errors.New("the storage's last compaction failed (prometheus_tsdb_compactions_failed_total)")
	}
	return nil
}

// wrote records a commit's outcome: the first failure stops writing.
func (s *Storage) wrote(err error) {
	if err == nil {
		return
	}
	s.failures.WithLabelValues("write").Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken, s.since = err, time.Now()
		s.logger.Error("storage write failed: writing stops until the storage can be written, then the TSDB is opened again", "err", err)
	}
}

// Watch, until ctx ends, reads the TSDB's compaction counts and, while writing is stopped,
// tries every interval whether the storage can be written, and reopens the TSDB once it can.
func (s *Storage) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.checkCompactions()
		s.mu.Lock()
		broken, closed := s.broken != nil, s.db == nil && s.openFailures != nil
		s.mu.Unlock()
		if (broken || closed) && s.writable() == nil {
			if err := s.reopen(interval * 3); err != nil {
				s.logger.Error("reopen the storage", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeSize is what the probe writes: room for the log's next pages and the repair.
const probeSize = 4 << 20

// writable writes, syncs and removes a probe file in the storage directory.
func (s *Storage) writable() error {
	f, err := os.CreateTemp(s.opts.Path, ".write-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 64<<10)
	for written := 0; written < probeSize; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

// reopen closes the TSDB once its queriers and appenders are done (waiting at most wait) and
// opens it again: the replay repairs a torn record at the end of the log.
func (s *Storage) reopen(wait time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	defer func() { s.draining = false; s.changed.Broadcast() }()
	timeout := time.AfterFunc(wait, s.changed.Broadcast)
	defer timeout.Stop()
	deadline := time.Now().Add(wait)
	for s.active > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d queries or writes still use the storage after %s; trying again later", s.active, wait)
		}
		s.changed.Wait()
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.logger.Warn("close the storage to reopen it", "err", err)
		}
		s.db = nil
	}
	if err := s.open(); err != nil {
		s.openFailures = err
		return err
	}
	s.logger.Warn("storage writable again: the TSDB was opened again, the write that failed is lost, writing resumes",
		"failed_since", s.since.UTC().Format(time.RFC3339))
	s.broken, s.openFailures = nil, nil
	return nil
}

func (s *Storage) checkCompactions() {
	s.mu.Lock()
	reg := s.reg
	s.mu.Unlock()
	fams, err := reg.Gather()
	if err != nil {
		return
	}
	failed, ran := counterValue(fams, "prometheus_tsdb_compactions_failed_total"), counterValue(fams, "prometheus_tsdb_compactions_total")
	s.mu.Lock()
	defer s.mu.Unlock()
	if reg != s.reg {
		return // reopened meanwhile: counts start again
	}
	// The TSDB counts a compaction it ran whether it failed or not.
	dFailed, dRan := failed-s.compactionsFailed, ran-s.compactionsRan
	if dFailed > 0 {
		s.failures.WithLabelValues("compaction").Add(dFailed)
	}
	switch {
	case dRan > dFailed:
		s.compactionFailing = false
	case dFailed > 0:
		s.compactionFailing = true
	}
	s.compactionsFailed, s.compactionsRan = failed, ran
}

func counterValue(fams []*dto.MetricFamily, name string) float64 {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	return 0
}

// A series reference handed out is tagged in its top byte with the generation of the TSDB
// that issued it; one of another generation is not passed on.
const genShift = 56

func (s *Storage) tag(ref storage.SeriesRef, gen uint64) storage.SeriesRef {
	if ref == 0 || uint64(ref)>>genShift != 0 {
		return 0 // a head of 2^56 series is not expected; an untagged ref is only slower
	}
	return storage.SeriesRef(uint64(ref) | (gen%255+1)<<genShift)
}

func untag(ref storage.SeriesRef, gen uint64) storage.SeriesRef {
	if uint64(ref)>>genShift != gen%255+1 {
		return 0
	}
	return storage.SeriesRef(uint64(ref) & (1<<genShift - 1))
}

// txn is an appender's transaction on one TSDB: it gives the TSDB back when it commits or
// rolls back, reports the commit to the Storage, and tags and untags series references.
type txn struct {
	s       *Storage
	app     storage.AppenderTransaction
	gen     uint64
	release func()
}

func (a txn) Commit() error {
	defer a.release()
	err := a.app.Commit()
	a.s.wrote(err)
	return err
}

func (a txn) Rollback() error {
	defer a.release()
	return a.app.Rollback()
}

func (a txn) untag(ref storage.SeriesRef) storage.SeriesRef { return untag(ref, a.gen) }

func (a txn) tag(ref storage.SeriesRef, err error) (storage.SeriesRef, error) {
	return a.s.tag(ref, a.gen), err
}

// tracked is a txn of an Appender.
type tracked struct {
	txn
	app storage.Appender
}

func (a *tracked) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.tag(a.app.Append(a.untag(ref), l, t, v))
}

func (a *tracked) SetOptions(o *storage.AppendOptions) { a.app.SetOptions(o) }

func (a *tracked) AppendExemplar(ref storage.SeriesRef, l labels.Labels, e exemplar.Exemplar) (storage.SeriesRef, error) {
	return a.tag(a.app.AppendExemplar(a.untag(ref), l, e))
}

func (a *tracked) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.tag(a.app.AppendHistogram(a.untag(ref), l, t, h, fh))
}

func (a *tracked) AppendHistogramSTZeroSample(ref storage.SeriesRef, l labels.Labels, t, st int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.tag(a.app.AppendHistogramSTZeroSample(a.untag(ref), l, t, st, h, fh))
}

func (a *tracked) UpdateMetadata(ref storage.SeriesRef, l labels.Labels, m metadata.Metadata) (storage.SeriesRef, error) {
	return a.tag(a.app.UpdateMetadata(a.untag(ref), l, m))
}

func (a *tracked) AppendSTZeroSample(ref storage.SeriesRef, l labels.Labels, t, st int64) (storage.SeriesRef, error) {
	return a.tag(a.app.AppendSTZeroSample(a.untag(ref), l, t, st))
}

// trackedV2 is a txn of an AppenderV2.
type trackedV2 struct {
	txn
	app storage.AppenderV2
}

func (a *trackedV2) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	return a.tag(a.app.Append(a.untag(ref), ls, st, t, v, h, fh, opts))
}

// failingAppender fails every call with err; its commit counts as a failed write.
type failingAppender struct {
	s   *Storage
	err error
}

func (f failingAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	return 0, f.err
}

// failingV2 is failingAppender as an AppenderV2.
type failingV2 struct{ failingAppender }

func (f failingV2) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AppendV2Options) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) SetOptions(*storage.AppendOptions) {}
func (f failingAppender) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) AppendHistogramSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) AppendSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, f.err
}
func (f failingAppender) Commit() error {
	f.s.failures.WithLabelValues("write").Inc()
	return f.err
}
func (f failingAppender) Rollback() error { return nil }

var (
	_ storage.Storage     = (*Storage)(nil)
	_ prometheus.Gatherer = (*Storage)(nil)
	_ storage.Appender    = (*tracked)(nil)
	_ storage.Appender    = failingAppender{}
)
