package collector

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-obs/strata/internal/cgroup"
	"github.com/strata-obs/strata/internal/safefile"
)

// runcStates reads the OCI runtimes' own state of each running container. It finds
// containers whose cgroup names do not say they are containers: plain containerd (`ctr run`
// puts container "web" of namespace "default" in /default/web) and runc run by hand. Both
// leave a runc state.json per running container, which names its cgroups:
// /run/runc/<id>/state.json and /run/containerd/runc/<namespace>/<id>/state.json. And it
// tells each container's bundle directory (runc's and crun's state), where podman's records
// of the container and its image are found when its API is off (containerStorage).
type runcStates struct {
	rootfs  string
	mu      sync.Mutex
	cache   map[string]runcStateEntry // state file path → parsed
	bundles map[string]string         // container id → its bundle directory, as of the last byCgroup
}

type runcStateEntry struct {
	modTime     time.Time
	id          string
	cgroupPaths map[string]string // controller ("" for v2) → absolute path on the host
	bundle      string            // the bundle directory on the host; "" when the state does not say
}

// runcStateRoots are the runtimes' state directories and the runtime each belongs to; a glob
// level for containerd's namespaces. crun (podman's default runtime where cgroup v2 is)
// keeps a status file per container, named by its directory.
var runcStateRoots = []struct{ glob, runtime string }{
	{"run/runc/*/state.json", "runc"},
	{"run/containerd/runc/*/*/state.json", "containerd"},
	{"run/crun/*/status", "crun"},
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
	r.bundles = map[string]string{}
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
			if e.bundle != "" {
				r.bundles[e.id] = e.bundle
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

// bundle is the bundle directory of the container with that id, as the runtime's state
// said at the last byCgroup.
func (r *runcStates) bundle(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bundles[id]
}

// maxStateFile bounds a runtime's state file: a few kilobytes (the container's whole OCI
// configuration, for runc).
const maxStateFile = 4 << 20

// readRuncState reads runc's state.json (its id, cgroups, and the bundle among its
// configuration's labels) or crun's status file (the bundle; the id is its directory's name).
func readRuncState(path string, mod time.Time) (runcStateEntry, bool) {
	b, err := safefile.ReadFile(path, maxStateFile)
	if err != nil {
		return runcStateEntry{}, false
	}
	var st struct {
		ID          string            `json:"id"`
		CgroupPaths map[string]string `json:"cgroup_paths"`
		Config      struct {
			Labels []string `json:"labels"`
		} `json:"config"`
		Bundle string `json:"bundle"` // crun
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return runcStateEntry{}, false
	}
	if filepath.Base(path) == "status" {
		st.ID = filepath.Base(filepath.Dir(path))
	}
	if st.ID == "" {
		return runcStateEntry{}, false
	}
	for _, l := range st.Config.Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok {
			st.Bundle = b
		}
	}
	return runcStateEntry{modTime: mod, id: st.ID, cgroupPaths: st.CgroupPaths, bundle: st.Bundle}, true
}
