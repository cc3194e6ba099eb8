package kubernetes

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/strata-obs/strata/topology/source"
)

// The LB providers this source reports. The cluster itself is one LB, named after the source
// (kube-proxy spreads a Service's traffic over its endpoints); a Service of type LoadBalancer
// and an Ingress are LBs in front of cluster Services, named cluster/namespace/name so that
// two clusters' Ingresses of one name stay two. None runs on one host.
const (
	ProviderCluster      = "kubernetes"
	ProviderLoadBalancer = "kubernetes-loadbalancer"
	ProviderIngress      = "kubernetes-ingress"
)

// Objects is what the source read from the API: the pure conversions below take it, so that
// tests build it by hand.
type Objects struct {
	Nodes     []*corev1.Node
	Pods      []*corev1.Pod
	Services  []*corev1.Service
	Slices    []*discoveryv1.EndpointSlice
	Ingresses []*networkingv1.Ingress
}

// nodeHost is what a Node says of its host. The kubelet's kernelVersion is `uname -r`, so it
// is the kernel_release, as kube-state-metrics' mapping has it.
func nodeHost(n *corev1.Node) source.Host {
	info := n.Status.NodeInfo
	h := source.Host{Origin: source.OriginKubernetes, Name: n.Name, MachineID: info.MachineID,
		SystemUUID: info.SystemUUID, Labels: maps.Clone(n.Labels), Attrs: map[string]string{}}
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName:
			h.Hostname = a.Address
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if !slices.Contains(h.Addresses, a.Address) {
				h.Addresses = append(h.Addresses, a.Address)
			}
		}
	}
	set := func(k, v string) {
		if v != "" {
			h.Attrs[k] = v
		}
	}
	set("kernel_release", info.KernelVersion)
	set("os_image", info.OSImage)
	set("arch", unameMachine(info.Architecture))
	set("container_runtime", info.ContainerRuntimeVersion)
	set("kubelet_version", info.KubeletVersion)
	set("provider_id", n.Spec.ProviderID)
	if scheme, _, ok := strings.Cut(n.Spec.ProviderID, "://"); ok {
		set("cloud_provider", scheme)
	}
	set("instance_type", cmp.Or(n.Labels[corev1.LabelInstanceTypeStable], n.Labels[corev1.LabelInstanceType]))
	return h
}

// unameMachine turns Go's architecture names, which the kubelet reports, into `uname -m`'s,
// which the exporter reports, so that the two agree.
func unameMachine(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	}
	return arch
}

// podFacts is a pod and its running containers.
func podFacts(p *corev1.Pod) (source.Pod, []source.Container) {
	pod := source.Pod{Origin: source.OriginKubernetes, Namespace: p.Namespace, Name: p.Name, UID: string(p.UID),
		Node: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork, Phase: string(p.Status.Phase), Labels: maps.Clone(p.Labels)}
	for _, ip := range p.Status.PodIPs {
		pod.IPs = append(pod.IPs, ip.IP)
	}
	if len(pod.IPs) == 0 && p.Status.PodIP != "" {
		pod.IPs = []string{p.Status.PodIP}
	}
	pod.Owner, pod.Ordinal = owner(p)
	var containers []source.Container
	// The containers that run: a pod's own, and its sidecars (init containers that keep
	// running); not those that finished.
	for _, cs := range slices.Concat(p.Status.ContainerStatuses, p.Status.InitContainerStatuses) {
		runtime, id, ok := strings.Cut(cs.ContainerID, "://")
		if !ok || id == "" || cs.State.Running == nil {
			continue
		}
		containers = append(containers, source.Container{Origin: source.OriginKubernetes, Host: p.Spec.NodeName,
			ID: id, Name: cs.Name, Image: cs.Image, ImageID: cs.ImageID, Runtime: runtime,
			Pod: p.Name, Namespace: p.Namespace, PodUID: string(p.UID)})
	}
	return pod, containers
}

// owner names what runs a pod: a ReplicaSet made by a Deployment is named after the
// Deployment (its name is the Deployment's with the pod-template-hash after it), a
// StatefulSet's pod also gets its ordinal.
func owner(p *corev1.Pod) (owner, ordinal string) {
	for _, ref := range p.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		switch ref.Kind {
		case "ReplicaSet":
			if hash := p.Labels["pod-template-hash"]; hash != "" {
				if deployment, ok := strings.CutSuffix(ref.Name, "-"+hash); ok {
					return "Deployment/" + deployment, ""
				}
			}
		case "StatefulSet":
			return "StatefulSet/" + ref.Name, statefulOrdinal(p, ref.Name)
		}
		return ref.Kind + "/" + ref.Name, ""
	}
	return "", ""
}

// statefulOrdinal is a StatefulSet pod's ordinal: its pod-index label (Kubernetes ≥ 1.28), else
// the number after the set's name.
func statefulOrdinal(p *corev1.Pod, set string) string {
	if i := p.Labels["apps.kubernetes.io/pod-index"]; i != "" {
		return i
	}
	if n, ok := strings.CutPrefix(p.Name, set+"-"); ok {
		if _, err := strconv.Atoi(n); err == nil {
			return n
		}
	}
	return ""
}

// facts converts nodes and pods.
func facts(o Objects) *source.FactSet {
	fs := &source.FactSet{Hosts: make([]source.Host, 0, len(o.Nodes)), Pods: make([]source.Pod, 0, len(o.Pods))}
	for _, n := range o.Nodes {
		fs.Hosts = append(fs.Hosts, nodeHost(n))
	}
	for _, p := range o.Pods {
		pod, containers := podFacts(p)
		fs.Pods = append(fs.Pods, pod)
		fs.Containers = append(fs.Containers, containers...)
	}
	return fs
}

