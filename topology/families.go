package topology

import (
	"strconv"

	"net"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/strata-obs/strata/topology/graph"
)

// families lists every series family the topology writes, each with how the graph fills it
// (encoding) and how its series restore the graph at a past time (decoding, history.go), side
// by side: a family is changed in one place. To add one: an entry here, its row in
// docs/topology.md (make docs), and a case in the history tests.
func families() []family {
	return []family{
		{Name: "strata_topology_lb_info", Help: "A load balancer; value 1.",
			Labels: []string{"lb", "provider", "addresses", "host", "stale"}, MetaLabels: true,
			kind: graph.LB, fill: eachEntity(graph.LB, func(e *graph.Entity, v []string) {
				v[0], v[1], v[2], v[3] = e.Name, e.Attrs.Get("provider"), e.Attrs.Get("addresses"), e.Attrs.Get("host")
			}),
			restore: restorer{kind: graph.LB, attr: map[string]string{"lb": ""},
				ident: func(ls labels.Labels) (string, string) {
					name := ls.Get("lb")
					return ls.Get("provider") + "/" + name, name
				}},
		},
		{Name: "strata_topology_service_info", Help: "A service behind a load balancer (HAProxy backend, upstream, pool); value 1.",
			Labels: []string{"lb", "service", "namespace", "stale"}, MetaLabels: true,
			kind: graph.Service, fill: eachEntity(graph.Service, func(e *graph.Entity, v []string) {
				v[0], v[1], v[2] = e.Attrs.Get("lb"), e.Name, e.Attrs.Get("namespace")
			}),
			restore: restorer{kind: graph.Service, attr: map[string]string{"service": ""},
				ident: func(ls labels.Labels) (string, string) {
					name := ls.Get("service")
					return graph.ServiceID(ls.Get("lb"), ls.Get("namespace"), name), name
				},
				// The series names its LB by name alone: every LB of that name leads to it, as
				// the join links them.
				link: func(b *rebuilder, s aliveSeries) {
					name := s.entity.Attrs.Get("lb")
					if len(b.lbsByName[name]) == 0 {
						b.unmappedSeries(graph.LB, name, s)
					}
					for _, lb := range b.lbsByName[name] {
						b.g.Connect(lb, s.entity, noSource, s.seen())
					}
				}},
		},
		{Name: "strata_topology_instance_info", Help: "An instance of a service in the LB's own order (position from 0), with its health; value 1.",
			Labels: []string{"lb", "service", "namespace", "server", "address", "port", "position", "health", "weight", "stale"}, MetaLabels: true,
			kind: graph.Instance, fill: eachEntity(graph.Instance, func(e *graph.Entity, v []string) {
				attrsInto(e, []string{"lb", "service", "namespace", "server", "address", "port", "position", "health", "weight"}, v)
			}),
			restore: restorer{kind: graph.Instance,
				ident: func(ls labels.Labels) (string, string) {
					// An instance the LB does not name is known by its address.
					name := ls.Get("server")
					if name == "" {
						name = net.JoinHostPort(ls.Get("address"), ls.Get("port"))
					}
					return graph.ServiceID(ls.Get("lb"), ls.Get("namespace"), ls.Get("service")) + "/" + name, name
				},
				link: func(b *rebuilder, s aliveSeries) {
					a := s.entity.Attrs
					if svc, ok := b.find(graph.Ref{Kind: graph.Service, ID: graph.ServiceID(a.Get("lb"), a.Get("namespace"), a.Get("service"))}, s); ok {
						b.g.Connect(svc, s.entity, noSource, s.seen())
					}
				}},
		},
		{Name: "strata_topology_pod_info", Help: "A Kubernetes pod; value 1.",
			Labels: []string{"pod", "namespace", "pod_uid", "host", "ip", "stale"}, MetaLabels: true,
			kind: graph.Pod, fill: eachEntity(graph.Pod, func(e *graph.Entity, v []string) {
				v[0], v[1], v[2], v[3], v[4] = e.Name, e.Attrs.Get("namespace"), e.Attrs.Get("uid"), e.Attrs.Get("node"), e.Attrs.Get("ip")
			}),
			restore: restorer{kind: graph.Pod, attr: map[string]string{"pod": "", "pod_uid": "uid", "host": "node"},
				ident: func(ls labels.Labels) (string, string) {
					name := ls.Get("pod")
					return ls.Get("namespace") + "/" + name, name
				},
				// The node is the name Kubernetes knows the host by, not always its identity: it
				// resolves as the join resolves it, and a node no host answers to had no edge then
				// either (no warning).
				link: func(b *rebuilder, s aliveSeries) {
					if host := b.hostsByName[s.entity.Attrs.Get("node")]; host != nil {
						b.g.Connect(s.entity, host, noSource, s.seen())
					}
				}},
		},
		{Name: "strata_topology_container_info", Help: "A container with its image, pod and host; value 1.",
			Labels: []string{"container_id", "name", "image", "image_id", "runtime", "pod", "namespace", "host", "stale"}, MetaLabels: true,
			kind: graph.Container, fill: eachEntity(graph.Container, func(e *graph.Entity, v []string) {
				v[0], v[1] = e.ID, e.Name
				attrsInto(e, []string{"image", "image_id", "runtime", "pod", "namespace", "host"}, v[2:])
			}),
			restore: restorer{kind: graph.Container, attr: map[string]string{"container_id": "", "name": ""},
				ident: func(ls labels.Labels) (string, string) { return ls.Get("container_id"), ls.Get("name") },
				link: func(b *rebuilder, s aliveSeries) {
					c, seen := s.entity, s.seen()
					if name := c.Attrs.Get("pod"); name != "" {
						if pod, ok := b.find(graph.Ref{Kind: graph.Pod, ID: c.Attrs.Get("namespace") + "/" + name}, s); ok {
							b.g.Connect(pod, c, noSource, seen)
						}
					}
					if id := c.Attrs.Get("image"); id != "" {
						if image, ok := b.find(graph.Ref{Kind: graph.Image, ID: id}, s); ok {
							b.g.Connect(c, image, noSource, seen)
						}
					}
					if id := c.Attrs.Get("host"); id != "" {
						if host, ok := b.find(graph.Ref{Kind: graph.Host, ID: id}, s); ok {
							b.g.Connect(c, host, noSource, seen)
						}
					}
				}},
		},
		{Name: "strata_topology_image_info", Help: "A container image; created is when it was built (RFC 3339), where known; value 1.",
			Labels: []string{"image", "name", "tag", "digest", "created", "stale"},
			kind:   graph.Image, fill: eachEntity(graph.Image, func(e *graph.Entity, v []string) {
				v[0], v[1], v[2], v[3], v[4] = e.ID, e.Name, e.Attrs.Get("tag"), e.Attrs.Get("digest"), e.Attrs.Get("created")
			}),
			restore: restorer{kind: graph.Image, attr: map[string]string{"image": "", "name": ""},
				ident: func(ls labels.Labels) (string, string) { return ls.Get("image"), ls.Get("name") }},
		},
		{Name: "strata_topology_host_info", Help: "A host with its kernel and OS image, merged from all sources by precedence; value 1.",
			Labels: append(append([]string{"host"}, hostInfoAttrs...), "stale"), MetaLabels: true,
			kind: graph.Host, fill: eachEntity(graph.Host, func(e *graph.Entity, v []string) { v[0] = e.ID; attrsInto(e, hostInfoAttrs, v[1:]) }),
			restore: restorer{kind: graph.Host, attr: map[string]string{"host": ""}, ident: hostIdent},
		},
		{Name: "strata_topology_host_hardware_info", Help: "A host's hardware, merged from all sources by precedence; value 1.",
			Labels: append(append([]string{"host"}, hostHardwareAttrs...), "stale"),
			kind:   graph.Host, fill: eachEntity(graph.Host, func(e *graph.Entity, v []string) { v[0] = e.ID; attrsInto(e, hostHardwareAttrs, v[1:]) }),
			restore: restorer{kind: graph.Host, attr: map[string]string{"host": ""}, ident: hostIdent},
		},
		// The other edges are already labels of the info series (service_info{lb},
		// instance_info{lb,service}, container_info{host,image,pod}, pod_info{host}); writing
		// them again would double the series of a large fleet for nothing.
		{Name: "strata_topology_edge_info", Help: "An edge the join resolved, from an instance to what runs it (pod, container or host), or from an LB to a service another LB owns (an Ingress in front of a Kubernetes Service), once per source it rests on; value 1.",
			Labels: []string{"from_kind", "from", "to_kind", "to", "source"},
			kind:   graph.Instance, fill: func(g *graph.Graph, v []string, emit emitFunc) {
				edge := func(e *graph.Edge) {
					for _, src := range e.Sources {
						v[0], v[1], v[2], v[3], v[4] = string(e.From().Kind), e.From().ID, string(e.To().Kind), e.To().ID, src
						emit(nil, v, 1)
					}
				}
				g.Each(graph.Instance, func(inst *graph.Entity) {
					for _, e := range g.DownOf(inst) {
						edge(e)
					}
				})
				g.Each(graph.LB, func(lb *graph.Entity) {
					for _, e := range g.DownOf(lb) {
						if svc := e.ToEntity(); svc.Kind == graph.Service && svc.Attrs.Get("lb") != lb.Name {
							edge(e)
						}
					}
				})
			},
			restore: restorer{
				link: func(b *rebuilder, s aliveSeries) {
					ls := s.labels
					from, ok1 := b.find(graph.Ref{Kind: graph.Kind(ls.Get("from_kind")), ID: ls.Get("from")}, s)
					to, ok2 := b.find(graph.Ref{Kind: graph.Kind(ls.Get("to_kind")), ID: ls.Get("to")}, s)
					if ok1 && ok2 {
						b.g.Connect(from, to, ls.Get("source"), s.seen())
					}
				}},
		},
		{Name: "strata_topology_path_info", Help: "The whole path of an instance, one row per instance and container: LB, service, instance, pod, container, image, host and its kernel, OS image, hardware and lifecycle state; value 1.",
			Labels: []string{"lb", "service", "server", "address", "position", "health", "pod", "namespace", "container_id", "image", "host", "kernel_release", "os_image", "product_name", "lifecycle", "stale"},
			kind:   graph.Instance, fill: fillPaths,
			// Its rows are walks of the edges the other families carry: nothing of its own to restore.
			restore: restorer{},
		},
		signalFamily("strata_topology_instance_request_rate", "Requests per second the LB sent the instance over the last refresh interval.", signalReqRate),
		signalFamily("strata_topology_instance_error_rate", "Failed requests per second of the instance: 5xx responses, connection and response errors.", signalErrorRate),
		signalFamily("strata_topology_instance_error_ratio", "Share of the instance's requests that failed (error rate over request rate), 0 to 1.", signalErrorRatio),
		signalFamily("strata_topology_instance_response_time_seconds", "The LB's recent average response time of the instance.", signalResponseTime),
		signalFamily("strata_topology_instance_sessions", "Sessions the LB has open to the instance.", signalSessions),
	}
}

