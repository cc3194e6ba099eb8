// Package collector holds strata-exporter's collectors: one file per fact family.
//
// To add a collector: write one file with a type that implements Collector, a constructor
// taking Config, and the metric families it alone emits declared beside it; add one line to
// Factories naming them; run make docs (docs/metrics.md is generated from the families); add a
// fixture root under testdata/ with a golden file.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// Config is what every collector may need: the roots facts are read under and the
// collector-specific settings parsed from flags by the main package.
type Config struct {
	ProcFS string // --path.procfs, e.g. /proc
	SysFS  string // --path.sysfs, e.g. /sys
	RootFS string // --path.rootfs, e.g. /

	// Serials enables serial numbers and the SMBIOS UUID (--collector.dmi.serials).
	Serials bool
	// StaticRefresh is how often facts that do not change (DMI, CPU model, disks) are re-read.
	StaticRefresh time.Duration
	// NetworkDeviceExclude drops interfaces whose name matches (veths of containers by default).
	NetworkDeviceExclude *regexp.Regexp
	// AddressLister lists the IP addresses of a network device; nil reads none.
	AddressLister func(device string) ([]string, error)

	// DockerSockets are Docker Engine API sockets (Docker, podman) used to enrich containers.
	DockerSockets []string
	// CRISockets are CRI API sockets (containerd, CRI-O) used to enrich containers.
	CRISockets []string
	// ContainerLabelAllowlist names container labels exported as label_<name>; "*" allows all.
	ContainerLabelAllowlist []string

	Logger *slog.Logger
	// Now is the clock; tests fix it.
	Now func() time.Time
}

func (c Config) proc(p ...string) string { return filepath.Join(append([]string{c.ProcFS}, p...)...) }
func (c Config) sys(p ...string) string  { return filepath.Join(append([]string{c.SysFS}, p...)...) }
func (c Config) root(p ...string) string { return filepath.Join(append([]string{c.RootFS}, p...)...) }

// liveProcfs tells a real procfs (this kernel's, whatever the mount point) from a copy of
// another host's files (a fixture): only on a real one may the running kernel be asked
// (uname, sock_diag in its namespaces).
func (c Config) liveProcfs() bool {
	var st unix.Statfs_t
	return unix.Statfs(c.ProcFS, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Collector reads one family of facts. Update reads what it needs under the Config's roots,
// stops when ctx is done, and emits through s. An error fails only this collector.
type Collector interface {
	Update(ctx context.Context, s *Scrape) error
}

// Factory names a collector and builds it.
type Factory struct {
	Name           string
	Help           string
	DefaultEnabled bool
	New            func(Config) (Collector, error)
	// Families are the families this collector alone emits, declared in its file; the host's
	// merged facts (strata_host_info, strata_host_hardware_info) are in metrics.go.
	Families []*Family
}

// Factories is the list of every collector, in the order of their flags' help.
func Factories() []Factory {
	return []Factory{
		{"identity", "hostname, machine-id, boot-id and boot time", true, newIdentityCollector, []*Family{hostBootTime}},
		{"kernel", "kernel release, version, build date and architecture, the kernels installed, whether a reboot is required", true, newKernelCollector, []*Family{hostRebootRequiredSince}},
		{"os", "operating system image from os-release", true, newOSCollector, []*Family{hostOSInfo, hostOSSupportEnd}},
		{"dmi", "hardware from DMI/SMBIOS, virtualization and cloud provider", true, newDMICollector, []*Family{hostSerialInfo}},
		{"cpu", "CPU model, vendor, sockets, cores and threads", true, newCPUCollector, []*Family{hostCPUInfo, hostCPUCores, hostCPUPhysicalCores, hostCPUSockets}},
		{"memory", "total memory", true, newMemoryCollector, []*Family{hostMemory}},
		{"disk", "disks: model, vendor, size, rotational, WWN", true, newDiskCollector, []*Family{diskInfo, diskSize}},
		{"network", "network interfaces and their IP addresses", true, newNetworkCollector, []*Family{networkInterfaceInfo, hostAddressInfo}},
		{"container", "containers from cgroups, enriched through Docker/podman and CRI APIs, or podman's records", true, newContainerCollector, []*Family{containerInfo, containerImageCreated, containerCPU, containerMemory, containerPids, containerAddressInfo, containerPortInfo, containerRuntimeUp}},
		{"listener", "listening TCP sockets with their process and container", true, newListenerCollector, []*Family{listenerInfo}},
	}
}

// Set is the enabled collectors, run together on each scrape.
type Set struct {
	names      []string
	collectors map[string]Collector
	logger     *slog.Logger

	// failing is each failing collector's last logged error: the same failure at every scrape
	// (no DMI on this host) is logged once as a warning, then at debug level, until it changes
	// or the collector recovers.
	failingMu sync.Mutex
	failing   map[string]string
}

// NewSet builds the named collectors from the factories.
func NewSet(cfg Config, factories []Factory, enabled []string) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	set := &Set{collectors: map[string]Collector{}, logger: cfg.Logger}
	for _, f := range factories {
		if !slices.Contains(enabled, f.Name) {
			continue
		}
		c, err := f.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", f.Name, err)
		}
		set.names = append(set.names, f.Name)
		set.collectors[f.Name] = c
	}
	for _, name := range enabled {
		if _, ok := set.collectors[name]; !ok {
			return nil, fmt.Errorf("unknown collector %q", name)
		}
	}
	return set, nil
}

