// Package source says what the topology needs from outside, as small interfaces that each
// provider package (haproxy, caddy, nginx, inventory, metrics, kubernetes) implements.
//
// To add a source (docs/design.md, "Where a change goes"): a new package under source/ with a type implementing
// LoadBalancers or Facts (or both), its settings struct implementing Settings (provider.go: the
// keys of its sources entry, read with file:line errors, and Build), a func Provider, one line in
// server.Providers, and a test against the real program.
package source

import (
	"context"
	"fmt"
	"io"
	"time"
)

// MaxAnswerBytes bounds what a source reads of one answer of the program it asks (HAProxy's
// runtime API and stats page, Caddy's admin API): a HAProxy of 10,000 servers answers 4 MB, and
// a peer that streams forever must cost a bounded amount, not all the memory there is.
const MaxAnswerBytes = 32 << 20

// ErrAnswerTooLarge is the error of an answer cut at MaxAnswerBytes.
var ErrAnswerTooLarge = fmt.Errorf("answer larger than %d bytes", MaxAnswerBytes)

// LimitReader reads r up to n bytes, then fails with ErrAnswerTooLarge (where io.LimitReader
// would end quietly, and a parser take the cut for the whole).
func LimitReader(r io.Reader, n int64) io.Reader { return &limitedReader{r: r, left: n} }

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells an answer that ends here from one that goes on.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, ErrAnswerTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// LoadBalancers lists load balancers with their services and instances: HAProxy's backends
// and servers, Caddy's and nginx's upstreams, the inventory's pools.
type LoadBalancers interface {
	// Name is the source's name, as strata_topology_source_up{source} shows it.
	Name() string
	ListLoadBalancers(ctx context.Context) ([]LB, error)
}

// Facts lists what hosts and containers are: from the exporters' series in the TSDB, from the
// inventory.
type Facts interface {
	Name() string
	ListFacts(ctx context.Context, at time.Time) (*FactSet, error)
}

// LB is one load balancer as a source reports it.
type LB struct {
	Name      string
	Provider  string   // haproxy, caddy, nginx, aws-alb, …
	Addresses []string // where clients reach it (frontends)
	// Host is the host the LB runs on where known; a loopback backend address belongs to it.
	// Empty means this host for sources read on the local machine.
	Host string
	// NoHost says the LB runs on no one host (a Kubernetes cluster's kube-proxy, an Ingress
	// served by many controllers): it gets no host, and a loopback backend resolves nowhere.
	NoHost   bool
	Labels   map[string]string
	Services []Service
}

// Service is a pool of instances behind an LB: a HAProxy backend, an upstream.
type Service struct {
	Name      string
	Namespace string
	Labels    map[string]string
	Instances []Instance
	// Traffic is what the LB counts of the service as a whole (HAProxy's backend row); nil
	// when it counts nothing.
	Traffic Traffic
	// TrafficAt is when the LB counted Traffic, where that is not when the source answered (a
	// scraped sample's time); zero: when it answered.
	TrafficAt time.Time
	// TrafficNote says why Traffic is nil, where the source knows (Caddy's metrics are off on
	// the server): the refresh shows it as signal_note, so that no number is not read as zero.
	TrafficNote string
	// Signals are the service's attributes made from Traffic by the refresh (Signals).
	Signals Signals
	// Of names the LB of the same source that owns this service when this LB only fronts it
	// (an Ingress or a Service of type LoadBalancer in front of a cluster Service): the join
	// links this LB to that service instead of making another one. Such a service lists no
	// instances of its own.
	Of string
}

// Health of an instance, normalised across sources.
const (
	HealthUp      = "UP"
	HealthDown    = "DOWN"
	HealthMaint   = "MAINT"
	HealthDrain   = "DRAIN"
	HealthUnknown = "UNKNOWN"
)

// Instance is one backend of a service, in the LB's own order.
type Instance struct {
	Name     string // the LB's own name for it (HAProxy server name); may be empty
	Address  string // IP address or host name
	Port     int
	Position int // order in the service, from 0, as the LB lists it
	Health   string
	Weight   int
	Host     string // the host it runs on where the source knows it (inventory)
	// PodUID is the pod the source says serves this instance (an EndpointSlice's targetRef):
	// the instance resolves to that pod, not to whatever now holds its IP.
	PodUID string
	Labels map[string]string
	// Traffic is what the LB counts of the instance's traffic; nil when it counts nothing (an
	// inventory, an older HAProxy). Signals are the attributes the refresh makes of it.
	Traffic Traffic
	// TrafficAt is when the LB counted Traffic, as Service.TrafficAt.
	TrafficAt time.Time
	// TrafficNote says why Traffic is nil, where the source knows (Caddy and nginx count
	// nothing per upstream), as Service.TrafficNote.
	TrafficNote string
	Signals     Signals
}

// Signals are the attributes the refresh makes of an LB's traffic, by name, in the order they
// were made: a short list, as the graph's attributes, not a map per instance.
type Signals []Signal

// Signal is one of them (req_rate, failing, signal_note, …).
type Signal struct{ Name, Value string }

