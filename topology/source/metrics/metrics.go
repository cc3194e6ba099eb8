// Package metrics reads host and container facts from series in a Prometheus storage (the
// embedded TSDB or an external Prometheus): strata-exporter's, node_exporter's,
// kube-state-metrics' and cAdvisor's, each through a mapping table. One ingestion path serves
// them all, so users who already run node_exporter get hosts on day one.
//
// To map another exporter: add rows to the tables in mappings.go.
package metrics

import (
	"context"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/strata-obs/strata/topology/source"
)

// Source is a source.Facts over a storage.Queryable.
type Source struct {
	name     string
	q        storage.Queryable
	lookback time.Duration
}

// New reads facts from q; a series counts when it has a sample within lookback before the
// asked time (Prometheus's 5m staleness by default) and its last sample is not a staleness
// marker.
func New(name string, q storage.Queryable, lookback time.Duration) *Source {
	if lookback <= 0 {
		lookback = 5 * time.Minute
	}
	return &Source{name: name, q: q, lookback: lookback}
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// series is one series' labels and its last value at the asked time, and that sample's time.
type series struct {
	labels labels.Labels
	value  float64
	t      int64 // unix milliseconds
}

// latest returns the series named metric alive at the querier's end (maxt).
func latest(ctx context.Context, q storage.Querier, mint, maxt int64, metric string) ([]series, error) {
	set := q.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt},
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric))
	var out []series
	var it chunkenc.Iterator
	for set.Next() {
		ser := set.At()
		it = ser.Iterator(it)
		last, lastT, ok := math.NaN(), int64(0), false
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			if t > maxt {
				break
			}
			last, lastT, ok = v, t, true
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", metric, err)
		}
		if ok && !value.IsStaleNaN(last) {
			out = append(out, series{ser.Labels(), last, lastT})
		}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("select %s: %w", metric, err)
	}
	return out, nil
}

// ListFacts reads every mapped family at time at, through one querier, and assembles hosts,
// containers, listeners and pods.
func (s *Source) ListFacts(ctx context.Context, at time.Time) (*source.FactSet, error) {
	mint, maxt := at.Add(-s.lookback).UnixMilli(), at.UnixMilli()
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	b := newBuilder()
	for _, m := range hostMappings() {
		ss, err := latest(ctx, q, mint, maxt, m.metric)
		if err != nil {
			return nil, err
		}
		for _, ser := range ss {
			m.apply(b, ser)
		}
	}
	for _, m := range workloadMappings() {
		ss, err := latest(ctx, q, mint, maxt, m.metric)
		if err != nil {
			return nil, err
		}
		for _, ser := range ss {
			m.apply(b, ser.labels, ser.value)
		}
	}
	return b.build(), nil
}

// builder gathers records across families: a host is keyed by its origin and its scrape
// target (job, instance), so two hosts with the same name stay apart.
type builder struct {
	hosts      map[string]*source.Host
	containers map[string]*source.Container
	pods       map[string]*source.Pod
	podPhase   map[string]string
	podLabels  map[string]map[string]string
	listeners  []source.Listener
}

func newBuilder() *builder {
	return &builder{hosts: map[string]*source.Host{}, containers: map[string]*source.Container{},
		pods: map[string]*source.Pod{}, podPhase: map[string]string{}, podLabels: map[string]map[string]string{}}
}

func (b *builder) host(origin source.Origin, key string) *source.Host {
	k := strconv.Itoa(int(origin)) + "|" + key
	h, ok := b.hosts[k]
	if !ok {
		h = &source.Host{Origin: origin, Attrs: map[string]string{}, Labels: map[string]string{}}
		b.hosts[k] = h
	}
	return h
}

func (b *builder) container(id string) *source.Container {
	c, ok := b.containers[id]
	if !ok {
		c = &source.Container{ID: id, Labels: map[string]string{}}
		b.containers[id] = c
	}
	return c
}

func (b *builder) pod(namespace, name string) *source.Pod {
	k := namespace + "/" + name
	p, ok := b.pods[k]
	if !ok {
		p = &source.Pod{Origin: source.OriginKubeStateMetrics, Namespace: namespace, Name: name}
		b.pods[k] = p
	}
	return p
}

func (b *builder) build() *source.FactSet {
	fs := &source.FactSet{Listeners: b.listeners}
	for _, h := range b.hosts {
		if h.Name == "" && h.Hostname == "" && len(h.Addresses) == 0 {
			continue // only partial families (an address without its host_info): nothing to name it by
		}
		sort.Strings(h.Addresses)
		fs.Hosts = append(fs.Hosts, *h)
	}
	sort.Slice(fs.Hosts, func(i, j int) bool {
		a, b := fs.Hosts[i], fs.Hosts[j]
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Name+a.MachineID < b.Name+b.MachineID
	})
	for k, p := range b.pods {
		if ph, ok := b.podPhase[k]; ok {
			p.Phase = ph
		}
		if l, ok := b.podLabels[k]; ok {
			p.Labels = l
		}
		fs.Pods = append(fs.Pods, *p)
	}
	sort.Slice(fs.Pods, func(i, j int) bool {
		return fs.Pods[i].Namespace+"/"+fs.Pods[i].Name < fs.Pods[j].Namespace+"/"+fs.Pods[j].Name
	})
	for _, c := range b.containers {
		if c.Host == "" {
			if p, ok := b.pods[c.Namespace+"/"+c.Pod]; ok {
				c.Host = p.Node
			}
		}
		fs.Containers = append(fs.Containers, *c)
	}
	sort.Slice(fs.Containers, func(i, j int) bool { return fs.Containers[i].ID < fs.Containers[j].ID })
	sort.Slice(fs.Listeners, func(i, j int) bool {
		a, b := fs.Listeners[i], fs.Listeners[j]
		return fmt.Sprint(a.Host, a.Port, a.Address, a.PID) < fmt.Sprint(b.Host, b.Port, b.Address, b.PID)
	})
	return fs
}

// targetKey names the scrape target a series came from.
func targetKey(ls labels.Labels) string { return ls.Get("job") + "|" + ls.Get("instance") }

// targetAddress is the IP of the scrape target, a hint for hosts whose exporter reports no
// addresses (node_exporter): the address Prometheus reached it at.
func targetAddress(ls labels.Labels) string {
	hostport := ls.Get("instance")
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	if ip := net.ParseIP(h); ip != nil && !ip.IsLoopback() {
		return ip.String()
	}
	return ""
}

func addUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// trimRuntimePrefix turns kube-state-metrics' "containerd://<id>" into the runtime's id.
func trimRuntimePrefix(id string) (runtime, bare string) {
	if i := strings.Index(id, "://"); i >= 0 {
		return id[:i], id[i+3:]
	}
	return "", id
}
