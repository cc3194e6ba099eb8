package join

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// golden compares the graph's dump and the warnings with testdata/<name>.golden.
func golden(t *testing.T, name string, in Input) *graph.Graph {
	t.Helper()
	g, warnings := Build(in)
	got := graph.Dump(g) + "# warnings\n" + strings.Join(warnings, "\n") + "\n"
	testenv.Golden(t, filepath.Join("testdata", name+".golden"), got)
	return g
}

func exporterHost(name, mid string, addrs []string, attrs map[string]string) source.Host {
	return source.Host{Origin: source.OriginExporter, Name: name, Hostname: name, MachineID: mid, Addresses: addrs, Attrs: attrs}
}

func facts(src string, fs *source.FactSet) FactReport {
	return FactReport{Source: src, Facts: fs, Seen: t0}
}

func lbs(src string, lb ...source.LB) LBReport { return LBReport{Source: src, LBs: lb, Seen: t0} }

// downTo follows edges from r to the first entity of kind k, depth first.
func downTo(g *graph.Graph, r graph.Ref, k graph.Kind) []graph.Ref {
	var out []graph.Ref
	for _, e := range g.Down(r) {
		if e.To().Kind == k {
			out = append(out, e.To())
			continue
		}
		out = append(out, downTo(g, e.To(), k)...)
	}
	return out
}

// TestHAProxyOnOneHost: the c1ps backend: two servers in containers (one published
// port, one reached through its listener), one plain process on the host, all on loopback.
func TestHAProxyOnOneHost(t *testing.T) {
	const c1, c2 = "aaaa000000000000000000000000000000000000000000000000000000000001", "bbbb000000000000000000000000000000000000000000000000000000000002"
	in := Input{At: t0, LocalHost: "vm",
		Facts: []FactReport{facts("metrics", &source.FactSet{
			Hosts: []source.Host{exporterHost("vm", "3d1219c7c4c5404aaa1f6d2a48adfda4", []string{"127.0.0.1", "192.0.2.2", "10.88.0.1"},
				map[string]string{"kernel_release": "6.18.44", "os_image": "Debian GNU/Linux 12 (bookworm)"})},
			Containers: []source.Container{
				{Host: "vm", ID: c1, Name: "c1ps-0", Image: "localhost/strata-test:1", ImageID: "sha256:b539", Runtime: "podman",
					Addresses: []string{"10.88.0.2"}, Ports: []source.Port{{Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 8080}}},
				{Host: "vm", ID: c2, Name: "c1ps-1", Image: "localhost/strata-test:1", Runtime: "runc"},
			},
			Listeners: []source.Listener{
				{Host: "vm", Address: "127.0.0.1", Port: 18081, PID: 4242, Comm: "httpd", ContainerID: c2},
				{Host: "vm", Address: "0.0.0.0", Port: 18082, PID: 999, Comm: "python3"},
			},
		})},
		LBs: []LBReport{lbs("haproxy/edge", source.LB{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
			Instances: []source.Instance{
				{Name: "s0", Address: "127.0.0.1", Port: 18080, Position: 0, Health: "UP", Weight: 1},
				{Name: "s1", Address: "127.0.0.1", Port: 18081, Position: 1, Health: "UP", Weight: 1},
				{Name: "s2", Address: "127.0.0.1", Port: 18082, Position: 2, Health: "DOWN", Weight: 1},
			}}}})},
	}
	g := golden(t, "haproxy-one-host", in)
	for i, want := range []graph.Ref{{Kind: graph.Container, ID: c1}, {Kind: graph.Container, ID: c2}, {Kind: graph.Host, ID: "vm"}} {
		inst := graph.Ref{Kind: graph.Instance, ID: "edge/c1ps/s" + string(rune('0'+i))}
		got := g.Down(inst)
		if len(got) != 1 || got[0].To() != want {
			t.Errorf("%s resolves to %v, want %s", inst, got, want)
		}
		if hosts := downTo(g, inst, graph.Host); len(hosts) != 1 || hosts[0].ID != "vm" {
			t.Errorf("%s reaches hosts %v, want vm", inst, hosts)
		}
	}
}

