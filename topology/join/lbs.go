package join

import (
	"cmp"
	"net"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Load balancers: LBs, their services and instances, in the LB's own order.

// loadBalancers puts LBs, services and instances in the graph and resolves each instance.
func (j *joiner) loadBalancers() {
	for _, rep := range j.in.LBs {
		for _, lb := range rep.LBs {
			provider := lb.Provider
			if provider == "" {
				provider = "unknown"
			}
			lbRef := graph.Ref{Kind: graph.LB, ID: provider + "/" + lb.Name}
			lbHost := lb.Host
			if lbHost == "" && !lb.NoHost {
				lbHost = j.in.LocalHost
			}
			attrs := append(j.attrs(3), graph.Attr{Name: "provider", Value: provider}, graph.Attr{Name: "addresses", Value: strings.Join(lb.Addresses, ",")},
				graph.Attr{Name: "host", Value: lbHost})
			lbEntity := j.put(&graph.Entity{Ref: lbRef, Name: lb.Name, Attrs: attrs, Labels: lb.Labels,
				Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
			for _, svc := range lb.Services {
				if svc.Of != "" {
					j.front(rep, lbRef, svc)
					continue
				}
				svcRef := graph.Ref{Kind: graph.Service, ID: graph.ServiceID(lb.Name, svc.Namespace, svc.Name)}
				svcAttrs := append(j.attrs(2+len(svc.Signals)), graph.Attr{Name: "lb", Value: lb.Name}, graph.Attr{Name: "namespace", Value: svc.Namespace})
				signalsInto(&svcAttrs, svc.Signals, rep.Stale)
				svcEntity := j.put(&graph.Entity{Ref: svcRef, Name: svc.Name, Labels: svc.Labels, Attrs: svcAttrs,
					Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
				j.g.Connect(lbEntity, svcEntity, rep.Source, rep.Seen)
				for _, inst := range svc.Instances {
					j.instance(rep, lb, lbHost, svcEntity, inst)
				}
			}
		}
	}
}

// signalsInto copies the traffic signals the refresh made (rates, failing) into an entity's
// attributes, unless the report is stale: a rate from a source that stopped answering is no
// rate now.
func signalsInto(attrs *graph.Attrs, signals source.Signals, stale bool) {
	if stale {
		return
	}
	for _, a := range signals {
		attrs.Set(a.Name, a.Value)
	}
}

// front links an LB to a service another LB of its source owns: an Ingress, or a Service of
// type LoadBalancer, in front of a cluster Service.
func (j *joiner) front(rep LBReport, lbRef graph.Ref, svc source.Service) {
	ref := graph.Ref{Kind: graph.Service, ID: graph.ServiceID(svc.Of, svc.Namespace, svc.Name)}
	if _, ok := j.g.Get(ref); !ok {
		j.warn("%s fronts service %s, which its source does not list", lbRef, ref.ID)
		return
	}
	j.g.Link(lbRef, ref, rep.Source, rep.Seen)
}

func (j *joiner) instance(rep LBReport, lb source.LB, lbHost string, svc *graph.Entity, inst source.Instance) {
	svcRef := svc.Ref
	key := inst.Name
	if key == "" {
		key = net.JoinHostPort(inst.Address, strconv.Itoa(inst.Port))
	}
	ref := graph.Ref{Kind: graph.Instance, ID: svcRef.ID + "/" + key}
	health := inst.Health
	if health == "" {
		health = source.HealthUnknown
	}
	// Resolve first, so that the attributes go into a map of the right size at once: the
	// instances of a large fleet are the join's most numerous writes.
	j.process = nil
	target, via := j.resolve(inst, lbHost)
	if target != nil {
		// The graph's own: a container or pod kept from the last graph and merged into since
		// was copied, and the record that resolved it may still hold the last graph's.
		target = j.g.Current(target)
	}
	attrs := append(j.attrs(12+len(inst.Signals)), graph.Attr{Name: "lb", Value: lb.Name}, graph.Attr{Name: "service", Value: svc.Name},
		graph.Attr{Name: "server", Value: inst.Name})
	attrs.SetIf("namespace", svc.Attrs.Get("namespace"))
	attrs = append(attrs, graph.Attr{Name: "address", Value: inst.Address}, graph.Attr{Name: "port", Value: strconv.Itoa(inst.Port)},
		graph.Attr{Name: "position", Value: strconv.Itoa(inst.Position)}, graph.Attr{Name: "health", Value: health},
		graph.Attr{Name: "weight", Value: strconv.Itoa(inst.Weight)})
	if j.process != nil {
		attrs = append(attrs, graph.Attr{Name: "process", Value: j.process.Comm}, graph.Attr{Name: "pid", Value: strconv.Itoa(j.process.PID)})
	}
	if target != nil {
		attrs = append(attrs, graph.Attr{Name: "resolved_via", Value: via})
	}
	signalsInto(&attrs, inst.Signals, rep.Stale)
	e := j.put(&graph.Entity{Ref: ref, Name: cmp.Or(inst.Name, key), Attrs: attrs, Labels: inst.Labels,
		Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
	j.g.Connect(svc, e, rep.Source, rep.Seen)
	if target == nil {
		j.warn("instance %s (%s): %s", ref.ID, net.JoinHostPort(inst.Address, strconv.Itoa(inst.Port)), via)
		return
	}
	j.g.Connect(e, target, rep.Source, rep.Seen)
	for _, src := range target.Sources { // the edge rests on the facts that found the target too
		j.g.Connect(e, target, src, j.g.LastSeen(target))
	}
}
