package collector

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-obs/strata/internal/cgroup"
	"github.com/strata-obs/strata/internal/labelname"
)

// The families this collector alone emits.
var (
	containerInfo = family("strata_container_info",
		"A running container; container_id is the runtime's full id; value 1.", info,
		"container_id", "name", "image", "image_id", "runtime", "pod", "namespace", "pod_uid")
	containerCPU = family("strata_container_cpu_usage_seconds_total",
		"CPU time used by a container.", counter, "container_id")
	containerMemory = family("strata_container_memory_working_set_bytes",
		"Memory working set of a container (usage less inactive file cache).", gauge, "container_id")
	containerPids = family("strata_container_pids",
		"Processes and threads in a container.", gauge, "container_id")
	containerAddressInfo = family("strata_container_address_info",
		"An IP address of a container in its own network; value 1.", info,
		"container_id", "address")
	containerPortInfo = family("strata_container_port_info",
		"A port a container publishes on the host; value 1.", info,
		"container_id", "protocol", "host_ip", "host_port", "container_port")
	containerImageCreated = family("strata_container_image_created_timestamp_seconds",
		"When the image a container runs was built (its configuration's created), in seconds since the epoch.", gauge, "container_id")
	containerRuntimeUp = family("strata_container_runtime_up",
		"Whether the container runtime API used for enrichment answered (1) or not (0).", gauge,
		"runtime", "endpoint")
)

// containerCollector finds running containers by walking the cgroup hierarchy (v1, v2 or
// hybrid), reads their CPU, memory and pids usage from their cgroups, and enriches them with
// name, image, labels, addresses and published ports from the runtimes' APIs (Docker Engine
// API for Docker and podman, CRI for containerd and CRI-O) where a socket is present, and
// with name and image from podman's own records (containers/storage) where none answers.
type containerCollector struct {
	cfg      Config
	runtimes []*runtimeCache
	states   *runcStates
	storage  *containerStorage
	files    *cgroupFiles
	allow    map[string]bool
	allowAll bool
}

// containerMeta is what a runtime's API adds to a container found in the cgroups.
type containerMeta struct {
	Name, Image, ImageID, Runtime string
	ImageCreated                  time.Time // when the image was built; zero when unknown
	Pod, Namespace, PodUID        string
	Labels                        map[string]string
	Addresses                     []string
	Ports                         []containerPort
	Sandbox                       bool // a Kubernetes pod sandbox (pause) container
}

type containerPort struct {
	Protocol, HostIP        string
	HostPort, ContainerPort int
}

// containerRuntimeAPI is a runtime that lists its running containers by full id.
type containerRuntimeAPI interface {
	Runtime() string
	Endpoint() string
	List(ctx context.Context) (map[string]containerMeta, error)
}

func newContainerCollector(cfg Config) (Collector, error) {
	c := &containerCollector{cfg: cfg, allow: map[string]bool{}, states: newRuncStates(cfg.RootFS), files: newCgroupFiles(),
		storage: newContainerStorage(cfg.RootFS, cfg.Logger)}
	for _, l := range cfg.ContainerLabelAllowlist {
		if l == "*" {
			c.allowAll = true
		}
		c.allow[l] = true
	}
	for _, sock := range cfg.DockerSockets {
		c.runtimes = append(c.runtimes, &runtimeCache{api: newDockerAPI(cfg.root(sock), sock), now: cfg.now, logger: cfg.Logger})
	}
	for _, sock := range cfg.CRISockets {
		c.runtimes = append(c.runtimes, &runtimeCache{api: newCRIAPI(cfg.root(sock), sock), now: cfg.now, logger: cfg.Logger})
	}
	return c, nil
}

func (c *containerCollector) Update(ctx context.Context, s *Scrape) error {
	h, err := findCgroupHierarchy(c.cfg.sys("fs/cgroup"))
	if err != nil {
		return err
	}
	found, err := h.discover(ctx, c.states.byCgroup(h.stateKey()))
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	metas := c.enrich(ctx, s, ids)

	// Usage is a few small reads per container: on a host with a thousand containers, read
	// them on several threads.
	usages := make([]containerUsage, len(ids))
	usageErrs := make([]error, len(ids))
	c.readUsages(ctx, h, func(i int) string {
		if metas[ids[i]].Sandbox {
			return ""
		}
		return found[ids[i]].path
	}, usages, usageErrs)
	for i, id := range ids {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ref := found[id]
		m := metas[id]
		if m.Sandbox {
			continue
		}
		usage, err := usages[i], usageErrs[i]
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGone) {
				continue // the container exited mid-scrape
			}
			return fmt.Errorf("usage of container %s: %w", cgroup.ShortID(id), err)
		}
		c.emit(s, id, ref.ContainerRef, m, usage)
	}
	return nil
}