// loadBalancers converts Services, their EndpointSlices and Ingresses: the cluster LB
// (named after the source) with every Service, then one LB per Service of type
// LoadBalancer and per Ingress, each fronting cluster Services.
func loadBalancers(cluster string, o Objects) []source.LB {
	pods := make(map[string]*corev1.Pod, len(o.Pods))
	for _, p := range o.Pods {
		pods[p.Namespace+"/"+p.Name] = p
	}
	slicesOf := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range o.Slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			slicesOf[s.Namespace+"/"+name] = append(slicesOf[s.Namespace+"/"+name], s)
		}
	}
	services := sortedBy(o.Services, func(s *corev1.Service) string { return s.Namespace + "/" + s.Name })
	out := []source.LB{{Name: cluster, Provider: ProviderCluster, NoHost: true, Services: make([]source.Service, 0, len(services))}}
	for _, svc := range services {
		out[0].Services = append(out[0].Services, source.Service{Name: svc.Name, Namespace: svc.Namespace, Labels: maps.Clone(svc.Labels),
			Instances: instances(svc, slicesOf[svc.Namespace+"/"+svc.Name], pods)})
	}
	for _, svc := range services {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		var addrs []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			for _, p := range svc.Spec.Ports {
				addrs = append(addrs, net.JoinHostPort(cmp.Or(ing.IP, ing.Hostname), strconv.Itoa(int(p.Port))))
			}
		}
		out = append(out, source.LB{Name: cluster + "/" + svc.Namespace + "/" + svc.Name, Provider: ProviderLoadBalancer, NoHost: true, Addresses: addrs,
			Labels: maps.Clone(svc.Labels), Services: []source.Service{{Name: svc.Name, Namespace: svc.Namespace, Of: cluster}}})
	}
	for _, ing := range sortedBy(o.Ingresses, func(i *networkingv1.Ingress) string { return i.Namespace + "/" + i.Name }) {
		lb := source.LB{Name: cluster + "/" + ing.Namespace + "/" + ing.Name, Provider: ProviderIngress, NoHost: true, Labels: maps.Clone(ing.Labels)}
		for _, a := range ing.Status.LoadBalancer.Ingress {
			lb.Addresses = append(lb.Addresses, cmp.Or(a.IP, a.Hostname))
		}
		// A backend Service that does not exist is the join's warning to give.
		for _, name := range ingressBackends(ing) {
			lb.Services = append(lb.Services, source.Service{Name: name, Namespace: ing.Namespace, Of: cluster})
		}
		out = append(out, lb)
	}
	return out
}

// ingressBackends are the Services an Ingress sends to, each once, in the order it names them.
func ingressBackends(ing *networkingv1.Ingress) []string {
	var names []string
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && !slices.Contains(names, b.Service.Name) {
			names = append(names, b.Service.Name)
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			add(&p.Backend)
		}
	}
	return names
}

// endpoint is one backend of a Service, from its EndpointSlices.
type endpoint struct {
	source.Instance
	ordinal int // StatefulSet ordinal; -1 for none
	v6      bool
}

// instances are a Service's endpoints, one per pod (or address without a pod), positioned
// by StatefulSet ordinal, then name. A dual-stack Service lists each pod in two slices: the
// address of the Service's first IP family is kept.
func instances(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, pods map[string]*corev1.Pod) []source.Instance {
	preferV6 := len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	portName := ""
	if len(svc.Spec.Ports) > 0 {
		portName = svc.Spec.Ports[0].Name
	}
	byKey := map[string]endpoint{}
	for _, s := range eps {
		port := 0
		for _, p := range s.Ports {
			if p.Port != nil && deref(p.Name) == portName {
				port = int(*p.Port)
			}
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ep := endpoint{Instance: source.Instance{Address: e.Addresses[0], Port: port, Health: health(e.Conditions), Weight: 1},
				ordinal: -1, v6: s.AddressType == discoveryv1.AddressTypeIPv6}
			key := ep.Address
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				ep.Name, ep.PodUID, key = e.TargetRef.Name, string(e.TargetRef.UID), "pod:"+e.TargetRef.Name
				if p := pods[svc.Namespace+"/"+e.TargetRef.Name]; p != nil {
					if _, ord := owner(p); ord != "" {
						if n, err := strconv.Atoi(ord); err == nil {
							ep.ordinal = n
						}
					}
				}
			}
			if old, ok := byKey[key]; ok && old.v6 == preferV6 {
				continue
			}
			byKey[key] = ep
		}
	}
	all := make([]endpoint, 0, len(byKey))
	for _, ep := range byKey {
		all = append(all, ep)
	}
	slices.SortFunc(all, func(a, b endpoint) int {
		if (a.ordinal >= 0) != (b.ordinal >= 0) {
			return cmp.Compare(b.ordinal, a.ordinal) // with an ordinal first
		}
		return cmp.Or(cmp.Compare(a.ordinal, b.ordinal), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Address, b.Address))
	})
	out := make([]source.Instance, len(all))
	for i, ep := range all {
		ep.Position = i
		out[i] = ep.Instance
	}
	return out
}

// health maps an endpoint's conditions as kube-proxy reads them: ready is UP (unset means
// ready), serving while terminating is DRAIN, anything else DOWN.
func health(c discoveryv1.EndpointConditions) string {
	switch {
	case c.Ready == nil || *c.Ready:
		return source.HealthUp
	case c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating:
		return source.HealthDrain
	}
	return source.HealthDown
}

// sortedBy copies objects sorted by a key, for an answer that does not depend on the
// order of the informer's cache.
func sortedBy[T any](objs []T, key func(T) string) []T {
	out := slices.Clone(objs)
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
