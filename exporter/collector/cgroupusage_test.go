package collector

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCgroupUsage checks the usage read from a container's cgroup files on v1 and v2: CPU
// from the right unit, the working set from the right memory.stat key, absent controllers
// as -1 and a working set never below 0.
func TestCgroupUsage(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "cgroup.controllers"), "cpu memory pids\n")
		writeFile(t, filepath.Join(root, "c/cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
		writeFile(t, filepath.Join(root, "c/memory.current"), "10000\n")
		writeFile(t, filepath.Join(root, "c/memory.stat"), "inactive_anon 7\nactive_file 9\ninactive_file 3000\n")
		writeFile(t, filepath.Join(root, "c/pids.current"), "12\n")
		// Stats lag memory.current: inactive_file may exceed it for a moment.
		writeFile(t, filepath.Join(root, "lagging/cpu.stat"), "usage_usec 1\n")
		writeFile(t, filepath.Join(root, "lagging/memory.current"), "4096\n")
		writeFile(t, filepath.Join(root, "lagging/memory.stat"), "inactive_file 8192\n")
		// No memory or pids controller enabled for this one.
		writeFile(t, filepath.Join(root, "cpuonly/cpu.stat"), "usage_usec 1000000\n")
		h, err := findCgroupHierarchy(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			rel  string
			want containerUsage
		}{
			{"/c", containerUsage{cpuSeconds: 2.5, workingSet: 7000, pids: 12}},
			{"/lagging", containerUsage{cpuSeconds: 1e-6, workingSet: 0, pids: -1}},
			{"/cpuonly", containerUsage{cpuSeconds: 1, workingSet: -1, pids: -1}},
		} {
			got, err := h.usage(readCgroupFileFunc, tt.rel)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("usage(%s) = %+v, want %+v", tt.rel, got, tt.want)
			}
		}
		if _, err := h.usage(readCgroupFileFunc, "/gone"); err == nil {
			t.Error("usage of a removed cgroup: no error")
		}
	})
	t.Run("v1", func(t *testing.T) {
		root := copyFixture(t, filepath.Join("testdata", "docker-v1"))
		h, err := findCgroupHierarchy(filepath.Join(root, "sys/fs/cgroup"))
		if err != nil {
			t.Fatal(err)
		}
		if h.v2 || filepath.Base(h.discovery) != "pids" || filepath.Base(h.cpu) != "cpuacct" {
			t.Fatalf("hierarchy %+v, want v1 discovered through pids (fewest files per directory), CPU through the cpuacct link", h)
		}
		got, err := h.usage(readCgroupFileFunc, "/docker/d192f3c21de65a8491e84043844fd2158f30745dc777b9a299587873ac2800d7")
		if err != nil {
			t.Fatal(err)
		}
		// 23068672 in use less 3145728 total_inactive_file (not the 1048576 of inactive_file).
		want := containerUsage{cpuSeconds: 41.237712213, workingSet: 19922944, pids: 3}
		if got != want {
			t.Errorf("usage = %+v, want %+v", got, want)
		}
	})
	t.Run("no hierarchy", func(t *testing.T) {
		if h, err := findCgroupHierarchy(t.TempDir()); err == nil {
			t.Errorf("findCgroupHierarchy of an empty directory = %+v, want an error", h)
		}
	})
}

// TestContainerDiscoverySkipsVanished checks that a container whose cgroup files disappear
// between discovery and reading (it exited) is left out without failing the collector.
func TestContainerDiscoverySkipsVanished(t *testing.T) {
	root := copyFixture(t, filepath.Join("testdata", "docker-v1"))
	gone := "docker/e0f89f82c8706cb82718c9a67dea69602082ba34060e21b72bffa367ed10dae4"
	// The memory tree still lists it, the cpuacct tree no longer does.
	removeAll(t, filepath.Join(root, "sys/fs/cgroup/cpu,cpuacct", gone))
	c, err := newContainerCollector(fixtureConfig(t, root))
	if err != nil {
		t.Fatal(err)
	}
	s := &Scrape{Host: "docker-01", facts: newFacts()}
	if err := c.Update(t.Context(), s); err != nil {
		t.Fatalf("a container that exited mid-scrape fails the collector: %v", err)
	}
	out := renderMetrics(t, s.metrics)
	if strings.Contains(out, filepath.Base(gone)) {
		t.Errorf("the exited container is still reported:\n%s", out)
	}
	if n := strings.Count(out, "strata_container_info{"); n != 3 {
		t.Errorf("%d containers reported, want the 3 others:\n%s", n, out)
	}
}