// Get is the value of name, "" when it is not set.
func (s Signals) Get(name string) string {
	for _, x := range s {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// Set sets name to value, in place when it is set already.
func (s *Signals) Set(name, value string) {
	for i := range *s {
		if (*s)[i].Name == name {
			(*s)[i].Value = value
			return
		}
	}
	*s = append(*s, Signal{name, value})
}

// Map is a copy as a map.
func (s Signals) Map() map[string]string {
	m := make(map[string]string, len(s))
	for _, x := range s {
		m[x.Name] = x.Value
	}
	return m
}

// Traffic is what an LB counts of an instance's or a service's traffic: counters since the LB
// started (TrafficRequests and the errors) and the gauges of the moment (TrafficSessions,
// TrafficResponseTime). A key is absent where the LB does not count it, never zero for unknown.
type Traffic map[string]float64

// The keys of Traffic.
const (
	TrafficRequests     = "requests"              // HTTP requests, or sessions in TCP mode (counter)
	TrafficHTTP2xx      = "http_2xx"              // responses of class 2xx (counter)
	TrafficHTTP3xx      = "http_3xx"              // responses of class 3xx (counter)
	TrafficHTTP4xx      = "http_4xx"              // responses of class 4xx (counter)
	TrafficHTTP5xx      = "http_5xx"              // responses of class 5xx (counter)
	TrafficConnErrors   = "connection_errors"     // connections to the instance that failed (counter)
	TrafficRespErrors   = "response_errors"       // responses that failed or were cut (counter)
	TrafficSessions     = "sessions"              // sessions open now (gauge)
	TrafficQueue        = "queue"                 // requests waiting for a connection now (gauge)
	TrafficResponseTime = "response_time_seconds" // the LB's recent average (gauge)
)

// TrafficCounters are the keys of Traffic that count since the LB started: a rate is made of
// two answers, and a value that went down (the LB restarted) makes none.
func TrafficCounters() []string {
	return []string{TrafficRequests, TrafficHTTP2xx, TrafficHTTP3xx, TrafficHTTP4xx, TrafficHTTP5xx, TrafficConnErrors, TrafficRespErrors}
}

// Origin says which kind of source reported a fact; conflicting facts follow its precedence.
type Origin int

// Origins from the strongest to the weakest: facts of a stronger origin win.
const (
	OriginExporter         Origin = iota // strata-exporter
	OriginNodeExporter                   // prometheus node_exporter
	OriginKubernetes                     // the Kubernetes API (a Node's status)
	OriginKubeStateMetrics               // kube-state-metrics
	OriginCAdvisor                       // cAdvisor (names containers by cgroup only)
	OriginInventory                      // the inventory file
)

func (o Origin) String() string {
	return [...]string{"strata-exporter", "node_exporter", "kubernetes", "kube-state-metrics", "cadvisor", "inventory"}[o]
}

// FactSet is what a Facts source knows.
type FactSet struct {
	Hosts      []Host
	Containers []Container
	Listeners  []Listener
	Pods       []Pod
}

// Host is what one source says of one host. Hosts from several sources are the same host
// when they share a name, hostname, machine-id or SMBIOS UUID (unless their machine-ids or
// UUIDs differ); a record with addresses alone joins the host that owns one of them.
type Host struct {
	Origin     Origin
	Name       string // the host label / node name
	Hostname   string
	MachineID  string
	SystemUUID string
	Addresses  []string
	Attrs      map[string]string // kernel_release, os_image, product_name, … (docs/design.md, "The graph")
	Labels     map[string]string
}

// Container is a running container on a host.
type Container struct {
	Origin  Origin
	Host    string
	ID      string
	Name    string
	Image   string
	ImageID string
	// ImageCreated is when the image was built; zero when not known.
	ImageCreated time.Time
	Runtime      string
	Pod          string
	Namespace    string
	PodUID       string
	Addresses    []string
	Ports        []Port
	Labels       map[string]string
}

// Port is a port a container publishes on its host.
type Port struct {
	Protocol      string
	HostIP        string
	HostPort      int
	ContainerPort int
}

// Listener is a listening socket on a host, with its process and container.
type Listener struct {
	Host        string
	Address     string
	Port        int
	PID         int
	Comm        string
	ContainerID string
	Netns       string // empty in the host's network namespace
}

// Pod is a Kubernetes pod.
type Pod struct {
	Origin      Origin
	Namespace   string
	Name        string
	UID         string
	Node        string
	IPs         []string
	HostNetwork bool
	Phase       string
	Owner       string // kind/name: Deployment/web (through its ReplicaSet), StatefulSet/db, DaemonSet/…
	Ordinal     string // the pod's ordinal in its StatefulSet; empty for other pods
	Labels      map[string]string
}

// Watcher is a source that keeps its own view from a stream of events (the Kubernetes API)
// instead of asking on each refresh. Watch starts it and returns at once; it watches until
// ctx ends, and the channel receives when its view changed, so that the refresh loop runs
// without waiting for its interval.
type Watcher interface {
	Watch(ctx context.Context) <-chan struct{}
}
