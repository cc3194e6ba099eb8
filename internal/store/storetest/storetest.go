// Package storetest opens the embedded TSDB for tests that write series and read them back.
package storetest

import (
	"log/slog"
	"testing"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/strata-obs/strata/internal/store"
)

// Open opens (or creates) a TSDB in dir, closed when the test ends.
func Open(t testing.TB, dir string) *tsdb.DB {
	t.Helper()
	db, err := store.Open(store.Options{Path: dir}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