// enrich asks each container runtime's API what it knows of the containers (names, images,
// pods, addresses, ports), the first runtime to know one winning, and says which APIs
// answered; a container no API names an image of is looked up in containers/storage.
func (c *containerCollector) enrich(ctx context.Context, s *Scrape, ids []string) map[string]containerMeta {
	metas := map[string]containerMeta{}
	for _, rt := range c.runtimes {
		known, up := rt.lookup(ctx, ids)
		if !up.present {
			continue // no socket on this host: not a failure
		}
		s.Emit(containerRuntimeUp, boolFloat(up.ok), rt.api.Runtime(), rt.api.Endpoint())
		for id, m := range known {
			if _, seen := metas[id]; !seen {
				metas[id] = m
			}
		}
	}
	for _, id := range ids {
		m := metas[id]
		if m.Image != "" {
			continue
		}
		bundle := c.states.bundle(id)
		if bundle == "" {
			continue
		}
		if rec, ok := c.storage.lookup(id, bundle); ok {
			m.Name = cmp.Or(m.Name, rec.Name)
			m.Image, m.ImageID, m.ImageCreated = rec.Image, rec.ImageID, rec.ImageCreated
			metas[id] = m
		}
	}
	c.storage.keep(ids)
	return metas
}

// emit writes one container's series: what its cgroup and the runtime say of it, its usage.
func (c *containerCollector) emit(s *Scrape, id string, ref cgroup.ContainerRef, m containerMeta, usage containerUsage) {
	runtime := cmp.Or(m.Runtime, ref.Runtime)
	podUID := cmp.Or(m.PodUID, ref.PodUID)
	s.Emit(containerInfo, 1, id, m.Name, m.Image, m.ImageID, runtime, m.Pod, m.Namespace, podUID)
	if !m.ImageCreated.IsZero() {
		s.Emit(containerImageCreated, float64(m.ImageCreated.Unix()), id)
	}
	if usage.cpuSeconds >= 0 {
		s.Emit(containerCPU, usage.cpuSeconds, id)
	}
	if usage.workingSet >= 0 {
		s.Emit(containerMemory, usage.workingSet, id)
	}
	if usage.pids >= 0 {
		s.Emit(containerPids, usage.pids, id)
	}
	for _, a := range m.Addresses {
		s.Emit(containerAddressInfo, 1, id, a)
	}
	for _, p := range m.Ports {
		s.Emit(containerPortInfo, 1, id, p.Protocol, p.HostIP, strconv.Itoa(p.HostPort), strconv.Itoa(p.ContainerPort))
	}
	if metric := c.labelsMetric(s.Host, id, m.Labels); metric != nil {
		s.EmitMetric(metric)
	}
}

// readUsages reads the usage of the containers at the paths path(i) returns ("" to skip),
// with the usage files kept open from scrape to scrape.
func (c *containerCollector) readUsages(ctx context.Context, h *cgroupHierarchy, path func(i int) string, usages []containerUsage, errs []error) {
	c.files.begin()
	defer c.files.end()
	forEachParallel(ctx, len(usages), func(i int) {
		if p := path(i); p != "" {
			usages[i], errs[i] = h.usage(c.files.read, p)
		}
	})
}

