package graph

import (
	"slices"
	"testing"
)

// TestPathsOf: an instance's paths are one row per container of its pod (with the container's
// host, else the pod's), one for a pod without containers, one for a container or a host it
// leads to directly, and one without anything for an unresolved instance.
func TestPathsOf(t *testing.T) {
	g := New(t0)
	put := func(k Kind, id string) *Entity { return g.Put(&Entity{Ref: Ref{k, id}, Name: id}) }
	link := func(a, b *Entity) { g.Connect(a, b, "test", t0) }
	nodeA, nodeB := put(Host, "node-a"), put(Host, "node-b")

	podInst, pod := put(Instance, "edge/c1ps/s0"), put(Pod, "shop/c1ps-0")
	c1, c2 := put(Container, "c1"), put(Container, "c2")
	link(podInst, pod)
	link(pod, c1)
	link(pod, c2)
	link(pod, nodeA)
	link(c2, nodeB) // the container's own host wins over the pod's

	emptyPodInst, emptyPod := put(Instance, "edge/c1ps/s1"), put(Pod, "shop/c1ps-1")
	link(emptyPodInst, emptyPod)
	link(emptyPod, nodeB)

	containerInst, c3, podOfC3 := put(Instance, "edge/web/s0"), put(Container, "c3"), put(Pod, "shop/web-0")
	link(containerInst, c3)
	link(podOfC3, c3)
	link(c3, nodeA)

	hostInst := put(Instance, "edge/bare/s0")
	link(hostInst, nodeB)

	unresolved := put(Instance, "edge/bare/s1")

	id := func(e *Entity) string {
		if e == nil {
			return "-"
		}
		return e.ID
	}
	rows := func(inst *Entity) []string {
		var out []string
		for _, p := range PathsOf(g, inst) {
			out = append(out, id(p.Instance)+" "+id(p.Pod)+" "+id(p.Container)+" "+id(p.Host))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		inst *Entity
		want []string
	}{
		{podInst, []string{"edge/c1ps/s0 shop/c1ps-0 c1 node-a", "edge/c1ps/s0 shop/c1ps-0 c2 node-b"}},
		{emptyPodInst, []string{"edge/c1ps/s1 shop/c1ps-1 - node-b"}},
		{containerInst, []string{"edge/web/s0 shop/web-0 c3 node-a"}},
		{hostInst, []string{"edge/bare/s0 - - node-b"}},
		{unresolved, []string{"edge/bare/s1 - - -"}},
	} {
		if got := rows(c.inst); !slices.Equal(got, c.want) {
			t.Errorf("PathsOf(%s) = %q, want %q", c.inst.ID, got, c.want)
		}
	}
}
