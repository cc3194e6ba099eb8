package collector

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCgroupPath(t *testing.T) {
	const (
		id      = "d192f3c21de65a8491e84043844fd2158f30745dc777b9a299587873ac2800d7"
		other   = "5472dc78a08940bd3f4528cb38b4c4792751856f93b1681966d61954beb32c6f"
		uid     = "6f1c7a2e-3b4d-4c5e-9f60-718293a4b5c6"
		uidUnd  = "6f1c7a2e_3b4d_4c5e_9f60_718293a4b5c6"
		uidHex  = "6f1c7a2e3b4d4c5e9f60718293a4b5c6"
		burstSl = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnd + ".slice"
	)
	tests := []struct {
		name, path string
		want       ContainerRef
		wantOK     bool
	}{
		// Docker
		{"docker, cgroupfs driver", "/docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, systemd driver", "/system.slice/docker-" + id + ".scope", ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, no leading slash", "docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, trailing slash", "/docker/" + id + "/", ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker in docker: the innermost container", "/docker/" + other + "/docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		// podman
		{"podman, cgroupfs driver", "/libpod_parent/libpod-" + id, ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, cgroupfs driver, plain id", "/libpod_parent/" + id, ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, systemd driver", "/machine.slice/libpod-" + id + ".scope", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, its container sub-cgroup", "/machine.slice/libpod-" + id + ".scope/container", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman's conmon, cgroupfs", "/libpod_parent/libpod-conmon-" + id, ContainerRef{}, false},
		{"podman's conmon, systemd", "/machine.slice/libpod-conmon-" + id + ".scope", ContainerRef{}, false},
		// containerd under Kubernetes
		{"cri-containerd, systemd driver, burstable", burstSl + "/cri-containerd-" + id + ".scope", ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true},
		{
			"cri-containerd, systemd driver, besteffort",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{
			"cri-containerd, systemd driver, guaranteed",
			"/kubepods.slice/kubepods-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{"kubepods, cgroupfs driver", "/kubepods/burstable/pod" + uid + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uid}, true},
		{"kubepods, cgroupfs driver, guaranteed", "/kubepods/pod" + uid + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uid}, true},
		{"kubepods, pod uid without dashes", "/kubepods/besteffort/pod" + uidHex + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uidHex}, true},
		{
			"kubepods under the kubelet's --cgroup-root (kind)",
			"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{"a pod-like name outside kubepods", "/system.slice/mypod" + uidUnd + ".slice/" + id, ContainerRef{ID: id}, true},
		{"docker under Kubernetes (dockershim)", "/kubepods/burstable/pod" + uid + "/docker-" + id + ".scope", ContainerRef{ID: id, Runtime: "docker", PodUID: uid}, true},
		// CRI-O
		{"cri-o, systemd driver", burstSl + "/crio-" + id + ".scope", ContainerRef{ID: id, Runtime: "cri-o", PodUID: uid}, true},
		{"cri-o, cgroupfs driver", "/kubepods/burstable/pod" + uid + "/crio-" + id, ContainerRef{ID: id, Runtime: "cri-o", PodUID: uid}, true},
		{"cri-o's conmon", burstSl + "/crio-conmon-" + id + ".scope", ContainerRef{}, false},
		// runc
		{"runc, systemd driver", "/system.slice/runc-" + id + ".scope", ContainerRef{ID: id, Runtime: "runc"}, true},
		{"a bare 64-hex cgroup", "/" + id, ContainerRef{ID: id}, true},
		// not containers
		{"root", "/", ContainerRef{}, false},
		{"empty", "", ContainerRef{}, false},
		{"init", "/init.scope", ContainerRef{}, false},
		{"a service", "/system.slice/docker.service", ContainerRef{}, false},
		{"a session", "/user.slice/user-1000.slice/session-3.scope", ContainerRef{}, false},
		{"a pod without container", burstSl, ContainerRef{}, false},
		{"the kubepods root", "/kubepods.slice", ContainerRef{}, false},
		{"a short id", "/docker/d192f3c21de6", ContainerRef{}, false},
		{"63 hex digits", "/docker/" + id[:63], ContainerRef{}, false},
		{"65 hex digits", "/docker/" + id + "0", ContainerRef{}, false},
		{"upper case hex", "/docker/" + strings.ToUpper(id), ContainerRef{}, false},
		{"an unknown prefix", "/system.slice/lxc-" + id + ".scope", ContainerRef{}, false},
		{"a suffix other than .scope", "/system.slice/docker-" + id + ".service", ContainerRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCgroupPath(tt.path)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ParseCgroupPath(%q) = %+v, %v, want %+v, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

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
