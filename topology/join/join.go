// Package join turns what the sources report into one graph: load balancers, services and
// instances from the LB sources; hosts, containers, pods and images from the fact sources;
// and the edges between them that identity resolution finds. It is pure: inputs in, graph and
// warnings out. It never fails because one source failed: a stale source's last report is
// joined and its entities are marked stale.
//
// Identity resolution:
//   - hosts are the same host when their records share a node name, hostname, machine-id or
//     SMBIOS UUID, unless their machine-ids (or UUIDs) differ: two machines both called "web"
//     stay two hosts. A record with only addresses (an inventory entry) joins the one host
//     that owns the address.
//   - an instance the source ties to a pod by uid (an EndpointSlice's targetRef) leads to that
//     pod, whoever holds its IP now. Otherwise its address resolves, in order, to a pod (pod
//     IP, unless host network), to a
//     container (its own address), or to the host that owns the IP (a loopback address
//     belongs to the LB's host); on that host the port leads to the container publishing it,
//     or to the process listening on it (in a container or on the host).
//   - facts conflict by precedence: strata-exporter over node_exporter over the Kubernetes
//     API over kube-state-metrics over the inventory (source.Origin).
package join

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/cgroup"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Input is one refresh's worth of reports.
type Input struct {
	At time.Time
	// LocalHost names this machine: the host of LB sources read locally whose LB has no Host.
	LocalHost string
	LBs       []LBReport
	Facts     []FactReport
}

// LBReport is what one LB source last said.
type LBReport struct {
	Source string
	LBs    []source.LB
	Seen   time.Time
	Stale  bool // the source failed since; this is its last good report
}

// FactReport is what one fact source last said.
type FactReport struct {
	Source string
	Facts  *source.FactSet
	Seen   time.Time
	Stale  bool
}

// Build joins the reports into a graph.
func Build(in Input) (*graph.Graph, []string) {
	j := &joiner{in: in, g: graph.NewSized(in.At, estimateEntities(in))}
	j.hosts()
	j.workloads()
	j.loadBalancers()
	sort.Strings(j.warnings)
	return j.g, j.warnings
}

// estimateEntities sizes the graph's index once instead of growing it a dozen times.
func estimateEntities(in Input) int {
	n := 0
	for _, r := range in.Facts {
		if r.Facts != nil {
			n += len(r.Facts.Hosts) + len(r.Facts.Containers) + len(r.Facts.Pods)
		}
	}
	for _, r := range in.LBs {
		for _, lb := range r.LBs {
			n++
			for _, s := range lb.Services {
				n += 1 + len(s.Instances)
			}
		}
	}
	return n + n/8
}

type joiner struct {
	in       Input
	g        *graph.Graph
	warnings []string

	hostByName    map[string]*hostGroup // node name, hostname → host (unambiguous ones only)
	hostByAddr    map[string]*hostGroup // IP → host (addresses owned by one host only)
	groups        []*hostGroup
	containers    map[string]*containerAt // full id → container
	containersAt  map[*hostGroup][]*containerAt
	byContainerIP map[string]*containerAt
	podByIP       map[string]*podAt
	podsByUID     map[string]*podAt
	listeners     map[*hostGroup][]listenerAt
	process       *listenerAt // the host process the last resolve found, if any
}

func (j *joiner) warn(format string, args ...any) {
	j.warnings = append(j.warnings, fmt.Sprintf(format, args...))
}

// hostGroup is the records of one host, from all sources.
type hostGroup struct {
	records []hostRecord
	ref     graph.Ref
	entity  *graph.Entity // in the graph
}

type hostRecord struct {
	source.Host
	src   string
	seen  time.Time
	stale bool
}

func (h *hostGroup) machineIDs() []string {
	return h.collect(func(r hostRecord) string { return r.MachineID })
}
func (h *hostGroup) uuids() []string {
	return h.collect(func(r hostRecord) string { return strings.ToLower(r.SystemUUID) })
}

