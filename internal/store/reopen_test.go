package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/testenv"
)

// smallDisk mounts a tmpfs of size bytes for the test: a disk that fills up.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	testenv.Root(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill takes all the free space of the file system at dir but leave bytes.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "fill")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for written := int64(0); written < free-leave; written += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	return path
}

// commitBatch appends a sample at t to each of n series of a batch, in one commit: a record
// larger than a page of the log, which a failed flush tears.
func commitBatch(s storage.Appendable, batch string, n int, t int64) error {
	app := s.Appender(context.Background())
	for i := range n {
		ls := labels.FromStrings("__name__", "strata_topology_path_info", "batch", batch, "series", fmt.Sprintf("%06d", i),
			"padding", "the labels of a path_info series are long: lb, service, server, address, host, kernel, os image")
		if _, err := app.Append(0, ls, t, 1); err != nil {
			_ = app.Rollback()
			return err
		}
	}
	return app.Commit()
}

func countSeries(t *testing.T, s storage.Queryable, batch string) int {
	t.Helper()
	q, err := s.Querier(0, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "batch", batch))
	n := 0
	for set.Next() {
		n++
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFullDiskLosesNothingWrittenAfter: a disk fills up while a large commit is logged, which
// tears its record in the write-ahead log. The storage stops writing and says why; once the
// disk has room again it reopens the TSDB (the replay's repair drops the torn record), and what
// is written afterwards survives the next start, where Prometheus's repair would delete it with
// the rest of the log after the tear.
func TestFullDiskLosesNothingWrittenAfter(t *testing.T) {
	dir := smallDisk(t, 24<<20)
	opts := store.Options{Path: filepath.Join(dir, "data")}
	s, err := store.OpenReopenable(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	if err := commitBatch(s, "before", 500, now); err != nil {
		t.Fatal(err)
	}

	// Leave less than a large commit needs: its record is torn at a page boundary.
	filler := fill(t, dir, 48<<10)
	var failed error
	for i := 0; failed == nil && i < 50; i++ {
		failed = commitBatch(s, fmt.Sprintf("during-%d", i), 2000, now+int64(i+1)*1000)
	}
	if failed == nil {
		t.Fatal("no commit failed on a full disk")
	}
	if err := s.Problem(); err == nil {
		t.Error("Problem() = nil with writes failing")
	}
	if err := commitBatch(s, "refused", 10, now+60_000); err == nil {
		t.Error("a commit succeeded while writing is stopped")
	}

	// Room again: the storage reopens itself and writes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx, 100*time.Millisecond)
	testenv.Eventually(t, 30*time.Second, "the storage writable again", func() error { return s.Problem() })
	after := time.Now().UnixMilli()
	if err := commitBatch(s, "after", 500, after); err != nil {
		t.Fatalf("a commit once the disk has room: %v", err)
	}
	if n := countSeries(t, s, "before"); n != 500 {
		t.Errorf("%d series of before the failure after the reopen, want 500", n)
	}
	fams, err := s.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var corruptions, failures float64
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "prometheus_tsdb_wal_corruptions_total":
				corruptions += m.GetCounter().GetValue()
			case "strata_storage_write_failures_total":
				failures += m.GetCounter().GetValue()
			}
		}
	}
	if failures < 1 {
		t.Errorf("strata_storage_write_failures_total = %g, want the failed commit counted", failures)
	}
	t.Logf("reopen repaired %g torn record(s); %g failed writes", corruptions, failures)
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The next start: what was written after the failure is all there.
	s2, err := store.OpenReopenable(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n := countSeries(t, s2, "after"); n != 500 {
		t.Errorf("%d series written after the disk had room are left after a restart, want 500", n)
	}
	if n := countSeries(t, s2, "before"); n != 500 {
		t.Errorf("%d series of before the failure are left after a restart, want 500", n)
	}
}

// TestStorageSpace: strata_storage_capacity_bytes and strata_storage_available_bytes are what
// the system says of --storage.path's file system (stat -f: its blocks, their size, and those
// available to an unprivileged user).
func TestStorageSpace(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenReopenable(store.Options{Path: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := func(name string) float64 {
		mfs, err := s.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	out, err := exec.Command("stat", "-f", "-c", "%b %S %a", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	var blocks, size, avail float64
	if _, err := fmt.Sscan(string(out), &blocks, &size, &avail); err != nil {
		t.Fatalf("stat -f: %q: %v", out, err)
	}
	if got := value("strata_storage_capacity_bytes"); got != blocks*size {
		t.Errorf("capacity %v, stat -f says %v", got, blocks*size)
	}
	// Others write to the same file system meanwhile: within a megabyte.
	if got := value("strata_storage_available_bytes"); got < avail*size-(1<<20) || got > avail*size+(1<<20) {
		t.Errorf("available %v, stat -f says %v", got, avail*size)
	}
}

// TestSnapshotOnFullDisk: a snapshot on a full disk fails, saying so, leaves no directory
// behind, and loses nothing of what is stored; with room again the storage writes on.
func TestSnapshotOnFullDisk(t *testing.T) {
	dir := smallDisk(t, 16<<20)
	s, err := store.OpenReopenable(store.Options{Path: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UnixMilli()
	if err := commitBatch(s, "kept", 2000, now); err != nil {
		t.Fatal(err)
	}
	filler := fill(t, dir, 0)
	if _, err := s.Snapshot("full", true); err == nil {
		t.Fatal("a snapshot on a full disk succeeded")
	} else if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("the snapshot's error does not say the disk is full: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", "full")); !os.IsNotExist(err) {
		t.Errorf("the failed snapshot left its directory: %v", err)
	}
	if n := countSeries(t, s, "kept"); n != 2000 {
		t.Errorf("%d series of 2000 after the failed snapshot", n)
	}
	// With room again the storage writes on, and a snapshot of its blocks succeeds (one of the
	// head too would preallocate a chunk segment larger than this small disk).
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := commitBatch(s, "after", 100, now+1000); err != nil {
		t.Fatalf("a write after the failed snapshot: %v", err)
	}
	if n := countSeries(t, s, "after"); n != 100 {
		t.Errorf("%d series of 100 written after the failed snapshot", n)
	}
	if _, err := s.Snapshot("room", false); err != nil {
		t.Errorf("a snapshot with room again: %v", err)
	}
}
