package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
	"github.com/strata-obs/strata/internal/kubetest"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/querytest"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/config"
)

// fixtureNode is the exporter's fixture of a Kubernetes worker: its host name, what it
// reports of itself, and one of its containers, listening on a pod address.
const (
	fixtureNode      = "k8s-worker-3"
	fixtureDir       = "../exporter/collector/testdata/k8s-containerd-v2"
	fixtureContainer = "f7994a7cfefcebdb78a5326f52b417c5cc38931ea9661897d4dea9f8e4e0ddbe" // java on 10.244.3.7:8443
	fixturePodIP     = "10.244.3.7"
)

// fixtureExporter is strata up's in-process exporter pointed at the fixture host.
func fixtureExporter(t *testing.T) *exporter.Options {
	f, err := os.Open(filepath.Join(fixtureDir, "addresses.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addrs := map[string][]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if dev, addr, ok := strings.Cut(sc.Text(), " "); ok {
			addrs[dev] = append(addrs[dev], addr)
		}
	}
	// The host label is the node's name, as the DaemonSet's NODE_NAME makes it.
	return &exporter.Options{Enabled: collector.DefaultEnabled(), HostName: fixtureNode, Collector: collector.Config{
		ProcFS: filepath.Join(fixtureDir, "proc"), SysFS: filepath.Join(fixtureDir, "sys"), RootFS: filepath.Join(fixtureDir, "root"),
		AddressLister: func(dev string) ([]string, error) { return addrs[dev], nil }}}
}

