package graph

// zoneKeys are where a host's zone is found, attribute first, then label: an inventory's or a
// cloud's fact (zone), else Kubernetes' node labels, the current and the deprecated one.
var zoneKeys = []string{"zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"}

// rackKeys are where a host's rack is found.
var rackKeys = []string{"rack"}

// Zone is the failure zone of a host: "" when no attribute or label says.
func (e *Entity) Zone() string { return e.firstOf(zoneKeys) }

// Rack is the rack of a host: "" when no attribute or label says.
func (e *Entity) Rack() string { return e.firstOf(rackKeys) }

func (e *Entity) firstOf(keys []string) string {
	for _, k := range keys {
		if v := e.Attrs.Get(k); v != "" {
			return v
		}
		if v := e.Labels[k]; v != "" {
			return v
		}
	}
	return ""
}
