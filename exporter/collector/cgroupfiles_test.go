package collector

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

func readString(t *testing.T, c *cgroupFiles, path string) (string, error) {
	t.Helper()
	var s string
	err := c.read(path, func(b []byte) error {
		s = string(b)
		return nil
	})
	return s, err
}

// TestCgroupFilesKeepAndRefresh checks that a kept file reads its current content, that a
// scrape closes what it did not read, and that a descriptor gone bad is opened again.
func TestCgroupFilesKeepAndRefresh(t *testing.T) {
	dir := t.TempDir()
	usage := filepath.Join(dir, "cpuacct.usage")
	pids := filepath.Join(dir, "pids.current")
	writeFile(t, usage, "100\n")
	writeFile(t, pids, "3\n")
	c := newCgroupFiles()

	c.begin()
	for path, want := range map[string]string{usage: "100\n", pids: "3\n"} {
		if got, err := readString(t, c, path); err != nil || got != want {
			t.Errorf("first read of %s = %q, %v; want %q", filepath.Base(path), got, err, want)
		}
	}
	c.end()
	if len(c.files) != 2 {
		t.Fatalf("%d files kept after the first scrape, want 2", len(c.files))
	}
	kept := c.files[usage].fd

	// The kernel rewrites the file; so does os.WriteFile, in place.
	writeFile(t, usage, "250000\n")
	c.begin()
	if got, err := readString(t, c, usage); err != nil || got != "250000\n" {
		t.Errorf("read after the file changed = %q, %v; want the new content", got, err)
	}
	c.end()
	if c.files[usage] == nil || c.files[usage].fd != kept {
		t.Error("the file was opened again instead of read through its kept descriptor")
	}
	if _, ok := c.files[pids]; ok {
		t.Error("pids.current, not read in the second scrape, is still kept")
	}

	// The descriptor fails (as a removed cgroup's reads ENODEV): the file is opened again.
	d, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(d)
	if err := syscall.Dup2(d, kept); err != nil { // now a directory: its reads fail with EISDIR
		t.Fatal(err)
	}
	c.begin()
	if got, err := readString(t, c, usage); err != nil || got != "250000\n" {
		t.Errorf("read through a failing descriptor = %q, %v; want the file opened again", got, err)
	}
	c.end()

	// The container is gone: its files too.
	removeAll(t, usage)
	c.begin()
	_, err = readString(t, c, filepath.Join(dir, "memory.stat"))
	c.end()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read of a missing file: %v, want ErrNotExist", err)
	}
	if len(c.files) != 0 {
		t.Errorf("%d files kept after a scrape that read none, want 0", len(c.files))
	}
}

func TestCgroupFilesLimit(t *testing.T) {
	dir := t.TempDir()
	c := newCgroupFiles()
	c.limit = 2
	c.begin()
	for i := range 5 {
		path := filepath.Join(dir, "f"+strings.Repeat("x", i))
		writeFile(t, path, strings.Repeat("x", i)+"\n")
		if got, err := readString(t, c, path); err != nil || got != strings.Repeat("x", i)+"\n" {
			t.Errorf("read %d = %q, %v", i, got, err)
		}
	}
	c.end()
	if len(c.files) != 2 {
		t.Errorf("%d files kept, want the limit of 2", len(c.files))
	}
}

func TestPreadWholeGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.stat")
	big := strings.Repeat("total_inactive_file 123456789\n", 1000) // 30 kB, past the pooled 4 kB
	writeFile(t, path, big)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got string
	if err := preadWhole(int(f.Fd()), path, func(b []byte) error { got = string(b); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != big {
		t.Errorf("read %d bytes, want the whole %d", len(got), len(big))
	}
}

// TestCgroupFilesOnCgroupfs checks on the real cgroupfs what cgroupFiles relies on: a kept
// descriptor reads the kernel's current value, a removed cgroup's file fails and is not read
// again, and a cgroup made again under the same path (a restarted container) is read anew.
func TestCgroupFilesOnCgroupfs(t *testing.T) {
	testenv.Root(t)
	parent, file := "", ""
	for _, cand := range []struct{ dir, file string }{
		{"/sys/fs/cgroup/cpuacct", "cpuacct.usage"},
		{"/sys/fs/cgroup/cpu,cpuacct", "cpuacct.usage"},
		{"/sys/fs/cgroup/unified", "cpu.stat"},
		{"/sys/fs/cgroup", "cpu.stat"},
	} {
		if _, err := os.Stat(filepath.Join(cand.dir, "cgroup.procs")); err == nil {
			parent, file = cand.dir, cand.file
			break
		}
	}
	if parent == "" {
		testenv.Missing(t, "no cgroupfs with CPU accounting under /sys/fs/cgroup")
	}
	dir := filepath.Join(parent, fmt.Sprintf("strata-test-%d", os.Getpid()))
	path := filepath.Join(dir, file)
	mkdir := func() {
		t.Helper()
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdir()
	t.Cleanup(func() { _ = os.Remove(dir) })

	// A busy process in the cgroup makes its CPU usage grow.
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { _ = busy.Process.Kill(); _ = busy.Wait() }
	t.Cleanup(stop)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(busy.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	usage := func(c *cgroupFiles) (float64, error) {
		c.begin()
		defer c.end()
		if file == "cpu.stat" {
			return readKeyValue(c.read, path, "usage_usec")
		}
		return readUint(c.read, path)
	}

	c := newCgroupFiles()
	first, err := usage(c)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	second, err := usage(c)
	if err != nil {
		t.Fatal(err)
	}
	if second <= first {
		t.Errorf("%s read through the kept descriptor went from %v to %v while a process was busy in it", file, first, second)
	}

	stop()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if v, err := usage(c); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read of a removed cgroup = %v, %v; want ErrNotExist", v, err)
	}
	mkdir()
	if v, err := usage(c); err != nil || v >= second {
		t.Errorf("read of the cgroup made again = %v, %v; want a fresh count below %v", v, err, second)
	}
}