// TestHostNetworkPods: two host-network pods share the node IP; their instances resolve
// through the port to the container listening on it, not to "the pod with that IP".
func TestHostNetworkPods(t *testing.T) {
	const ca, cb = "cccc000000000000000000000000000000000000000000000000000000000001", "dddd000000000000000000000000000000000000000000000000000000000002"
	in := Input{At: t0,
		Facts: []FactReport{facts("metrics", &source.FactSet{
			Hosts: []source.Host{exporterHost("node-1", "11111111111111111111111111111111", []string{"10.0.0.1"}, nil)},
			Pods: []source.Pod{
				{Origin: source.OriginKubeStateMetrics, Namespace: "kube-system", Name: "ingress-a", UID: "uid-a", Node: "node-1", IPs: []string{"10.0.0.1"}, HostNetwork: true, Phase: "Running"},
				{Origin: source.OriginKubeStateMetrics, Namespace: "kube-system", Name: "metrics-b", UID: "uid-b", Node: "node-1", IPs: []string{"10.0.0.1"}, HostNetwork: true, Phase: "Running"},
			},
			Containers: []source.Container{
				{Host: "node-1", ID: ca, Name: "ingress", Image: "ingress:1", Pod: "ingress-a", Namespace: "kube-system", PodUID: "uid-a", Runtime: "containerd"},
				{Host: "node-1", ID: cb, Name: "metrics", Image: "metrics:2", Pod: "metrics-b", Namespace: "kube-system", PodUID: "uid-b", Runtime: "containerd"},
			},
			Listeners: []source.Listener{
				{Host: "node-1", Address: "0.0.0.0", Port: 443, PID: 10, Comm: "ingress", ContainerID: ca},
				{Host: "node-1", Address: "0.0.0.0", Port: 9100, PID: 11, Comm: "metrics", ContainerID: cb},
			},
		})},
		LBs: []LBReport{lbs("inventory", source.LB{Name: "edge", Provider: "aws-nlb", Services: []source.Service{
			{Name: "https", Instances: []source.Instance{{Name: "n1", Address: "10.0.0.1", Port: 443}}},
			{Name: "metrics", Instances: []source.Instance{{Name: "n1", Address: "10.0.0.1", Port: 9100}}},
		}})},
	}
	g := golden(t, "host-network-pods", in)
	for inst, want := range map[string]string{"edge/https/n1": ca, "edge/metrics/n1": cb} {
		got := g.Down(graph.Ref{Kind: graph.Instance, ID: inst})
		if len(got) != 1 || got[0].To().ID != want {
			t.Errorf("%s resolves to %v, want container %s", inst, got, want[:4])
		}
	}
}

// TestPodIPReused: a finished pod still reported with the IP a new running pod now has; the
// instance at that IP is the new pod's, and the pods stay apart by uid.
func TestPodIPReused(t *testing.T) {
	in := Input{At: t0,
		Facts: []FactReport{facts("metrics", &source.FactSet{
			Hosts: []source.Host{exporterHost("node-1", "11111111111111111111111111111111", []string{"10.0.0.1"}, nil)},
			Pods: []source.Pod{
				{Namespace: "shop", Name: "web-new", UID: "uid-new", Node: "node-1", IPs: []string{"10.244.1.7"}, Phase: "Running"},
				{Namespace: "shop", Name: "web-old", UID: "uid-old", Node: "node-1", IPs: []string{"10.244.1.7"}, Phase: "Succeeded"},
			},
		})},
		LBs: []LBReport{lbs("inventory", source.LB{Name: "edge", Provider: "k8s", Services: []source.Service{
			{Name: "web", Instances: []source.Instance{{Address: "10.244.1.7", Port: 8080}}},
		}})},
	}
	g := golden(t, "pod-ip-reused", in)
	got := g.Down(graph.Ref{Kind: graph.Instance, ID: "edge/web/10.244.1.7:8080"})
	if len(got) != 1 || got[0].To().ID != "shop/web-new" {
		t.Errorf("instance resolves to %v, want pod shop/web-new", got)
	}
}