// signalFamily is one signal of the instances as a series whose value is the number, with the
// labels that name the instance as strata_topology_instance_info does; an instance without
// the signal (its LB counts nothing, the first refresh, a reset) has no series: no value is
// no zero. A past graph gets the attribute back from it.
func signalFamily(name, help, attr string) family {
	return family{Name: name, Help: help, Labels: []string{"lb", "service", "namespace", "server"}, kind: graph.Instance, sparse: true, valued: true,
		fill: func(g *graph.Graph, v []string, emit emitFunc) {
			g.Each(graph.Instance, func(e *graph.Entity) {
				a := e.Attrs.Get(attr)
				if a == "" || e.Attrs.Get("server") == "" { // most instances have no rate
					return
				}
				x, err := strconv.ParseFloat(a, 64)
				if err != nil {
					return
				}
				attrsInto(e, []string{"lb", "service", "namespace", "server"}, v)
				emit(nil, v, x)
			})
		},
		restore: restorer{link: func(b *rebuilder, s aliveSeries) {
			ls := s.labels
			ref := graph.Ref{Kind: graph.Instance, ID: graph.ServiceID(ls.Get("lb"), ls.Get("namespace"), ls.Get("service")) + "/" + ls.Get("server")}
			if inst, ok := b.find(ref, s); ok {
				inst.Attrs.Set(attr, decimal(s.value))
			}
		}},
	}
}
