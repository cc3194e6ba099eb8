package join

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/internal/cgroup"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Workloads: pods, containers and listening processes, placed on their hosts.

type containerAt struct {
	*source.Container // the source's record, not a copy: a fleet has 300k of them
	ref               graph.Ref
	entity            *graph.Entity
	host              *hostGroup
	src               string
}

type podAt struct {
	source.Pod
	ref    graph.Ref
	entity *graph.Entity
	host   *hostGroup
}

type listenerAt struct {
	source.Listener
	src string
}

// workloads puts pods, containers and images in the graph, with their hosts, and indexes the
// listening sockets by host.
func (j *joiner) workloads() {
	nContainers := 0
	for _, rep := range j.in.Facts {
		if rep.Facts != nil {
			nContainers += len(rep.Facts.Containers)
		}
	}
	j.containers = make(map[string]*containerAt, nContainers)
	j.containersAt = map[*hostGroup][]*containerAt{}
	j.byContainerIP = map[string]*containerAt{}
	j.podByIP = map[string]*podAt{}
	j.podsByUID = map[string]*podAt{}
	j.listeners = map[*hostGroup][]listenerAt{}

	// The strongest source's record of a pod or container comes first: the first record
	// names the entity and keeps its ports and addresses, the others fill what it lacks.
	reports := slices.Clone(j.in.Facts)
	slices.SortStableFunc(reports, func(a, b FactReport) int { return cmp.Compare(strongest(a), strongest(b)) })
	for _, rep := range reports {
		if rep.Facts == nil {
			continue
		}
		for _, p := range rep.Facts.Pods {
			j.pod(rep, p)
		}
	}
	for _, rep := range reports {
		if rep.Facts == nil {
			continue
		}
		for i := range rep.Facts.Containers {
			j.container(rep, &rep.Facts.Containers[i])
		}
		for _, l := range rep.Facts.Listeners {
			if host := j.hostOf(l.Host); host != nil {
				j.listeners[host] = append(j.listeners[host], listenerAt{l, rep.Source})
			}
		}
	}
}

// pod puts a pod in the graph, on its node's host, and indexes it by uid and IP.
func (j *joiner) pod(rep FactReport, p source.Pod) {
	ref := graph.Ref{Kind: graph.Pod, ID: p.Namespace + "/" + p.Name}
	e := &graph.Entity{Ref: ref, Name: p.Name, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
		Labels: p.Labels, Attrs: map[string]string{"namespace": p.Namespace, "uid": p.UID, "node": p.Node,
			"ip": strings.Join(p.IPs, ","), "phase": p.Phase, "owner": p.Owner, "host_network": strconv.FormatBool(p.HostNetwork)}}
	setIf(e.Attrs, "ordinal", p.Ordinal)
	pa := &podAt{Pod: p, ref: ref, entity: j.g.Put(e), host: j.hostOf(p.Node)}
	if p.UID != "" {
		j.podsByUID[p.UID] = pa
	}
	if !p.HostNetwork {
		for _, ip := range p.IPs {
			// A pod IP is reused once its pod is gone: the running pod owns it.
			if old, ok := j.podByIP[ip]; ok && old.Phase == "Running" && p.Phase != "Running" {
				continue
			} else if ok && old.Phase == "Running" && p.Phase == "Running" {
				j.warn("pods %s and %s both run with IP %s", old.ref.ID, ref.ID, ip)
			}
			j.podByIP[ip] = pa
		}
	}
	if pa.host != nil {
		j.g.Link(ref, pa.host.ref, rep.Source, rep.Seen)
	}
}

// container puts a container in the graph with its image, host and pod, and indexes it by id
// and IP.
func (j *joiner) container(rep FactReport, c *source.Container) {
	host := j.hostOf(c.Host)
	ref := graph.Ref{Kind: graph.Container, ID: c.ID}
	attrs := make(map[string]string, 8)
	setIf(attrs, "image", c.Image)
	setIf(attrs, "image_id", c.ImageID)
	setIf(attrs, "runtime", c.Runtime)
	setIf(attrs, "pod", c.Pod)
	setIf(attrs, "namespace", c.Namespace)
	setIf(attrs, "pod_uid", c.PodUID)
	if host != nil {
		attrs["host"] = host.ref.ID
	}
	e := j.g.Put(&graph.Entity{Ref: ref, Name: c.Name, Attrs: attrs, Labels: c.Labels,
		Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
	ca, seen := j.containers[c.ID]
	if !seen {
		ca = &containerAt{Container: c, ref: ref, entity: e, host: host, src: rep.Source}
		j.containers[c.ID] = ca
		if host != nil {
			j.containersAt[host] = append(j.containersAt[host], ca)
		}
	}
	for _, a := range c.Addresses {
		j.byContainerIP[a] = ca
	}
	if c.Image != "" {
		img := graph.Ref{Kind: graph.Image, ID: c.Image}
		// Many containers share an image: it is made once per source and digest.
		ie, ok := j.g.Get(img)
		if !ok || !slices.Contains(ie.Sources, rep.Source) || (ie.Attrs["digest"] == "" && c.ImageID != "") {
			name, tag := splitImage(c.Image)
			ie = j.g.Put(&graph.Entity{Ref: img, Name: name, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
				Attrs: map[string]string{"tag": tag, "digest": c.ImageID}})
		}
		j.g.Connect(e, ie, rep.Source, rep.Seen)
	}
	if host != nil {
		j.g.Connect(e, host.entity, rep.Source, rep.Seen)
	} else if c.Host != "" {
		j.warn("container %s reports host %q, which no host source knows", cgroup.ShortID(c.ID), c.Host)
	}
	pod := j.podsByUID[c.PodUID]
	if pod == nil && c.Pod != "" {
		pod = j.ensurePod(c, host, rep)
	}
	if pod != nil {
		j.g.Link(pod.ref, ref, rep.Source, rep.Seen)
		e.Attrs["pod"], e.Attrs["namespace"] = pod.Name, pod.Namespace
	}
}

// strongest is the strongest origin of a report's containers and pods (source.Origin: the
// exporter's first).
func strongest(r FactReport) source.Origin {
	o := source.Origin(math.MaxInt)
	if r.Facts == nil {
		return o
	}
	for i := range r.Facts.Containers {
		o = min(o, r.Facts.Containers[i].Origin)
	}
	for i := range r.Facts.Pods {
		o = min(o, r.Facts.Pods[i].Origin)
	}
	return o
}

// ensurePod makes the pod a container names when no pod source reported it (a container
// runtime's Kubernetes labels without kube-state-metrics).
func (j *joiner) ensurePod(c *source.Container, host *hostGroup, rep FactReport) *podAt {
	ref := graph.Ref{Kind: graph.Pod, ID: c.Namespace + "/" + c.Pod}
	node := ""
	if host != nil {
		node = host.ref.ID
	}
	e := j.g.Put(&graph.Entity{Ref: ref, Name: c.Pod, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
		Attrs: map[string]string{"namespace": c.Namespace, "uid": c.PodUID, "node": node}})
	pa := &podAt{Pod: source.Pod{Namespace: c.Namespace, Name: c.Pod, UID: c.PodUID, Node: node}, ref: ref, entity: e, host: host}
	if c.PodUID != "" {
		j.podsByUID[c.PodUID] = pa
	}
	if host != nil {
		j.g.Link(ref, host.ref, rep.Source, rep.Seen)
	}
	return pa
}