// TestSameHostname: two machines both called "web" (different machine-ids) stay two hosts;
// an instance reaches each through its own address.
func TestSameHostname(t *testing.T) {
	in := Input{At: t0,
		Facts: []FactReport{facts("metrics", &source.FactSet{Hosts: []source.Host{
			exporterHost("web", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", []string{"10.0.1.1"}, map[string]string{"kernel_release": "5.4.0"}),
			exporterHost("web", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", []string{"10.0.1.2"}, map[string]string{"kernel_release": "6.1.0"}),
		}})},
		LBs: []LBReport{lbs("inventory", source.LB{Name: "edge", Provider: "f5", Services: []source.Service{
			{Name: "web", Instances: []source.Instance{{Name: "a", Address: "10.0.1.1", Port: 80}, {Name: "b", Address: "10.0.1.2", Port: 80, Position: 1}}},
		}})},
	}
	g := golden(t, "same-hostname", in)
	if n := len(g.Entities(graph.Host)); n != 2 {
		t.Fatalf("%d hosts, want 2", n)
	}
	for inst, kernel := range map[string]string{"edge/web/a": "5.4.0", "edge/web/b": "6.1.0"} {
		hosts := downTo(g, graph.Ref{Kind: graph.Instance, ID: inst}, graph.Host)
		if len(hosts) != 1 {
			t.Fatalf("%s reaches %v", inst, hosts)
		}
		h, _ := g.Get(hosts[0])
		if h.Attrs.Get("kernel_release") != kernel {
			t.Errorf("%s runs on %s with kernel %q, want %q", inst, h.ID, h.Attrs.Get("kernel_release"), kernel)
		}
	}
}

// TestSourcesDisagree: the exporter, node_exporter, kube-state-metrics and the inventory all
// describe node-17; the exporter's facts win, the weaker ones fill what it lacks, and the
// inventory host known only by address joins the same host.
func TestSourcesDisagree(t *testing.T) {
	in := Input{At: t0,
		Facts: []FactReport{
			facts("inventory", &source.FactSet{Hosts: []source.Host{
				{Origin: source.OriginInventory, Name: "node-17", Addresses: []string{"10.0.3.17"},
					Attrs:  map[string]string{"kernel_release": "6.1.0-13-amd64", "os_image": "Flatcar 3815.2.0", "product_name": "PowerEdge R640"},
					Labels: map[string]string{"rack": "r12"}},
				{Origin: source.OriginInventory, Addresses: []string{"10.0.3.17"}, Labels: map[string]string{"zone": "eu-1a"}},
			}}),
			facts("metrics", &source.FactSet{Hosts: []source.Host{
				{Origin: source.OriginKubeStateMetrics, Name: "node-17", SystemUUID: "4C4C4544-0058-5910-805A-B8C04F313233",
					Attrs: map[string]string{"kernel_release": "6.1.0-12-amd64", "os_image": "Flatcar 3760.2.0", "container_runtime": "containerd://1.7"}},
				{Origin: source.OriginNodeExporter, Name: "node-17", Hostname: "node-17.example",
					Attrs: map[string]string{"kernel_release": "6.1.0-14-amd64", "os_id": "flatcar"}},
				exporterHost("node-17", "17171717171717171717171717171717", []string{"10.0.3.17"},
					map[string]string{"kernel_release": "6.1.0-15-amd64", "os_image": "Flatcar 3815.2.1"}),
			}}),
		},
	}
	g := golden(t, "sources-disagree", in)
	hosts := g.Entities(graph.Host)
	if len(hosts) != 1 {
		t.Fatalf("%d hosts, want 1: %v", len(hosts), graph.Dump(g))
	}
	h := hosts[0]
	for k, want := range map[string]string{"kernel_release": "6.1.0-15-amd64", "os_image": "Flatcar 3815.2.1", "os_id": "flatcar",
		"product_name": "PowerEdge R640", "container_runtime": "containerd://1.7"} {
		if h.Attrs.Get(k) != want {
			t.Errorf("host %s = %q, want %q (precedence exporter > node_exporter > kube-state-metrics > inventory)", k, h.Attrs.Get(k), want)
		}
	}
	if h.Labels["rack"] != "r12" || h.Labels["zone"] != "eu-1a" {
		t.Errorf("labels %v, want rack and zone from the inventory", h.Labels)
	}
}

// TestStaleSource: entities of a source that stopped answering are kept, marked stale.
func TestStaleSource(t *testing.T) {
	in := Input{At: t0, LocalHost: "vm",
		Facts: []FactReport{facts("metrics", &source.FactSet{Hosts: []source.Host{exporterHost("vm", "", []string{"192.0.2.2"}, nil)}})},
		LBs: []LBReport{{Source: "haproxy/edge", Seen: t0.Add(-time.Minute), Stale: true,
			LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps",
				Instances: []source.Instance{{Name: "s0", Address: "192.0.2.2", Port: 80}}}}}}}},
	}
	g := golden(t, "stale-source", in)
	for _, k := range []graph.Kind{graph.LB, graph.Service, graph.Instance} {
		for _, e := range g.Entities(k) {
			if !e.Stale {
				t.Errorf("%s is not marked stale", e.Ref)
			}
		}
	}
	if h, _ := g.Get(graph.Ref{Kind: graph.Host, ID: "vm"}); h == nil || h.Stale {
		t.Errorf("host vm from a live source: %+v", h)
	}
}