// Names lists the enabled collectors.
func (set *Set) Names() []string { return set.names }

// Gather runs every collector concurrently for host and returns their metrics, the host's fact
// series and each collector's success and duration. A collector that fails or passes the
// deadline of ctx loses only its own metrics.
func (set *Set) Gather(ctx context.Context, host string) []prometheus.Metric {
	facts := newFacts()
	type result struct {
		scrape   *Scrape
		err      error
		duration time.Duration
	}
	results := make(map[string]result, len(set.names))
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, name := range set.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &Scrape{Host: host, facts: facts}
			start := time.Now()
			err := safeUpdate(ctx, set.collectors[name], s)
			if err == nil && len(s.errs) > 0 {
				err = errors.Join(s.errs...) // a series it could not build is its failure too
			}
			if err == nil && ctx.Err() != nil {
				err = fmt.Errorf("scrape deadline passed: %w", ctx.Err())
			}
			mu.Lock()
			results[name] = result{s, err, time.Since(start)}
			mu.Unlock()
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}

	mu.Lock()
	defer mu.Unlock()
	var out []prometheus.Metric
	for _, name := range set.names {
		r, finished := results[name]
		success := 0.0
		switch {
		case !finished:
			set.logger.Warn("collector did not finish before the scrape deadline", "collector", name)
		case r.err != nil:
			set.logFailure(name, r.err)
			out = append(out, r.scrape.metrics...) // partial facts are still facts
		default:
			set.logRecovery(name)
			success = 1
			out = append(out, r.scrape.metrics...)
		}
		if finished {
			out = append(out, prometheus.MustNewConstMetric(collectorDuration.desc, prometheus.GaugeValue, r.duration.Seconds(), name))
		}
		out = append(out, prometheus.MustNewConstMetric(collectorSuccess.desc, prometheus.GaugeValue, success, name))
	}
	return append(out, facts.metrics(host)...)
}

func (set *Set) logFailure(name string, err error) {
	set.failingMu.Lock()
	defer set.failingMu.Unlock()
	if set.failing == nil {
		set.failing = map[string]string{}
	}
	if last, ok := set.failing[name]; ok && last == err.Error() {
		set.logger.Debug("collector failed", "collector", name, "err", err)
		return
	}
	set.failing[name] = err.Error()
	set.logger.Warn("collector failed", "collector", name, "err", err)
}

func (set *Set) logRecovery(name string) {
	set.failingMu.Lock()
	defer set.failingMu.Unlock()
	if _, ok := set.failing[name]; ok {
		delete(set.failing, name)
		set.logger.Info("collector recovered", "collector", name)
	}
}

// safeUpdate turns a panic in a collector into its failure: one collector's bug must not take
// the whole scrape down.
func safeUpdate(ctx context.Context, c Collector, s *Scrape) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("collector panicked: %v", r)
		}
	}()
	return c.Update(ctx, s)
}

// Scrape is what one collector emits during one scrape.
type Scrape struct {
	Host    string
	facts   *facts
	metrics []prometheus.Metric
	errs    []error
}

// Emit adds one sample of family f; the host label comes first and is filled in here.
func (s *Scrape) Emit(f *Family, value float64, labelValues ...string) {
	values := make([]string, 0, len(labelValues)+1)
	if !f.NoHost {
		values = append(values, s.Host)
	}
	for _, v := range labelValues {
		values = append(values, cleanLabel(v))
	}
	m, err := prometheus.NewConstMetric(f.desc, f.Type, value, values...)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("metric %s: %w", f.Name, err))
		return
	}
	s.metrics = append(s.metrics, m)
}

// EmitMetric adds a metric built by the collector itself (label sets known only at run time).
func (s *Scrape) EmitMetric(m prometheus.Metric) { s.metrics = append(s.metrics, m) }

// Fact sets one label of a fact series (strata_host_info, strata_host_hardware_info), which
// several collectors fill together.
func (s *Scrape) Fact(f *Family, label, value string) { s.facts.set(f, label, value) }

// facts collects the labels of the fact series across collectors.
type facts struct {
	mu     sync.Mutex
	values map[*Family]map[string]string
}

func newFacts() *facts { return &facts{values: map[*Family]map[string]string{}} }

func (f *facts) set(fam *Family, label, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.values[fam] == nil {
		f.values[fam] = map[string]string{}
	}
	f.values[fam][label] = value
}

func (f *facts) metrics(host string) []prometheus.Metric {
	f.mu.Lock()
	defer f.mu.Unlock()
	fams := make([]*Family, 0, len(f.values))
	for fam := range f.values {
		fams = append(fams, fam)
	}
	if _, ok := f.values[hostInfo]; !ok {
		fams = append(fams, hostInfo) // the host is known even when every fact failed
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].Name < fams[j].Name })
	out := make([]prometheus.Metric, 0, len(fams))
	for _, fam := range fams {
		values := []string{host}
		for _, l := range fam.Labels {
			values = append(values, cleanLabel(f.values[fam][l]))
		}
		if m, err := prometheus.NewConstMetric(fam.desc, fam.Type, 1, values...); err == nil {
			out = append(out, m)
		}
	}
	return out
}
