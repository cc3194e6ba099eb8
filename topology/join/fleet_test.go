package join

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// Fleet sizes of DESIGN.md §10.
const (
	fleetHosts      = 10_000
	fleetLBs        = 1_000
	fleetServices   = 10 // per LB
	fleetInstances  = 10 // per service: 100k instances
	fleetContainers = 30 // per host: 300k containers
)

// SyntheticFleet is the benchmark fleet: hosts with exporter facts, containers publishing
// ports, and LBs whose instances point at those ports, as an inventory and the exporters
// would report them. Deterministic.
func SyntheticFleet(at time.Time) Input {
	facts := &source.FactSet{}
	for h := range fleetHosts {
		name := fmt.Sprintf("node-%05d", h)
		ip := fmt.Sprintf("10.%d.%d.%d", h/65536, h/256%256, h%256)
		facts.Hosts = append(facts.Hosts, source.Host{Origin: source.OriginExporter, Name: name, Hostname: name,
			MachineID: fmt.Sprintf("%032x", h+1), Addresses: []string{ip},
			Attrs: map[string]string{"kernel_release": []string{"5.15.0-91-generic", "6.1.0-13-amd64", "6.8.0-45-generic"}[h%3],
				"os_image":     []string{"Ubuntu 22.04.3 LTS", "Debian GNU/Linux 12 (bookworm)"}[h%2],
				"product_name": []string{"PowerEdge R640", "ProLiant DL360 Gen10", "m5.large"}[h%3]}})
		for c := range fleetContainers {
			id := fmt.Sprintf("%08x%056x", h, c)
			facts.Containers = append(facts.Containers, source.Container{Origin: source.OriginExporter, Host: name, ID: id,
				Name: fmt.Sprintf("app-%d", c), Image: fmt.Sprintf("registry.example/app-%d:1.%d", c%50, h%7), Runtime: "containerd",
				Ports: []source.Port{{Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 20000 + c, ContainerPort: 8080}}})
		}
	}
	var lbs []source.LB
	n := 0
	for l := range fleetLBs {
		lb := source.LB{Name: fmt.Sprintf("lb-%04d", l), Provider: "haproxy"}
		for s := range fleetServices {
			svc := source.Service{Name: fmt.Sprintf("svc-%d", s)}
			for i := range fleetInstances {
				host := n % fleetHosts
				port := 20000 + (n/fleetHosts)%fleetContainers
				svc.Instances = append(svc.Instances, source.Instance{Name: fmt.Sprintf("s%d", i), Position: i, Health: "UP", Weight: 1,
					Address: fmt.Sprintf("10.%d.%d.%d", host/65536, host/256%256, host%256), Port: port})
				n++
			}
			lb.Services = append(lb.Services, svc)
		}
		lbs = append(lbs, lb)
	}
	return Input{At: at, Facts: []FactReport{{Source: "metrics", Facts: facts, Seen: at}},
		LBs: []LBReport{{Source: "inventory", LBs: lbs, Seen: at}}}
}

// BenchmarkJoinFleet: a full rebuild of the synthetic fleet's graph (target < 2 s, RSS < 2 GB).
func BenchmarkJoinFleet(b *testing.B) {
	in := SyntheticFleet(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	b.ResetTimer()
	var warnings []string
	for range b.N {
		var g interface{ Len() int }
		g, warnings = Build(in)
		b.ReportMetric(float64(g.Len()), "entities")
	}
	b.StopTimer()
	if len(warnings) > 0 {
		b.Fatalf("%d warnings, first: %s", len(warnings), warnings[0])
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MB")
}