func (h *hostGroup) collect(f func(hostRecord) string) []string {
	var out []string
	for _, r := range h.records {
		if v := f(r); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// conflicts tells two groups that cannot be one host: different machine-ids or UUIDs.
func conflicts(a, b *hostGroup) bool {
	disjoint := func(x, y []string) bool {
		if len(x) == 0 || len(y) == 0 {
			return false
		}
		for _, v := range x {
			if slices.Contains(y, v) {
				return false
			}
		}
		return true
	}
	return disjoint(a.machineIDs(), b.machineIDs()) || disjoint(a.uuids(), b.uuids())
}

// hosts groups the host records of every fact source into hosts and puts them in the graph.
func (j *joiner) hosts() {
	var records []hostRecord
	for _, rep := range j.in.Facts {
		if rep.Facts == nil {
			continue
		}
		for _, h := range rep.Facts.Hosts {
			records = append(records, hostRecord{h, rep.Source, rep.Seen, rep.Stale})
		}
	}
	// Strongest origin first: it names the host and its facts win.
	sort.SliceStable(records, func(a, b int) bool { return records[a].Origin < records[b].Origin })

	byKey := map[string][]*hostGroup{}
	keys := func(r hostRecord) []string {
		var ks []string
		if r.MachineID != "" {
			ks = append(ks, "m:"+r.MachineID)
		}
		if r.SystemUUID != "" {
			ks = append(ks, "u:"+strings.ToLower(r.SystemUUID))
		}
		if r.Name != "" {
			ks = append(ks, "n:"+r.Name)
		}
		if r.Hostname != "" {
			ks = append(ks, "n:"+r.Hostname)
		}
		return ks
	}
	var addressOnly []hostRecord
	for _, r := range records {
		ks := keys(r)
		if len(ks) == 0 {
			addressOnly = append(addressOnly, r)
			continue
		}
		probe := &hostGroup{records: []hostRecord{r}}
		var target *hostGroup
		for _, k := range ks {
			for _, g := range byKey[k] {
				if !conflicts(g, probe) {
					target = g
					break
				}
			}
			if target != nil {
				break
			}
		}
		if target == nil {
			target = &hostGroup{}
			j.groups = append(j.groups, target)
		}
		target.records = append(target.records, r)
		for _, k := range ks {
			if !slices.Contains(byKey[k], target) {
				byKey[k] = append(byKey[k], target)
			}
		}
	}

	// Names and addresses that lead to exactly one host.
	j.hostByName, j.hostByAddr = map[string]*hostGroup{}, map[string]*hostGroup{}
	ambiguousName, ambiguousAddr := map[string]bool{}, map[string]bool{}
	for _, g := range j.groups {
		for _, r := range g.records {
			for _, n := range []string{r.Name, r.Hostname} {
				if n == "" || ambiguousName[n] {
					continue
				}
				if other, ok := j.hostByName[n]; ok && other != g {
					ambiguousName[n] = true
					delete(j.hostByName, n)
					j.warn("two hosts answer to the name %q (machine-ids %s and %s): they stay apart, and %q alone resolves to neither",
						n, strings.Join(other.machineIDs(), ","), strings.Join(g.machineIDs(), ","), n)
					continue
				}
				j.hostByName[n] = g
			}
			for _, a := range r.Addresses {
				a = hostOnly(a)
				if !routable(a) || ambiguousAddr[a] {
					continue
				}
				if other, ok := j.hostByAddr[a]; ok && other != g {
					ambiguousAddr[a] = true
					delete(j.hostByAddr, a)
					continue
				}
				j.hostByAddr[a] = g
			}
		}
	}
	for _, r := range addressOnly {
		var target *hostGroup
		for _, a := range r.Addresses {
			if g, ok := j.hostByAddr[hostOnly(a)]; ok {
				target = g
				break
			}
		}
		if target == nil {
			target = &hostGroup{}
			j.groups = append(j.groups, target)
			for _, a := range r.Addresses {
				if a = hostOnly(a); routable(a) && !ambiguousAddr[a] {
					j.hostByAddr[a] = target
				}
			}
		}
		target.records = append(target.records, r)
	}

	// Identity: the strongest record's name, made unique with the machine-id where two
	// hosts share it.
	taken := map[string]int{}
	for _, g := range j.groups {
		taken[g.name()]++
	}
	for _, g := range j.groups {
		id := g.name()
		if taken[id] > 1 {
			if mids := g.machineIDs(); len(mids) > 0 {
				id += "~" + mids[0][:min(8, len(mids[0]))]
			}
		}
		g.ref = graph.Ref{Kind: graph.Host, ID: id}
		for _, r := range g.records {
			e := &graph.Entity{Ref: g.ref, Name: g.name(), Attrs: map[string]string{}, Labels: r.Labels,
				Sources: j.g.Single(r.src), LastSeen: r.seen, Stale: r.stale}
			for k, v := range r.Attrs {
				e.Attrs[k] = v
			}
			setIf(e.Attrs, "hostname", r.Hostname)
			setIf(e.Attrs, "machine_id", r.MachineID)
			// The SMBIOS UUID counts as a serial number: shown only where the exporter was asked
			// for serials (--collector.dmi.serials); the Kubernetes API and kube-state-metrics
			// report it whatever that says, and it serves only to match hosts.
			if r.Origin == source.OriginExporter {
				setIf(e.Attrs, "system_uuid", strings.ToLower(r.SystemUUID))
			}
			if len(r.Addresses) > 0 {
				e.Attrs["addresses"] = strings.Join(sortedUnique(r.Addresses), ",")
			}
			g.entity = j.g.Put(e)
		}
	}
}

func (g *hostGroup) name() string {
	for _, r := range g.records {
		if r.Name != "" {
			return r.Name
		}
	}
	for _, r := range g.records {
		if r.Hostname != "" {
			return r.Hostname
		}
	}
	if len(g.records) > 0 && len(g.records[0].Addresses) > 0 {
		return g.records[0].Addresses[0]
	}
	return "unknown"
}

// hostOf resolves a host label from a fact record.
func (j *joiner) hostOf(name string) *hostGroup {
	if g, ok := j.hostByName[name]; ok {
		return g
	}
	return nil
}

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

// workloads puts pods, containers and images in the graph, with their hosts.
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
	}
	for _, rep := range reports {
		if rep.Facts == nil {
			continue
		}
		for i := range rep.Facts.Containers {
			c := &rep.Facts.Containers[i]
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
		for _, l := range rep.Facts.Listeners {
			if host := j.hostOf(l.Host); host != nil {
				j.listeners[host] = append(j.listeners[host], listenerAt{l, rep.Source})
			}
		}
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
			attrs := map[string]string{"provider": provider, "addresses": strings.Join(lb.Addresses, ","), "host": lbHost}
			j.g.Put(&graph.Entity{Ref: lbRef, Name: lb.Name, Attrs: attrs, Labels: lb.Labels,
				Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
			for _, svc := range lb.Services {
				if svc.Of != "" {
					j.front(rep, lbRef, svc)
					continue
				}
				svcRef := graph.Ref{Kind: graph.Service, ID: graph.ServiceID(lb.Name, svc.Namespace, svc.Name)}
				svcEntity := j.g.Put(&graph.Entity{Ref: svcRef, Name: svc.Name, Labels: svc.Labels,
					Attrs:   map[string]string{"lb": lb.Name, "namespace": svc.Namespace},
					Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
				j.g.Link(lbRef, svcRef, rep.Source, rep.Seen)
				for _, inst := range svc.Instances {
					j.instance(rep, lb, lbHost, svcEntity, inst)
				}
			}
		}
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
	attrs := make(map[string]string, 12)
	attrs["lb"], attrs["service"], attrs["server"] = lb.Name, svc.Name, inst.Name
	setIf(attrs, "namespace", svc.Attrs["namespace"])
	attrs["address"], attrs["port"], attrs["position"] = inst.Address, strconv.Itoa(inst.Port), strconv.Itoa(inst.Position)
	attrs["health"], attrs["weight"] = health, strconv.Itoa(inst.Weight)
	if j.process != nil {
		attrs["process"] = j.process.Comm
		attrs["pid"] = strconv.Itoa(j.process.PID)
	}
	if target != nil {
		attrs["resolved_via"] = via
	}
	e := j.g.Put(&graph.Entity{Ref: ref, Name: cmp.Or(inst.Name, key), Attrs: attrs, Labels: inst.Labels,
		Sources: j.g.Single(rep.Source), LastSeen: rep.Seen, Stale: rep.Stale})
	j.g.Connect(svc, e, rep.Source, rep.Seen)
	if target == nil {
		j.warn("instance %s (%s): %s", ref.ID, net.JoinHostPort(inst.Address, strconv.Itoa(inst.Port)), via)
		return
	}
	j.g.Connect(e, target, rep.Source, rep.Seen)
	for _, src := range target.Sources { // the edge rests on the facts that found the target too
		j.g.Connect(e, target, src, target.LastSeen)
	}
}

// resolve finds what an instance address is: a pod, a container, a host process or a host.
// via says how, or, when nothing is found, why.
func (j *joiner) resolve(inst source.Instance, lbHost string) (*graph.Entity, string) {
	addr := inst.Address
	// The pod the LB names, not whatever pod holds its IP now: pod IPs are reused. The
	// instance leads to the pod, and through it to each of its containers.
	if inst.PodUID != "" {
		if p, ok := j.podsByUID[inst.PodUID]; ok {
			return p.entity, "pod named by the source"
		}
	}
	if inst.Host != "" {
		if g := j.hostOf(inst.Host); g != nil {
			return j.onHost(g, addr, inst.Port, "host given by the source")
		}
	}
	// A pod holding the address is the instance only if it is the pod the source named, if
	// it named one: the slice may still list a pod that is gone, whose IP another now has.
	if p, ok := j.podByIP[addr]; ok && (inst.PodUID == "" || inst.PodUID == p.UID) {
		if c := j.podContainer(p, inst.Port); c != nil {
			return c.entity, "pod IP, container listening on the port"
		}
		return p.entity, "pod IP"
	}
	if c, ok := j.byContainerIP[addr]; ok {
		return c.entity, "container address"
	}
	ip := net.ParseIP(addr)
	if ip != nil && ip.IsLoopback() {
		g := j.hostOf(lbHost)
		if g == nil {
			return nil, fmt.Sprintf("loopback address, and the LB's host %q is not known to any fact source", lbHost)
		}
		return j.onHost(g, addr, inst.Port, "loopback address on the LB's host")
	}
	if g, ok := j.hostByAddr[addr]; ok {
		return j.onHost(g, addr, inst.Port, "host address")
	}
	if g := j.hostOf(addr); g != nil { // a host name as the address
		return j.onHost(g, addr, inst.Port, "host name")
	}
	return nil, "no pod, container or host owns this address"
}

// onHost resolves a port on a known host: the container publishing it, else the process
// listening on it, else the host itself.
func (j *joiner) onHost(g *hostGroup, addr string, port int, via string) (*graph.Entity, string) {
	for _, c := range j.containersAt[g] {
		for _, p := range c.Ports {
			if p.HostPort == port && (wildcard(p.HostIP) || p.HostIP == addr) {
				return c.entity, via + ", port published by the container"
			}
		}
	}
	var process *listenerAt
	for i, l := range j.listeners[g] {
		if l.Port != port || l.Netns != "" || !(wildcard(l.Address) || l.Address == addr) {
			continue
		}
		if l.ContainerID != "" {
			if c, ok := j.containers[l.ContainerID]; ok {
				return c.entity, via + ", listener in the container"
			}
		}
		if process == nil {
			process = &j.listeners[g][i]
		}
	}
	if process != nil {
		j.process = process
		return g.entity, fmt.Sprintf("%s, host process %s (pid %d)", via, cmp.Or(process.Comm, "?"), process.PID)
	}
	return g.entity, via
}

// podContainer picks the container of a pod that serves a port: the one listening on it, else
// the pod's only container.
func (j *joiner) podContainer(p *podAt, port int) *containerAt {
	var inPod []*containerAt
	for _, c := range j.containersAt[p.host] {
		if (p.UID != "" && c.PodUID == p.UID) || (c.Pod == p.Name && c.Namespace == p.Namespace) {
			inPod = append(inPod, c)
		}
	}
	for _, c := range inPod {
		for _, l := range j.listeners[p.host] {
			if l.Port == port && l.ContainerID == c.ID {
				return c
			}
		}
	}
	if len(inPod) == 1 {
		return inPod[0]
	}
	return nil
}

// hostOnly drops a port from an address ("10.0.3.17:22" in an inventory) for matching.
func hostOnly(a string) string {
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

func wildcard(a string) bool { return a == "" || a == "0.0.0.0" || a == "::" }

// routable leaves out addresses that many hosts share: loopback, link-local, unspecified.
func routable(a string) bool {
	ip := net.ParseIP(a)
	return ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified()
}

func splitImage(ref string) (name, tag string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
