package join

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/cgroup"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Workloads: pods, containers and listening processes, placed on their hosts.

type containerAt struct {
	*source.Container // the source's record, not a copy: a fleet has 300k of them
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
// listening sockets by host; nContainers is how many container records the reports hold.
func (j *joiner) workloads(nContainers int) {
	j.containerAts = make([]containerAt, 0, nContainers)
	j.containerAt = make([]*containerAt, 0, j.g.Len()+nContainers+nContainers/2) // the hosts, the containers, about as many pods
	j.containersAt = map[*hostGroup][]*containerAt{}
	j.byContainerIP = map[string]*containerAt{}
	j.podByIP = map[string]*podAt{}
	j.podsByUID = map[string]*podAt{}
	j.listeners = map[*hostGroup][]listenerAt{}
	j.images = map[string]*graph.Entity{}

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
	attrs := append(j.attrs(8), graph.Attr{Name: "namespace", Value: p.Namespace}, graph.Attr{Name: "uid", Value: p.UID},
		graph.Attr{Name: "node", Value: p.Node}, graph.Attr{Name: "ip", Value: strings.Join(p.IPs, ",")}, graph.Attr{Name: "phase", Value: p.Phase},
		graph.Attr{Name: "owner", Value: p.Owner}, graph.Attr{Name: "host_network", Value: strconv.FormatBool(p.HostNetwork)})
	attrs.SetIf("ordinal", p.Ordinal)
	e := &graph.Entity{Ref: ref, Name: p.Name, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
		Labels: p.Labels, Attrs: attrs}
	pa := &podAt{Pod: p, ref: ref, entity: j.put(e), host: j.hostOf(p.Node)}
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
		j.g.Connect(pa.entity, pa.host.entity, rep.Source, rep.Seen)
	}
}

// container puts a container in the graph with its image, host and pod, and indexes it by id
// and IP.
func (j *joiner) container(rep FactReport, c *source.Container) {
	host := j.hostOf(c.Host)
	ref := graph.Ref{Kind: graph.Container, ID: c.ID}
	// Its pod first: the pod's name and namespace are the container's, and its attributes are
	// final once it is put.
	pod := j.podsByUID[c.PodUID]
	if pod == nil && c.Pod != "" {
		pod = j.ensurePod(c, host, rep)
	}
	podName, namespace := c.Pod, c.Namespace
	if pod != nil {
		podName, namespace = pod.Name, pod.Namespace
	}
	// Each fact is set once here: appended, not looked for first.
	attrs := j.attrs(7)
	for _, a := range [...]graph.Attr{{Name: "image", Value: c.Image}, {Name: "image_id", Value: c.ImageID}, {Name: "runtime", Value: c.Runtime},
		{Name: "pod", Value: podName}, {Name: "namespace", Value: namespace}, {Name: "pod_uid", Value: c.PodUID}} {
		if a.Value != "" || (pod != nil && (a.Name == "pod" || a.Name == "namespace")) {
			attrs = append(attrs, a)
		}
	}
	if host != nil {
		attrs = append(attrs, graph.Attr{Name: "host", Value: host.ref.ID})
	}
	e := j.put(&graph.Entity{Ref: ref, Name: c.Name, Attrs: attrs, Labels: c.Labels,
		Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
	ca := j.containerOf(e)
	if ca == nil {
		ca = j.addContainer(containerAt{Container: c, entity: e, host: host, src: rep.Source})
		if host != nil {
			j.containersAt[host] = append(j.containersAt[host], ca)
		}
	}
	for _, a := range c.Addresses {
		j.byContainerIP[a] = ca
	}
	if c.Image != "" {
		// Many containers share an image: it is made once per source and digest.
		ie := j.images[c.Image]
		if ie == nil || !slices.Contains(ie.Sources, rep.Source) || (ie.Attrs.Get("digest") == "" && c.ImageID != "") {
			name, tag := splitImage(c.Image)
			attrs := append(j.attrs(3), graph.Attr{Name: "tag", Value: tag}, graph.Attr{Name: "digest", Value: c.ImageID})
			if !c.ImageCreated.IsZero() {
				attrs = append(attrs, graph.Attr{Name: "created", Value: c.ImageCreated.UTC().Format(time.RFC3339)})
			}
			if j.in.ImageAttrs != nil {
				attrs = append(attrs, j.in.ImageAttrs(c.Image, attrs.Get)...)
			}
			ie = j.put(&graph.Entity{Ref: graph.Ref{Kind: graph.Image, ID: c.Image}, Name: name, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
				Attrs: attrs})
			j.images[c.Image] = ie
		}
		j.g.Connect(e, ie, rep.Source, rep.Seen)
	}
	if host != nil {
		j.g.Connect(e, host.entity, rep.Source, rep.Seen)
	} else if c.Host != "" {
		j.warn("container %s reports host %q, which no host source knows", cgroup.ShortID(c.ID), c.Host)
	}
	if pod != nil {
		j.g.Connect(pod.entity, e, rep.Source, rep.Seen)
	}
}

// addContainer keeps a container's record by its place in the graph: a fleet's 300,000 are one
// slice, and their ids need no map of their own beside the graph's index.
func (j *joiner) addContainer(c containerAt) *containerAt {
	if len(j.containerAts) == cap(j.containerAts) { // a record whose report the count missed
		j.containerAts = make([]containerAt, 0, 64)
	}
	j.containerAts = append(j.containerAts, c)
	ca := &j.containerAts[len(j.containerAts)-1]
	p := j.g.Place(c.entity)
	if p >= len(j.containerAt) {
		j.containerAt = append(j.containerAt, make([]*containerAt, p+1-len(j.containerAt))...)
	}
	j.containerAt[p] = ca
	return ca
}

// containerOf is the record of a container entity, nil before addContainer.
func (j *joiner) containerOf(e *graph.Entity) *containerAt {
	if p := j.g.Place(e); p >= 0 && p < len(j.containerAt) {
		return j.containerAt[p]
	}
	return nil
}

// containerByID is the record of the container with that full id.
func (j *joiner) containerByID(id string) (*containerAt, bool) {
	e, ok := j.g.Get(graph.Ref{Kind: graph.Container, ID: id})
	if !ok {
		return nil, false
	}
	ca := j.containerOf(e)
	return ca, ca != nil
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
	e := j.put(&graph.Entity{Ref: ref, Name: c.Pod, Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale,
		Attrs: append(j.attrs(3), graph.Attr{Name: "namespace", Value: c.Namespace}, graph.Attr{Name: "uid", Value: c.PodUID}, graph.Attr{Name: "node", Value: node})})
	pa := &podAt{Pod: source.Pod{Namespace: c.Namespace, Name: c.Pod, UID: c.PodUID, Node: node}, ref: ref, entity: e, host: host}
	if c.PodUID != "" {
		j.podsByUID[c.PodUID] = pa
	}
	if host != nil {
		j.g.Connect(e, host.entity, rep.Source, rep.Seen)
	}
	return pa
}
