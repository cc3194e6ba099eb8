package graph

import "testing"

// TestZoneAndRack: the attribute first, then the label; Kubernetes' current label before its
// deprecated one; nothing when none says.
func TestZoneAndRack(t *testing.T) {
	for _, c := range []struct {
		name       string
		attrs      map[string]string
		labels     map[string]string
		zone, rack string
	}{
		{"attributes", map[string]string{"zone": "eu-1a", "rack": "r12"}, map[string]string{"zone": "eu-1b"}, "eu-1a", "r12"},
		{"an inventory's labels", nil, map[string]string{"zone": "dc2", "rack": "b07"}, "dc2", "b07"},
		{"a node's labels", nil, map[string]string{"failure-domain.beta.kubernetes.io/zone": "old", "topology.kubernetes.io/zone": "us-east-1c"}, "us-east-1c", ""},
		{"the deprecated label alone", nil, map[string]string{"failure-domain.beta.kubernetes.io/zone": "old"}, "old", ""},
		{"none", map[string]string{"kernel_release": "6.1.0"}, nil, "", ""},
	} {
		e := &Entity{Ref: Ref{Kind: Host, ID: "h"}, Attrs: AttrsOf(c.attrs), Labels: c.labels}
		if e.Zone() != c.zone || e.Rack() != c.rack {
			t.Errorf("%s: zone %q, rack %q; want %q, %q", c.name, e.Zone(), e.Rack(), c.zone, c.rack)
		}
	}
}