// TestKubernetesSource: what the Kubernetes source reports. Two namespaces each have a
// Service c1ps and stay two services; an instance resolves to the pod its EndpointSlice names
// by uid even though another (newer, running) pod now holds the same IP; an Ingress fronts the
// cluster's Service instead of making another; the exporter's kernel wins over the Node's.
func TestKubernetesSource(t *testing.T) {
	in := Input{At: t0,
		Facts: []FactReport{
			facts("k8s", &source.FactSet{
				Hosts: []source.Host{
					{Origin: source.OriginKubernetes, Name: "node-1", MachineID: "m1", Attrs: map[string]string{"kernel_release": "6.1.0-node-says"}},
					{Origin: source.OriginKubernetes, Name: "node-2", MachineID: "m2", Attrs: map[string]string{"kernel_release": "6.6.0"}},
				},
				Pods: []source.Pod{
					{Origin: source.OriginKubernetes, Namespace: "shop", Name: "c1ps-0", UID: "u-old", Node: "node-1", IPs: []string{"10.244.1.5"}, Phase: "Running", Owner: "StatefulSet/c1ps", Ordinal: "0"},
					{Origin: source.OriginKubernetes, Namespace: "other", Name: "batch-1", UID: "u-other", Node: "node-2", IPs: []string{"10.244.1.5"}, Phase: "Running"},
					{Origin: source.OriginKubernetes, Namespace: "other", Name: "newcomer", UID: "u-new", Node: "node-2", IPs: []string{"10.244.9.9"}, Phase: "Running"},
				},
				Containers: []source.Container{
					{Origin: source.OriginKubernetes, Host: "node-1", ID: "c0", Name: "app", Image: "c1ps:2", Runtime: "containerd", Pod: "c1ps-0", Namespace: "shop", PodUID: "u-old"},
					{Origin: source.OriginKubernetes, Host: "node-1", ID: "ingress-ctl", Name: "controller", Runtime: "containerd"},
				},
			}),
			// The exporter's record of a container the API also reports: its published port
			// must count though the source "k8s" sorts before "metrics".
			facts("metrics", &source.FactSet{
				Hosts: []source.Host{exporterHost("node-1", "m1", []string{"10.0.3.1"}, map[string]string{"kernel_release": "6.1.0-13-amd64"})},
				Containers: []source.Container{{Origin: source.OriginExporter, Host: "node-1", ID: "ingress-ctl", Name: "k8s_controller",
					Ports: []source.Port{{Protocol: "tcp", HostPort: 443, ContainerPort: 8443}}}},
			}),
		},
		LBs: []LBReport{lbs("k8s",
			source.LB{Name: "k8s", Provider: "kubernetes", Services: []source.Service{
				{Name: "c1ps", Namespace: "other", Instances: []source.Instance{{Name: "batch-1", Address: "10.244.1.5", Port: 80, PodUID: "u-other"}}},
				{Name: "c1ps", Namespace: "shop", Instances: []source.Instance{{Name: "c1ps-0", Address: "10.244.1.5", Port: 8443, PodUID: "u-old"},
					// A slice that still lists a pod gone since, whose IP a newcomer took.
					{Name: "c1ps-1", Address: "10.244.9.9", Port: 8443, PodUID: "u-gone", Position: 1}}},
			}},
			source.LB{Name: "haproxy", Provider: "haproxy", Services: []source.Service{
				{Name: "ingress", Instances: []source.Instance{{Name: "n1", Address: "10.0.3.1", Port: 443}}}}},
			source.LB{Name: "shop/edge", Provider: "kubernetes-ingress", Services: []source.Service{
				{Name: "c1ps", Namespace: "shop", Of: "k8s"}, {Name: "gone", Namespace: "shop", Of: "k8s"}}},
		)},
	}
	g, warnings := Build(in)
	if n := g.Count(graph.Service); n != 3 {
		t.Errorf("%d services, want 3 (shop/c1ps and other/c1ps, haproxy's ingress)", n)
	}
	for inst, want := range map[string]string{"k8s/shop/c1ps/c1ps-0": "6.1.0-13-amd64", "k8s/other/c1ps/batch-1": "6.6.0"} {
		// The pod leads to its host directly and through its container: the same host.
		hosts := slices.Compact(downTo(g, graph.Ref{Kind: graph.Instance, ID: inst}, graph.Host))
		if len(hosts) != 1 {
			t.Fatalf("%s reaches hosts %v, want one", inst, hosts)
		}
		if h, _ := g.Get(hosts[0]); h.Attrs.Get("kernel_release") != want {
			t.Errorf("%s runs on %s with kernel %q, want %q", inst, h.ID, h.Attrs.Get("kernel_release"), want)
		}
	}
	if got := g.Down(graph.Ref{Kind: graph.Instance, ID: "k8s/shop/c1ps/c1ps-0"}); len(got) != 1 || got[0].To().ID != "shop/c1ps-0" {
		t.Errorf("instance shop/c1ps-0 leads to %v, want the pod shop/c1ps-0 its slice names (not other/batch-1, which holds its IP)", got)
	}
	if got := downTo(g, graph.Ref{Kind: graph.Instance, ID: "k8s/shop/c1ps/c1ps-0"}, graph.Container); len(got) != 1 || got[0].ID != "c0" {
		t.Errorf("shop/c1ps-0 reaches containers %v, want c0", got)
	}
	inst, _ := g.Get(graph.Ref{Kind: graph.Instance, ID: "k8s/shop/c1ps/c1ps-0"})
	if inst == nil || inst.Attrs.Get("namespace") != "shop" || inst.Attrs.Get("service") != "c1ps" {
		t.Errorf("instance attributes: %v", inst)
	}
	if got := g.Down(graph.Ref{Kind: graph.Instance, ID: "k8s/shop/c1ps/c1ps-1"}); len(got) != 0 {
		t.Errorf("an instance whose pod is gone leads to %v, want nothing (not the pod that took its IP)", got)
	}
	if got := g.Down(graph.Ref{Kind: graph.Instance, ID: "haproxy/ingress/n1"}); len(got) != 1 || got[0].To().ID != "ingress-ctl" {
		t.Errorf("node-1:443 leads to %v, want the container publishing it", got)
	}
	if c, _ := g.Get(graph.Ref{Kind: graph.Container, ID: "ingress-ctl"}); c == nil || c.Name != "k8s_controller" {
		t.Errorf("container ingress-ctl: %v, want the exporter's name first", c)
	}
	edge := g.Down(graph.Ref{Kind: graph.LB, ID: "kubernetes-ingress/shop/edge"})
	if len(edge) != 1 || edge[0].To().ID != "k8s/shop/c1ps" {
		t.Errorf("the ingress leads to %v, want the cluster's service k8s/shop/c1ps only", edge)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "fronts service k8s/shop/gone") }) {
		t.Errorf("no warning for the ingress's missing service: %q", warnings)
	}
}

