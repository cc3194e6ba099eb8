package collector

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-obs/strata/internal/cgroup"
)

// runcStates finds containers whose cgroup names do not say they are containers: plain
// containerd (`ctr run` puts container "web" of namespace "default" in /default/web) and runc
// run by hand. Both leave a runc state.json per running container, which names its cgroups:
// /run/runc/<id>/state.json and /run/containerd/runc/<namespace>/<id>/state.json.
type runcStates struct {
	rootfs string
	mu     sync.Mutex
	cache  map[string]runcStateEntry // state.json path → parsed
}

type runcStateEntry struct {
	modTime     time.Time
	id          string
	cgroupPaths map[string]string // controller ("" for v2) → absolute path on the host
}

// runcStateRoots are the runc state directories and the runtime each belongs to; a glob
// level for containerd's namespaces.
var runcStateRoots = []struct{ glob, runtime string }{
	{"run/runc/*/state.json", "runc"},
	{"run/containerd/runc/*/*/state.json", "containerd"},
}

func newRuncStates(rootfs string) *runcStates {
	return &runcStates{rootfs: rootfs, cache: map[string]runcStateEntry{}}
}

// byCgroup maps a container's cgroup path, relative to the root of the hierarchy whose
// directory name is hierarchy ("memory", "pids", …; "" for cgroup v2), to the container.
func (r *runcStates) byCgroup(hierarchy string) map[string]cgroup.ContainerRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]cgroup.ContainerRef{}
	seen := map[string]bool{}
	for _, root := range runcStateRoots {
		files, _ := filepath.Glob(filepath.Join(r.rootfs, root.glob))
		for _, f := range files {
			seen[f] = true
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			e, ok := r.cache[f]
			if !ok || !e.modTime.Equal(st.ModTime()) {
				if e, ok = readRuncState(f, st.ModTime()); !ok {
					continue
				}
				r.cache[f] = e
			}
			key := hierarchy
			abs, ok := e.cgroupPaths[key]
			if !ok {
				continue
			}
			marker := "/fs/cgroup"
			if hierarchy != "" {
				marker += "/" + hierarchy
			}
			i := strings.Index(abs, marker)
			if i < 0 {
				continue
			}
			rel := abs[i+len(marker):]
			if hierarchy == "" {
				rel = strings.TrimPrefix(rel, "/unified") // systemd's v2 tree on a hybrid host
			}
			out["/"+strings.Trim(rel, "/")] = cgroup.ContainerRef{ID: e.id, Runtime: root.runtime}
		}
	}
	for f := range r.cache {
		if !seen[f] {
			delete(r.cache, f)
		}
	}
	return out
}

func readRuncState(path string, mod time.Time) (runcStateEntry, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return runcStateEntry{}, false
	}
	var st struct {
		ID          string            `json:"id"`
		CgroupPaths map[string]string `json:"cgroup_paths"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.ID == "" {
		return runcStateEntry{}, false
	}
	return runcStateEntry{modTime: mod, id: st.ID, cgroupPaths: st.CgroupPaths}, true
}