// TestKubernetesSource: a real kube-apiserver and controller manager (its StatefulSet and
// EndpointSlice controllers at work); the test plays scheduler and kubelet, binding pods and
// writing their status. strata watches the API with a refresh interval of an hour, so every
// change the test sees came through the watch.
func TestKubernetesSource(t *testing.T) {
	cluster := kubetest.Start(t)
	ctx := context.Background()
	kc := cluster.Client
	truthKernel := strings.TrimSpace(readFile(t, filepath.Join(fixtureDir, "proc/sys/kernel/osrelease")))
	truthMachineID := strings.TrimSpace(readFile(t, filepath.Join(fixtureDir, "root/etc/machine-id")))

	// Nodes as kubelets register them. The fixture's node says a kernel the exporter
	// contradicts: the exporter's facts win.
	setNode := func(kc kubernetes.Interface, name, kernel, machineID, ip string) {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			n, err = kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
		n.Status = corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
			NodeInfo: corev1.NodeSystemInfo{KernelVersion: kernel, MachineID: machineID, OSImage: "Flatcar Container Linux (as the node says)",
				Architecture: "amd64", ContainerRuntimeVersion: "containerd://1.7.24", KubeletVersion: kubetest.Version}}
		if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("node %s status: %v", name, err)
		}
	}
	setNode(kc, fixtureNode, "6.6.0-what-the-node-says", truthMachineID, "10.0.3.23")
	setNode(kc, "k8s-worker-4", "6.1.0-21-amd64", "aaaabbbbccccddddeeeeffff00001111", "10.0.3.24")
	const ns = "shop"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "the default ServiceAccount of "+ns, func() error {
		_, err := kc.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})

	// strata, with the source built from a kubeconfig as strata serve builds it.
	cfg, err := config.Parse("strata.yml", []byte("sources:\n  - type: kubernetes\n    kubeconfig: "+cluster.Kubeconfig+"\n"), server.Providers())
	if err != nil {
		t.Fatal(err)
	}
	lbSources, factSources, err := server.BuildSources(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, server.Options{Exporter: fixtureExporter(t), LocalHost: "strata-test",
		RefreshInterval: time.Hour, ScrapeInterval: time.Second, Allowlist: []string{"team"},
		LBSources: lbSources, FactSources: factSources})

	// The Service (type LoadBalancer, its address as a cloud controller would write it), a
	// StatefulSet of two, and an Ingress in front.
	svc, err := kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "c1ps", Labels: map[string]string{"team": "payments", "cost-centre": "4711"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "c1ps"},
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	if _, err := kc.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "c1ps"}
	if _, err := kc.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "c1ps"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(2)), ServiceName: "c1ps", PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "registry.example/c1ps:2.1", Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}}}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pathType := networkingv1.PathTypePrefix
	if _, err := kc.NetworkingV1().Ingresses(ns).Create(ctx, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "edge"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "pay.example", IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "c1ps", Port: networkingv1.ServiceBackendPort{Number: 443}}}}}}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	otherContainer := testenv.RandomHex(t, 32)
	run := func(pod, node, ip, containerID string) types.UID {
		return schedule(t, kc, ns, pod, node, ip, containerID)
	}
	run("c1ps-0", fixtureNode, fixturePodIP, fixtureContainer)
	oldUID := run("c1ps-1", "k8s-worker-4", "10.244.4.9", otherContainer)

	hostRow := func(host, kernel string) []string {
		return []string{querytest.FormatRow([]string{"host", host, kernel})}
	}
	const instanceHost = `service{name="c1ps"} -> instance[%d] -> host .kernel_release`
	eventually := func(q, at string, rows []string) {
		t.Helper()
		testenv.Eventually(t, pollTimeout, q, func() error { return a.expect(q, at, rows) })
	}
	eventually(`service{name="c1ps"} -> instance .server .health`, "", []string{
		querytest.FormatRow([]string{"instance", "kubernetes/shop/c1ps/c1ps-0", "c1ps-0", "UP"}),
		querytest.FormatRow([]string{"instance", "kubernetes/shop/c1ps/c1ps-1", "c1ps-1", "UP"}),
	})
	// The mission question: the fixture's kernel as its exporter reports it, not as the Node says.
	eventually(fmt.Sprintf(instanceHost, 0), "", hostRow(fixtureNode, truthKernel))
	for q, rows := range map[string][]string{
		fmt.Sprintf(instanceHost, 1):                                 hostRow("k8s-worker-4", "6.1.0-21-amd64"),
		`service{name="c1ps"} -> instance[0] -> container .image`:    {querytest.FormatRow([]string{"container", fixtureContainer, "registry.example/c1ps:2.1"})},
		`service{name="c1ps"} -> instance[0] -> pod .owner .ordinal`: {querytest.FormatRow([]string{"pod", "shop/c1ps-0", "StatefulSet/c1ps", "0"})},
		`lb{name="kubernetes/shop/edge"} -> host | count`:            {querytest.FormatRow([]string{"2"})},
		`lb{name="kubernetes/shop/c1ps"} .provider .host .addresses`: {querytest.FormatRow([]string{"lb", "kubernetes-loadbalancer/kubernetes/shop/c1ps", "kubernetes-loadbalancer", "", "203.0.113.10:443"})},
	} {
		if err := a.expect(q, "", rows); err != nil {
			t.Error(err)
		}
	}
	// The UI's pages of the Ingress and of a pod.
	for path, want := range map[string]string{
		"/lb/kubernetes-ingress/kubernetes/shop/edge": "c1ps-1",
		"/entity/pod/shop/c1ps-0":                     fixtureNode,
	} {
		resp, err := httpClient.Get(a.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, want 200 and a page naming %s", path, resp.Status, want)
		}
	}
	// Only allow-listed labels become metric labels.
	fams, err := scrapeMetrics(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if s := fams.One(t, "strata_topology_service_info", map[string]string{"service": "c1ps", "namespace": ns}); s.Labels["label_team"] != "payments" || s.Labels["label_cost_centre"] != "" {
		t.Errorf("service_info: %v, want label_team and no label_cost_centre", s)
	}
	before := time.Now()
	time.Sleep(1500 * time.Millisecond)

	// A pod deleted leaves the graph; its StatefulSet makes it again, and it runs on the
	// other node: the instance moved, and history keeps where it was.
	deleted := time.Now()
	if err := kc.CoreV1().Pods(ns).Delete(ctx, "c1ps-1", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(`service{name="c1ps"} -> instance .server`, "", []string{querytest.FormatRow([]string{"instance", "kubernetes/shop/c1ps/c1ps-0", "c1ps-0"})})
	t.Logf("a deleted pod left the graph %v after the delete (watch, then refresh)", time.Since(deleted).Round(time.Millisecond))
	newUID := run("c1ps-1", fixtureNode, "10.244.3.9", testenv.RandomHex(t, 32))
	if newUID == oldUID {
		t.Fatalf("the StatefulSet made c1ps-1 again with the same uid %s", newUID)
	}
	eventually(fmt.Sprintf(instanceHost, 1), "", hostRow(fixtureNode, truthKernel))
	eventually(`pod{name="c1ps-1"} .uid .node`, "", []string{querytest.FormatRow([]string{"pod", "shop/c1ps-1", string(newUID), fixtureNode})})
	time.Sleep(1500 * time.Millisecond)
	after := time.Now()
	for _, c := range []struct {
		q, at string
		rows  []string
	}{
		{fmt.Sprintf(instanceHost, 1), unix(before), hostRow("k8s-worker-4", "6.1.0-21-amd64")},
		{`pod{name="c1ps-1"} .uid .node`, unix(before), []string{querytest.FormatRow([]string{"pod", "shop/c1ps-1", string(oldUID), "k8s-worker-4"})}},
		{fmt.Sprintf(instanceHost, 1), unix(after), hostRow(fixtureNode, truthKernel)},
		{`lb{name="kubernetes/shop/edge"} -> instance | count`, unix(before), []string{querytest.FormatRow([]string{"2"})}},
	} {
		if err := a.expect(c.q, c.at, c.rows); err != nil {
			t.Error(err)
		}
	}
	var d server.QueryData
	if _, err := getAPI(a.base, "/api/v1/topology/query?"+url.Values{"q": {fmt.Sprintf(`diff(pod{namespace="shop"}, %s, %s)`, unix(before), unix(after))}}.Encode(), &d); err != nil {
		t.Fatal(err)
	}
	moved := querytest.FormatRow([]string{"changed", "pod", "shop/c1ps-1", "node", "k8s-worker-4", fixtureNode})
	if got := rowsOf(d.Rows); !slices.Contains(got, moved) {
		t.Errorf("diff of the pods: %q, want a row %q", got, moved)
	}

	// The API server goes away: the graph stays, stale, and the source says why.
	cluster.StopAPIServer()
	testenv.Eventually(t, pollTimeout, "the kubernetes source down, its entities stale", func() error {
		srcs, err := a.sources()
		if err != nil {
			return err
		}
		for _, s := range srcs {
			if s.Name == "kubernetes" && s.Up {
				return fmt.Errorf("source %s %s still up", s.Name, s.Kind)
			}
		}
		e, err := a.entity("pod", "shop/c1ps-0")
		if err != nil {
			return err
		}
		if !e.Entity.Stale {
			return fmt.Errorf("pod shop/c1ps-0 is not stale: %v", e.Entity)
		}
		return nil
	})
	if err := a.expect(fmt.Sprintf(instanceHost, 0), "", hostRow(fixtureNode, truthKernel)); err != nil {
		t.Errorf("with the API server down: %v", err)
	}
	// While it is away, another API server on the same etcd takes a change (a kernel
	// upgrade): strata's watch, lost, must relist when its API server is back.
	other := cluster.StartExtraAPIServer()
	setNode(other, "k8s-worker-4", "6.1.0-22-amd64", "aaaabbbbccccddddeeeeffff00001111", "10.0.3.24")
	cluster.StartAPIServer()
	// client-go's reflector retries with a backoff of up to 30 s, jittered up to twice that.
	testenv.Eventually(t, 90*time.Second, "the relisted node", func() error {
		return a.expect(`host{name="k8s-worker-4"} .kernel_release`, "", hostRow("k8s-worker-4", "6.1.0-22-amd64"))
	})
	testenv.Eventually(t, pollTimeout, "the kubernetes source up again", func() error {
		srcs, err := a.sources()
		if err != nil {
			return err
		}
		for _, s := range srcs {
			if s.Name == "kubernetes" && !s.Up {
				return fmt.Errorf("source %s %s down: %s", s.Name, s.Kind, s.Error)
			}
		}
		return nil
	})
}

// schedule does what the scheduler and a kubelet would: waits for the controller's pod,
// binds it to a node and writes its status as running and ready with one container. It
// returns the pod's uid.
func schedule(t *testing.T, kc kubernetes.Interface, ns, name, node, ip, containerID string) types.UID {
	t.Helper()
	ctx := context.Background()
	var pod *corev1.Pod
	testenv.Eventually(t, pollTimeout, "the StatefulSet's pod "+name, func() error {
		p, err := kc.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Spec.NodeName != "" {
			return fmt.Errorf("pod %s is already bound to %s", name, p.Spec.NodeName)
		}
		pod = p
		return err
	})
	if err := kc.CoreV1().Pods(ns).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, UID: pod.UID},
		Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind %s to %s: %v", name, node, err)
	}
	pod, err := kc.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.3.23", StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "registry.example/c1ps:2.1",
			ImageID: "registry.example/c1ps@sha256:" + strings.Repeat("ab", 32), ContainerID: "containerd://" + containerID,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	if _, err := kc.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	return pod.UID
}

func ptr[T any](v T) *T { return &v }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
