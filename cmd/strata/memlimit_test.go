package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCgroupMemoryLimit reads the limit of cgroup v2 (unified and hybrid mounts) and v1, and
// none where there is none.
func TestCgroupMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		name, cgroup string
		files        map[string]string
		want         int64
	}{
		{"v2", "0::/kubepods/pod1\n", map[string]string{"kubepods/pod1/memory.max": "2147483648\n"}, 2147483648},
		{"v2 in hybrid", "4:memory:/\n0::/svc\n", map[string]string{"unified/svc/memory.max": "1073741824\n"}, 1073741824},
		{"v2 without a limit", "0::/svc\n", map[string]string{"svc/memory.max": "max\n"}, 0},
		{"v1", "4:memory:/docker/abc\n0::/\n", map[string]string{"memory/docker/abc/memory.limit_in_bytes": "536870912\n"}, 536870912},
		{"v1 without a limit", "4:memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"unreadable", "4:memory:/gone\n", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range c.files {
				path := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			proc := filepath.Join(root, "cgroup")
			if err := os.WriteFile(proc, []byte(c.cgroup), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := cgroupMemoryLimit(proc, root); got != c.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, c.want)
			}
		})
	}
}