// labelsMetric is strata_container_labels with one label_<name> per allow-listed container
// label, as kube-state-metrics' kube_pod_labels; nil when none is allowed.
func (c *containerCollector) labelsMetric(host, id string, labels map[string]string) prometheus.Metric {
	names := []string{"host", "container_id"}
	values := []string{host, id}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if c.allowAll || c.allow[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		name := "label_" + labelname.Sanitize(k)
		if seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
		values = append(values, cleanLabel(labels[k]))
	}
	desc := prometheus.NewDesc(containerLabelsName, containerLabelsHelp, names, nil)
	m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, 1, values...)
	if err != nil {
		return nil
	}
	return m
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// runtimeCache keeps the last list of a runtime's containers; it asks again when a container
// it does not know appears in the cgroups (at most every 2 s) and otherwise every 30 s.
type runtimeCache struct {
	logger *slog.Logger
	api    containerRuntimeAPI
	now    func() time.Time
	mu     sync.Mutex
	metas  map[string]containerMeta
	at     time.Time
	up     runtimeStatus
}

type runtimeStatus struct{ present, ok bool }

var errNoSocket = errors.New("no runtime socket")

func (rc *runtimeCache) lookup(ctx context.Context, ids []string) (map[string]containerMeta, runtimeStatus) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	age := rc.now().Sub(rc.at)
	missing := false
	for _, id := range ids {
		if _, ok := rc.metas[id]; !ok {
			missing = true
			break
		}
	}
	if rc.at.IsZero() || age > 30*time.Second || missing && age > 2*time.Second {
		// A slow runtime API must not cost the scrape its containers: ask for at most half
		// the time left, and keep the last answer when it does not come.
		timeout := 3 * time.Second
		if deadline, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(deadline)/2)
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		metas, err := rc.api.List(lctx)
		cancel()
		rc.at = rc.now()
		switch {
		case errors.Is(err, errNoSocket):
			rc.up = runtimeStatus{}
		case err != nil:
			rc.up = runtimeStatus{present: true}
			if rc.logger != nil {
				rc.logger.Warn("container runtime API failed; containers keep their last known names", "endpoint", rc.api.Endpoint(), "err", err)
			}
		default:
			rc.metas, rc.up = metas, runtimeStatus{present: true, ok: true}
		}
	}
	return rc.metas, rc.up
}

// cgroupHierarchy is where containers are discovered and where their usage is read.
type cgroupHierarchy struct {
	v2        bool
	discovery string // root walked to find containers
	cpu       string // cpuacct (v1) or the unified root (v2)
	memory    string
	pids      string
}

var errGone = errors.New("cgroup gone")

// findCgroupHierarchy tells cgroup v2 (one unified tree) from v1 and hybrid (a tree per
// controller, plus systemd's unified tree that holds no controllers) and picks the trees.
func findCgroupHierarchy(root string) (*cgroupHierarchy, error) {
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return &cgroupHierarchy{v2: true, discovery: root, cpu: root, memory: root, pids: root}, nil
	}
	first := func(names ...string) string {
		for _, n := range names {
			if st, err := os.Stat(filepath.Join(root, n)); err == nil && st.IsDir() {
				return filepath.Join(root, n)
			}
		}
		return ""
	}
	h := &cgroupHierarchy{
		cpu:    first("cpuacct", "cpu,cpuacct", "cpuacct,cpu"),
		memory: first("memory"),
		pids:   first("pids"),
	}
	// Discovery lists every cgroup directory on every scrape, and the kernel's cost is per
	// file: pids has the fewest (10 against memory's 30).
	h.discovery = first("pids", "memory", "cpuacct", "cpu,cpuacct", "unified", "systemd")
	if h.discovery == "" {
		return nil, fmt.Errorf("no cgroup hierarchy under %s", root)
	}
	return h, nil
}

type foundContainer struct {
	cgroup.ContainerRef
	path string // relative to the hierarchy roots
}

// stateKey names the discovery tree as runc's state.json does in cgroup_paths.
func (h *cgroupHierarchy) stateKey() string {
	if h.v2 || filepath.Base(h.discovery) == "unified" {
		return ""
	}
	return filepath.Base(h.discovery)
}

