package topology

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/storage"
)

// storageHealth makes the embedded TSDB's failures visible: every write that fails (a full
// disk, a read-only file system) and every compaction that fails counts in
// strata_storage_write_failures_total{operation}, and /-/ready says the storage cannot be
// written until a write succeeds again. Without it, a full disk was one log line a minute
// while readiness stayed green.
type storageHealth struct {
	failures *prometheus.CounterVec
	// tsdb is the registry of the TSDB's own metrics, where its compaction failures count.
	tsdb prometheus.Gatherer

	mu      sync.Mutex
	failing error     // the last write's error, nil once a write succeeds
	since   time.Time // of the first failure of the current run
	// compactionsFailed is the TSDB's count of failed compactions as last seen, and
	// compactionFailing whether the latest change of the TSDB's counts was a failure.
	compactionsFailed, compactionsDone float64
	compactionFailing                  bool
}

func newStorageHealth(reg prometheus.Registerer, tsdb prometheus.Gatherer) *storageHealth {
	h := &storageHealth{tsdb: tsdb, failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strata_storage_write_failures_total",
		Help: "Writes into the embedded TSDB that failed (operation=write: a scrape's or a refresh's commit; operation=compaction: a block the TSDB could not write).",
	}, []string{"operation"})}
	for _, op := range []string{"write", "compaction"} {
		h.failures.WithLabelValues(op)
	}
	reg.MustRegister(h.failures)
	return h
}

// wrap counts the failures of what is appended through a.
func (h *storageHealth) wrap(a storage.Appendable) storage.Appendable { return healthAppendable{a, h} }

// wrote records the outcome of a commit.
func (h *storageHealth) wrote(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.failing = nil
		return
	}
	h.failures.WithLabelValues("write").Inc()
	if h.failing == nil {
		h.since = time.Now()
	}
	h.failing = err
}

// problem is why the storage cannot be written, or nil.
func (h *storageHealth) problem() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.failing != nil:
		return fmt.Errorf("the storage cannot be written since %s: %w", h.since.UTC().Format(time.RFC3339), h.failing)
	case h.compactionFailing:
		return errors.New("the storage's last compaction failed (prometheus_tsdb_compactions_failed_total)")
	}
	return nil
}

// watch reads the TSDB's compaction counts every interval until ctx ends.
func (h *storageHealth) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.checkCompactions()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *storageHealth) checkCompactions() {
	fams, err := h.tsdb.Gather()
	if err != nil {
		return
	}
	failed, done := counterValue(fams, "prometheus_tsdb_compactions_failed_total"), counterValue(fams, "prometheus_tsdb_compactions_total")
	h.mu.Lock()
	defer h.mu.Unlock()
	// The TSDB counts a compaction it ran whether it failed or not.
	dFailed, dRan := failed-h.compactionsFailed, done-h.compactionsDone
	if dFailed > 0 {
		h.failures.WithLabelValues("compaction").Add(dFailed)
	}
	switch {
	case dRan > dFailed:
		h.compactionFailing = false
	case dFailed > 0:
		h.compactionFailing = true
	}
	h.compactionsFailed, h.compactionsDone = failed, done
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

type healthAppendable struct {
	storage.Appendable
	h *storageHealth
}

func (a healthAppendable) Appender(ctx context.Context) storage.Appender {
	return healthAppender{a.Appendable.Appender(ctx), a.h}
}

// healthAppender reports its commit's outcome. (An append the storage refuses for the sample
// itself, out of order or too old, is the data's fault, not the storage's: not counted.)
type healthAppender struct {
	storage.Appender
	h *storageHealth
}

func (a healthAppender) Commit() error {
	err := a.Appender.Commit()
	a.h.wrote(err)
	return err
}
