package join

import (
	"cmp"
	"fmt"
	"net"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Address resolution: what an instance's address and port lead to.

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
			if c, ok := j.containerByID(l.ContainerID); ok {
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