// discover walks the discovery tree; it does not descend into a container's cgroup, whose
// sub-cgroups belong to it. known names the cgroups of containers whose names do not tell
// (from runc's state), by path relative to the tree.
func (h *cgroupHierarchy) discover(ctx context.Context, known map[string]cgroup.ContainerRef) (map[string]foundContainer, error) {
	found := map[string]foundContainer{}
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		if depth > 12 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var children []string
		err := readDirNames(h.discovery+rel, func(name string, dir bool) {
			if dir {
				children = append(children, name)
			}
		})
		if err != nil {
			if rel != "" && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return fmt.Errorf("walk cgroups: %w", err)
		}
		sort.Strings(children)
		for _, name := range children {
			child := rel + "/" + name
			ref, isContainer := cgroup.ContainerRef{}, false
			if cgroup.NamesContainer(name) {
				ref, isContainer = cgroup.ParsePath(child)
			}
			if state, ok := known[child]; ok {
				if !isContainer {
					ref = state
				} else if ref.Runtime == "" || ref.Runtime == "cri" {
					ref.Runtime = state.Runtime // the name said container, the state says whose
				}
				isContainer = true
			}
			if isContainer {
				if _, dup := found[ref.ID]; !dup {
					found[ref.ID] = foundContainer{ref, child}
				}
				continue
			}
			if err := walk(child, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return found, walk("", 0)
}

type containerUsage struct{ cpuSeconds, workingSet, pids float64 }

// usage reads a container's CPU seconds, memory working set (usage less inactive file
// cache, as cAdvisor and the kubelet count it) and pids; -1 where a controller is absent.
func (h *cgroupHierarchy) usage(read cgroupReader, rel string) (containerUsage, error) {
	u := containerUsage{-1, -1, -1}
	if h.v2 {
		usec, err := readKeyValue(read, filepath.Join(h.cpu, rel, "cpu.stat"), "usage_usec")
		if err != nil {
			return u, err
		}
		if usec >= 0 {
			u.cpuSeconds = usec / 1e6
		}
		u.workingSet = workingSet(read, filepath.Join(h.memory, rel), "memory.current", "inactive_file")
	} else {
		if h.cpu != "" {
			ns, err := readUint(read, filepath.Join(h.cpu, rel, "cpuacct.usage"))
			if err != nil {
				return u, err
			}
			u.cpuSeconds = ns / 1e9
		}
		if h.memory != "" {
			u.workingSet = workingSet(read, filepath.Join(h.memory, rel), "memory.usage_in_bytes", "total_inactive_file")
		}
	}
	if h.pids != "" {
		if n, err := readUint(read, filepath.Join(h.pids, rel, "pids.current")); err == nil {
			u.pids = n
		}
	}
	return u, nil
}

// cgroupReader reads a cgroup file whole and passes its content to use, which must not keep
// it: readCgroupFileFunc, or cgroupFiles.read.
type cgroupReader func(path string, use func([]byte) error) error

// readUint reads a cgroup file holding one number.
func readUint(read cgroupReader, path string) (float64, error) {
	var s string
	err := read(path, func(b []byte) error {
		s = string(bytes.TrimSpace(bytes.Trim(b, "\x00\n")))
		return nil
	})
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, errGone
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return float64(v), nil
}

// workingSet is a cgroup's memory usage less its inactive file cache, as cAdvisor and the
// kubelet count it; -1 when the memory controller or its files are absent.
func workingSet(read cgroupReader, dir, usageFile, inactiveKey string) float64 {
	usage, err := readUint(read, filepath.Join(dir, usageFile))
	if err != nil {
		return -1
	}
	inactive, err := readKeyValue(read, filepath.Join(dir, "memory.stat"), inactiveKey)
	if err != nil {
		return -1
	}
	return max(0, usage-max(0, inactive))
}

// readKeyValue reads the value of key from "key value" lines (cpu.stat, memory.stat); -1
// when the key is absent or its value no number.
func readKeyValue(read cgroupReader, path, key string) (float64, error) {
	value := -1.0
	err := read(path, func(b []byte) error {
		for len(b) > 0 {
			var line []byte
			line, b, _ = bytes.Cut(b, []byte{'\n'})
			k, v, ok := bytes.Cut(line, []byte{' '})
			if !ok || string(k) != key {
				continue
			}
			if n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				value = float64(n)
			}
			return nil
		}
		return nil
	})
	return value, err
}

// containerFromProcCgroup finds the container of a process from /proc/<pid>/cgroup.
func containerFromProcCgroup(content string) (cgroup.ContainerRef, bool) {
	for _, line := range strings.Split(content, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if ref, ok := cgroup.ParsePath(parts[2]); ok {
			return ref, true
		}
	}
	return cgroup.ContainerRef{}, false
}
