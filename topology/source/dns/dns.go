// Package dns is a source of load balancers whose services are DNS SRV records: Consul's DNS
// interface, Kubernetes headless Services, any service discovery that answers SRV. A client that
// balances by DNS sends its requests to the targets of the answer, so the answer is the LB's
// view: each target is an instance, in the order RFC 2782 gives them preference (priority
// ascending, then weight descending, then target), its address the target's A or AAAA record
// and the SRV port.
//
// An instance listed in the answer is UP: DNS-based discovery lists the instances in rotation
// (Consul answers with the passing ones only). A name that does not exist (NXDOMAIN) is a
// service without instances; a server that does not answer is the source's failure.
package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// DefaultTimeout bounds one ListLoadBalancers call when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Config says which SRV names make one LB's services, and which server to ask.
type Config struct {
	Name string // the lb's name
	// Server is the DNS server's host:port; empty: the system's resolver (/etc/resolv.conf).
	Server   string
	Services []Service
	// RefreshInterval is how long an answer is kept before the names are asked again; zero
	// asks on every refresh of the topology.
	RefreshInterval time.Duration
	Timeout         time.Duration
}

// Service is one service of the LB: an SRV name.
type Service struct {
	Name string // the service's name; empty: the SRV name without its final dot
	SRV  string // such as _http._tcp.c1ps.service.consul.
}

// Source asks a DNS server for the SRV records of each service.
type Source struct {
	cfg      Config
	resolver *net.Resolver

	mu     sync.Mutex
	cached []source.LB
	asked  time.Time
	now    func() time.Time
}

var _ source.LoadBalancers = (*Source)(nil)

// New checks cfg and returns a Source for it.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("dns source: name is empty")
	}
	if len(cfg.Services) == 0 {
		return nil, fmt.Errorf("dns source %s: no services", cfg.Name)
	}
	if cfg.Timeout < 0 || cfg.RefreshInterval < 0 {
		return nil, fmt.Errorf("dns source %s: negative duration", cfg.Name)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Services = slices.Clone(cfg.Services)
	for i, svc := range cfg.Services {
		if svc.SRV == "" {
			return nil, fmt.Errorf("dns source %s: service %d has no SRV name", cfg.Name, i)
		}
		cfg.Services[i].Name = cmp.Or(svc.Name, strings.TrimSuffix(svc.SRV, "."))
	}
	s := &Source{cfg: cfg, resolver: net.DefaultResolver, now: time.Now}
	if cfg.Server != "" {
		if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
			return nil, fmt.Errorf("dns source %s: server: want host:port", cfg.Name)
		}
		// Go's own resolver, sent to this server alone: over UDP, and over TCP when an answer
		// is truncated, as the system's resolver would.
		s.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, cfg.Server)
		}}
	}
	return s, nil
}

// Name is the source's name: the lb's.
func (s *Source) Name() string { return s.cfg.Name }

// ListLoadBalancers asks for every service's SRV records and their targets' addresses, or
// answers what it was told less than RefreshInterval ago.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && s.now().Sub(s.asked) < s.cfg.RefreshInterval {
		return s.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	lb := source.LB{Name: s.cfg.Name, Provider: "dns", NoHost: true}
	for _, svc := range s.cfg.Services {
		instances, err := s.instances(ctx, svc.SRV)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		lb.Services = append(lb.Services, source.Service{Name: svc.Name, Instances: instances})
	}
	s.cached, s.asked = []source.LB{lb}, s.now()
	return s.cached, nil
}

// instances are the targets of one SRV name, in order, with their addresses.
func (s *Source) instances(ctx context.Context, name string) ([]source.Instance, error) {
	_, records, err := s.resolver.LookupSRV(ctx, "", "", absolute(name))
	if err != nil {
		if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, nil
		}
		return nil, s.lookupError(name, err)
	}
	targets := Order(records)
	repeated := map[string]int{}
	for _, t := range targets {
		repeated[t.Target]++
	}
	out := make([]source.Instance, 0, len(targets))
	for i, t := range targets {
		host := strings.TrimSuffix(t.Target, ".")
		inst := source.Instance{Name: host, Address: host, Port: int(t.Port), Position: i, Health: source.HealthUp, Weight: int(t.Weight)}
		if repeated[t.Target] > 1 {
			inst.Name = net.JoinHostPort(host, strconv.Itoa(int(t.Port))) // one name per instance of the service
		}
		addr, err := s.address(ctx, t.Target)
		if err != nil {
			return nil, err
		}
		if addr.IsValid() {
			inst.Address = addr.String()
		}
		out = append(out, inst)
	}
	return out, nil
}

// address is the target's IPv4 address, else its IPv6 one, the lowest where it has several;
// none (the instance keeps the target's name) when the target has no address record.
func (s *Source) address(ctx context.Context, target string) (netip.Addr, error) {
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", target)
	if err != nil {
		if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return netip.Addr{}, nil
		}
		return netip.Addr{}, s.lookupError(target, err)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int {
		if a.Is4() != b.Is4() {
			if a.Is4() {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	if len(addrs) == 0 {
		return netip.Addr{}, nil
	}
	return addrs[0], nil
}

// Order sorts SRV records as clients prefer them: priority ascending, then weight descending,
// then target and port. Go's resolver shuffles records of one priority by weight, as a client
// picking one should; the instances' order must not change from one refresh to the next.
func Order(records []*net.SRV) []net.SRV {
	out := make([]net.SRV, 0, len(records))
	for _, r := range records {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b net.SRV) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(b.Weight, a.Weight),
			strings.Compare(a.Target, b.Target), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// lookupError names the server asked: Go's resolver names the first server of
// /etc/resolv.conf even when its dialer sent the question elsewhere.
func (s *Source) lookupError(name string, err error) error {
	server := cmp.Or(s.cfg.Server, "the system's resolver")
	if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) {
		return fmt.Errorf("lookup %s at %s: %s", name, server, dnsErr.Err)
	}
	return fmt.Errorf("lookup %s at %s: %w", name, server, err)
}

// absolute ends a name with a dot, so that the resolver's search domains are never tried.
func absolute(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
