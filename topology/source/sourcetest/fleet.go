// Package sourcetest makes the synthetic fleet of docs/design.md, "Targets" that the topology's benchmarks
// run on: 10,000 hosts, 300,000 containers, 1,000 LBs with 100,000 instances.
package sourcetest

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// Fleet sizes of docs/design.md, "Targets".
const (
	Hosts               = 10_000
	LBs                 = 1_000
	ServicesPerLB       = 10 // per LB
	InstancesPerService = 10 // per service: 100k instances
	ContainersPerHost   = 30 // per host: 300k containers
)

// Synthetic is the benchmark fleet: hosts with exporter facts, containers publishing
// ports, and LBs whose instances point at those ports, as an inventory and the exporters
// would report them. Deterministic.
func Synthetic(at time.Time) (*source.FactSet, []source.LB) { return Sized(at, Hosts, LBs) }

// Sized is Synthetic with hosts hosts and lbs LBs (of ServicesPerLB services of
// InstancesPerService instances each): the same fleet, smaller.
func Sized(_ time.Time, hosts, lbs int) (*source.FactSet, []source.LB) {
	facts := &source.FactSet{}
	for h := range hosts {
		name := fmt.Sprintf("node-%05d", h)
		ip := fmt.Sprintf("10.%d.%d.%d", h/65536, h/256%256, h%256)
		facts.Hosts = append(facts.Hosts, source.Host{Origin: source.OriginExporter, Name: name, Hostname: name,
			MachineID: fmt.Sprintf("%032x", h+1), Addresses: []string{ip},
			Attrs: map[string]string{"kernel_release": []string{"5.15.0-91-generic", "6.1.0-13-amd64", "6.8.0-45-generic"}[h%3],
				"os_image":     []string{"Ubuntu 22.04.3 LTS", "Debian GNU/Linux 12 (bookworm)"}[h%2],
				"product_name": []string{"PowerEdge R640", "ProLiant DL360 Gen10", "m5.large"}[h%3]}})
		for c := range ContainersPerHost {
			id := fmt.Sprintf("%08x%056x", h, c)
			facts.Containers = append(facts.Containers, source.Container{Origin: source.OriginExporter, Host: name, ID: id,
				Name: fmt.Sprintf("app-%d", c), Image: fmt.Sprintf("registry.example/app-%d:1.%d", c%50, h%7), Runtime: "containerd",
				Ports: []source.Port{{Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 20000 + c, ContainerPort: 8080}}})
		}
	}
	var out []source.LB
	n := 0
	for l := range lbs {
		lb := source.LB{Name: fmt.Sprintf("lb-%04d", l), Provider: "haproxy"}
		for s := range ServicesPerLB {
			svc := source.Service{Name: fmt.Sprintf("svc-%d", s)}
			for i := range InstancesPerService {
				host := n % hosts
				port := 20000 + (n/hosts)%ContainersPerHost
				svc.Instances = append(svc.Instances, source.Instance{Name: fmt.Sprintf("s%d", i), Position: i, Health: "UP", Weight: 1,
					Address: fmt.Sprintf("10.%d.%d.%d", host/65536, host/256%256, host%256), Port: port})
				n++
			}
			lb.Services = append(lb.Services, svc)
		}
		out = append(out, lb)
	}
	return facts, out
}

// Static is an LB source that lists LBs: the fleet's, or a test's own.
type Static struct {
	SourceName string
	LBs        []source.LB
}

// Name is SourceName.
func (s Static) Name() string { return s.SourceName }

// ListLoadBalancers lists s.LBs.
func (s Static) ListLoadBalancers(context.Context) ([]source.LB, error) { return s.LBs, nil }

// StaticFacts is a fact source that answers Set: the fleet's hosts and containers, as an inventory
// and the exporters' series would.
type StaticFacts struct {
	SourceName string
	Set        *source.FactSet
}

// Name is SourceName.
func (s StaticFacts) Name() string { return s.SourceName }

// ListFacts answers s.Set.
func (s StaticFacts) ListFacts(context.Context, time.Time) (*source.FactSet, error) {
	return s.Set, nil
}
