package promql_test

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/query/promql"
)

// TestQueryAPIReader reads series back through a Prometheus query API (Prometheus's engine
// over a TSDB): each series with its last sample's value and time, and with the hint Func
// "timestamp" the times alone, the name put back; a series ended by a staleness marker is gone.
func TestQueryAPIReader(t *testing.T) {
	db := storetest.Open(t, t.TempDir())
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	app := db.Appender(context.Background())
	for _, s := range []struct {
		ls   labels.Labels
		at   time.Duration
		v    float64
		stop bool
	}{
		{labels.FromStrings("__name__", "rate_info", "server", "s0"), 0, 2.5, false},
		{labels.FromStrings("__name__", "rate_info", "server", "s0"), 30 * time.Second, 4.25, false},
		{labels.FromStrings("__name__", "rate_info", "server", "s1"), 10 * time.Second, 1, true},
	} {
		if _, err := app.Append(0, s.ls, t0.Add(s.at).UnixMilli(), s.v); err != nil {
			t.Fatal(err)
		}
		if s.stop {
			if _, err := app.Append(0, s.ls, t0.Add(s.at+time.Second).UnixMilli(), math.Float64frombits(value.StaleNaN)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	promql.NewAPI(db, promql.APIOptions{Timeout: 10 * time.Second}, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	q, err := store.QueryAPIReader(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(45 * time.Second)
	for _, c := range []struct {
		fn        string
		wantValue float64
	}{{"", 4.25}, {"timestamp", float64(t0.Add(30 * time.Second).Unix())}} {
		querier, err := q.Querier(at.Add(-5*time.Minute).UnixMilli(), at.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		set := querier.Select(context.Background(), false, &storage.SelectHints{End: at.UnixMilli(), Func: c.fn},
			labels.MustNewMatcher(labels.MatchEqual, "__name__", "rate_info"))
		var got []string
		for set.Next() {
			s := set.At()
			it := s.Iterator(nil)
			if it.Next() != chunkenc.ValFloat {
				t.Fatalf("%s: no sample", s.Labels())
			}
			ts, v := it.At()
			got = append(got, s.Labels().String())
			if ts != t0.Add(30*time.Second).UnixMilli() || v != c.wantValue {
				t.Errorf("Func %q: %s at %d = %v, want %d = %v", c.fn, s.Labels(), ts, v, t0.Add(30*time.Second).UnixMilli(), c.wantValue)
			}
		}
		if set.Err() != nil || len(got) != 1 || got[0] != `{__name__="rate_info", server="s0"}` {
			t.Errorf("Func %q: %q, %v; want s0 alone (s1 ended)", c.fn, got, set.Err())
		}
		querier.Close()
	}
}
