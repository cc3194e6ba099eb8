package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/wlog"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/source"
)

// remoteWriteName is the queue's remote_name in the prometheus_remote_storage_* metrics.
const remoteWriteName = "strata"

// remoteFlushDeadline bounds how long shutdown waits for samples still queued for the store.
// Shorter than Prometheus's minute: the next refresh writes the whole graph again, and a store
// that is down must not hold strata's stop past a service manager's patience.
const remoteFlushDeadline = 5 * time.Second

// remoteWatcherStart is how long after the queue's start the first refresh waits. The queue's
// WAL reader sends only samples later than the moment its goroutine starts, and an unchanged
// series is written again only a heartbeat later: a first refresh that beat the reader would
// reach the store a minute late. No hook tells when the reader started; a second is ample for a goroutine to.
const remoteWatcherStart = time.Second

// remoteWrite is the queue that sends the topology's series to a remote store.
type remoteWrite struct {
	*remote.Storage
	started time.Time
}

// waitTailing waits until the queue surely reads the WAL, or ctx is done (false).
func (rw *remoteWrite) waitTailing(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(rw.started.Add(remoteWatcherStart))):
		return true
	}
}

// newRemoteWrite sends the series of the refresh (strata_topology_*, and the lifecycle's
// strata_lifecycle_status and strata_host_support_end_timestamp_seconds) appended to db to
// rawURL with Prometheus's
// remote write protocol, the way Prometheus does it: a queue tails the TSDB's write-ahead log,
// so a slow or dead store never slows a refresh and a backlog waits in the WAL, not in memory.
// The caller appends through storage.NewFanout(db, the returned storage), which lets the queue
// size its shards from the rate of samples coming in. The WAL also holds the exporters' raw
// series that strata scrapes: a write relabel rule keeps them local, unless exporters asks
// that they go too (with the external labels, which the queue adds as Prometheus's does).
//
// The queue's health is Prometheus's own metrics (prometheus_remote_storage_*,
// prometheus_wal_watcher_*) on reg, so the dashboards and alerts written for Prometheus's
// remote write work on strata as they are.
func newRemoteWrite(rawURL string, exporters bool, external labels.Labels, db walStorage, reg prometheus.Registerer, logger *slog.Logger) (*remoteWrite, error) {
	rw, err := remoteWriteConfig(rawURL, exporters)
	if err != nil {
		return nil, err
	}
	// No scrape manager: it is only asked for metadata, which is not sent (see remoteWriteConfig).
	s := remote.NewStorage(logger.With("component", "remote"), reg, db.StartTime, db.Dir(), remoteFlushDeadline, nil, false)
	// The series carry the external labels already (the refresh writes them so); the queue's
	// own copy of them is Prometheus's way, and costs nothing on series that have them.
	if err := s.ApplyConfig(&promconfig.Config{GlobalConfig: promconfig.GlobalConfig{ExternalLabels: external},
		RemoteWriteConfigs: []*promconfig.RemoteWriteConfig{rw}}); err != nil {
		s.Close()
		return nil, fmt.Errorf("remote write: %w", err)
	}
	// Wakes the queue's WAL reader at every commit rather than at its polling timer.
	db.SetWriteNotified(s)
	return &remoteWrite{Storage: s, started: time.Now()}, nil
}

// walStorage is what the queue needs of the TSDB whose write-ahead log it tails.
type walStorage interface {
	StartTime() (int64, error)
	Dir() string
	SetWriteNotified(wlog.WriteNotified)
}

// remoteWriteConfig is Prometheus's remote_write entry for rawURL, with its defaults (queue,
// retries, timeout, protocol 1.0, which every Prometheus-compatible receiver takes).
func remoteWriteConfig(rawURL string, exporters bool) (*promconfig.RemoteWriteConfig, error) {
	// Checked again: --prometheus.remote-write-url does not pass through the file's checks.
	u, err := url.Parse(rawURL)
	if err == nil {
		err = source.CheckHTTPURL(rawURL)
	}
	if err != nil {
		return nil, fmt.Errorf("remote write: %w", err)
	}
	rw := promconfig.DefaultRemoteWriteConfig
	rw.URL, rw.HTTPClientConfig.BasicAuth = store.WithoutUserinfo(u)
	rw.Name = remoteWriteName
	if !exporters {
		rw.WriteRelabelConfigs = []*relabel.Config{{
			SourceLabels:         model.LabelNames{model.MetricNameLabel},
			Separator:            ";",
			Regex:                relabel.MustNewRegexp("strata_topology_.*|strata_lifecycle_status|strata_host_support_end_timestamp_seconds"),
			Action:               relabel.Keep,
			NameValidationScheme: model.LegacyValidation,
		}, {
			// The topology's series are those strata writes itself, without a job: its scrape
			// of its own health (job strata-self) has a strata_topology_* name too (the
			// refresh's duration), which stays local with the rest of that scrape.
			SourceLabels:         model.LabelNames{model.JobLabel},
			Separator:            ";",
			Regex:                relabel.MustNewRegexp(""),
			Action:               relabel.Keep,
			NameValidationScheme: model.LegacyValidation,
		}}
	}
	// Metadata comes from the scrape targets, which the queue is not given (no scrape manager),
	// and passes no relabel rule: sending it would name the raw series that stay local, and the
	// topology's own series have none to send.
	rw.MetadataConfig.Send = false
	return &rw, nil
}
