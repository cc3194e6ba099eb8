package inventory

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/strata-obs/strata/topology/source"
)

// FuzzParse: any input gives an inventory or an error naming the file, never a panic, and an
// inventory that Parse accepts holds what the topology relies on.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/inventory.yml"); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{
		oneLB, twoLBs, oneHost, broken, "", "~", "- a", "hosts: {}", "hosts: [&a {name: x, labels: *a}]",
		"hosts:\n  - name: a\n    labels: &r {a: b}\n  - name: b\n    labels: {<<: [*r, *r]}\n",
		"lbs:\n  - name: e\n    addresses: [\"[::1]:443\", a.b, 1.2.3.4]\n",
		"hosts:\n  - name: a\n    facts: {cpu_cores: 8, memory_bytes: 1024, arch: arm64}\n",
		"hosts:\n  - name: a\n    labels: &x {<<: *x}\n", "lbs: &x\n  - name: a\n    services: *x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		inv, err := Parse("fuzz.yml", strings.NewReader(in))
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		hosts := map[string]bool{}
		for _, h := range inv.Hosts {
			if h.Name == "" || hosts[h.Name] || h.Origin != source.OriginInventory {
				t.Fatalf("bad host %+v", h)
			}
			hosts[h.Name] = true
			for _, a := range h.Addresses {
				if _, err := netip.ParseAddr(a); err != nil {
					if _, err := netip.ParseAddrPort(a); err != nil {
						t.Fatalf("host address %q", a)
					}
				}
			}
		}
		lbs := map[string]bool{}
		for _, lb := range inv.LBs {
			if lb.Name == "" || lbs[lb.Name] || lb.Provider == "" {
				t.Fatalf("bad lb %+v", lb)
			}
			lbs[lb.Name] = true
			services := map[string]bool{}
			for _, s := range lb.Services {
				if s.Name == "" || services[s.Name] {
					t.Fatalf("bad service %+v", s)
				}
				services[s.Name] = true
				instances := map[string]bool{}
				for i, in := range s.Instances {
					if in.Name == "" || instances[in.Name] || in.Position != i || in.Port < 1 || in.Port > 65535 ||
						in.Address == "" || in.Health != source.HealthUnknown {
						t.Fatalf("bad instance %+v", in)
					}
					instances[in.Name] = true
				}
			}
		}
	})
}