// TestSystemUUIDOnlyFromSerials: the SMBIOS UUID counts as a serial number. The Kubernetes API
// and kube-state-metrics report it whatever --collector.dmi.serials says: it matches their host
// with the exporter's, but only the exporter's (which reports it when asked) shows it.
func TestSystemUUIDOnlyFromSerials(t *testing.T) {
	const uuid = "4c4c4544-0058-5910-805a-b8c04f313233"
	for _, tc := range []struct {
		name  string
		hosts []source.Host
		shown bool
	}{
		{"kubernetes only", []source.Host{
			{Origin: source.OriginKubernetes, Name: "k8s-node", SystemUUID: uuid},
			{Origin: source.OriginExporter, Name: "vm", Hostname: "vm"},
		}, false},
		{"exporter with serials", []source.Host{
			{Origin: source.OriginKubernetes, Name: "k8s-node", SystemUUID: uuid},
			{Origin: source.OriginExporter, Name: "vm", Hostname: "vm", SystemUUID: uuid},
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := Build(Input{At: t0, Facts: []FactReport{facts("metrics", &source.FactSet{Hosts: tc.hosts})}})
			for _, h := range g.Entities(graph.Host) {
				if got := h.Attrs.Get("system_uuid"); (got != "") != tc.shown {
					t.Errorf("%s: system_uuid %q, shown=%v wanted", h.ID, got, tc.shown)
				}
			}
		})
	}
}

// TestAttrsOfTwoEntitiesStayApart: the join carves every entity's attributes from one block;
// a fact added later to one (a container's pod, found after it was put) must not write over
// the next one's.
func TestAttrsOfTwoEntitiesStayApart(t *testing.T) {
	j := &joiner{in: Input{Cluster: "eu-1"}, g: graph.New(time.Time{})}
	a := j.put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "a"}, Attrs: append(j.attrs(1), graph.Attr{Name: "x", Value: "1"})})
	b := j.put(&graph.Entity{Ref: graph.Ref{Kind: graph.Host, ID: "b"}, Attrs: append(j.attrs(1), graph.Attr{Name: "x", Value: "2"})})
	for i := range 5 {
		a.Attrs.Set(fmt.Sprint("more", i), "a")
	}
	if b.Attrs.Get("x") != "2" || b.Attrs.Get("cluster") != "eu-1" || len(b.Attrs) != 2 {
		t.Errorf("b's attributes were written over by a's: %v", b.Attrs)
	}
	if a.Attrs.Get("x") != "1" || a.Attrs.Get("more4") != "a" || a.Attrs.Get("cluster") != "eu-1" {
		t.Errorf("a's attributes: %v", a.Attrs)
	}
}

// TestJoinAfterLastGraph: a join that keeps the last graph's entities answers as a join from
// scratch, when a second source starts to report a container the last graph kept from the
// first (the kept container is copied for the merge, and the instance that resolves to it
// rests on both sources' facts), and the last graph does not change.
func TestJoinAfterLastGraph(t *testing.T) {
	const c1 = "aaaa000000000000000000000000000000000000000000000000000000000001"
	host := exporterHost("vm", "3d1219c7c4c5404aaa1f6d2a48adfda4", []string{"127.0.0.1", "192.0.2.2"}, map[string]string{"kernel_release": "6"})
	ctr := source.Container{Origin: source.OriginExporter, Host: "vm", ID: c1, Name: "c1", Image: "img:1", Runtime: "podman",
		Ports: []source.Port{{Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 8080}}}
	lb := lbs("haproxy/edge", source.LB{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "svc",
		Instances: []source.Instance{{Name: "s0", Address: "127.0.0.1", Port: 18080, Health: "UP", Weight: 1}}}}})
	first := Input{At: t0, LocalHost: "vm", Facts: []FactReport{facts("metrics", &source.FactSet{Hosts: []source.Host{host}, Containers: []source.Container{ctr}})},
		LBs: []LBReport{lb}}
	last, _ := Build(first)
	before := graph.Dump(last)

	seen := ctr
	seen.Origin, seen.Ports = source.OriginCAdvisor, nil
	next := first
	next.At = t0.Add(15 * time.Second)
	next.Facts = []FactReport{first.Facts[0], facts("cadvisor", &source.FactSet{Containers: []source.Container{seen}})}
	fresh, _ := Build(next)
	next.Last = last
	kept, _ := Build(next)
	if got, want := graph.Dump(kept), graph.Dump(fresh); got != want {
		t.Errorf("after the last graph:\n%s\nfrom scratch:\n%s", got, want)
	}
	inst := graph.Ref{Kind: graph.Instance, ID: "edge/svc/s0"}
	if down := kept.Down(inst); len(down) != 1 || !slices.Contains(down[0].Sources, "cadvisor") {
		t.Errorf("the instance's edge to its container: %v, want it to rest on cadvisor's facts too", down)
	}
	if got := graph.Dump(last); got != before {
		t.Errorf("the join changed the last graph:\n%s\nwas:\n%s", got, before)
	}
}
