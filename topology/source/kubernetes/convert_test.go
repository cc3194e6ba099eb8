package kubernetes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/strata-obs/strata/topology/source"
)

func ptr[T any](v T) *T { return &v }

func TestNodeHost(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{
			"node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "eu-west-1a"}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///eu-west-1a/i-0abc"},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.3.17"},
				{Type: corev1.NodeHostName, Address: "ip-10-0-3-17"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.9"},
				{Type: corev1.NodeInternalDNS, Address: "ip-10-0-3-17.internal"}},
			NodeInfo: corev1.NodeSystemInfo{MachineID: "5f3e", SystemUUID: "EC2B0E6A-1234", KernelVersion: "6.1.0-13-amd64",
				OSImage: "Debian GNU/Linux 12 (bookworm)", Architecture: "arm64", ContainerRuntimeVersion: "containerd://1.7.24",
				KubeletVersion: "v1.37.2"},
		},
	}
	want := source.Host{Origin: source.OriginKubernetes, Name: "node-1", Hostname: "ip-10-0-3-17", MachineID: "5f3e",
		SystemUUID: "EC2B0E6A-1234", Addresses: []string{"10.0.3.17", "203.0.113.9"}, Labels: n.Labels,
		Attrs: map[string]string{"kernel_release": "6.1.0-13-amd64", "os_image": "Debian GNU/Linux 12 (bookworm)",
			"arch": "aarch64", "container_runtime": "containerd://1.7.24", "kubelet_version": "v1.37.2",
			"provider_id": "aws:///eu-west-1a/i-0abc", "cloud_provider": "aws", "instance_type": "m5.large"}}
	got := nodeHost(n)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nodeHost (-want +got):\n%s", diff)
	}
	// The join merges into these maps: they must not be the informer cache's own.
	got.Labels["rack"] = "r12"
	if _, ok := n.Labels["rack"]; ok {
		t.Error("nodeHost hands out the Node's own label map")
	}
}

func controller(kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: ptr(true)}}
}

func TestPodFacts(t *testing.T) {
	tests := []struct {
		name           string
		pod            *corev1.Pod
		want           source.Pod
		wantContainers []source.Container
	}{
		{
			name: "statefulset pod with a running and a waiting container",
			pod: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "c1ps-1", UID: "uid-1",
					Labels: map[string]string{"app": "c1ps", "apps.kubernetes.io/pod-index": "1"}, OwnerReferences: controller("StatefulSet", "c1ps")},
				Spec: corev1.PodSpec{NodeName: "node-1"},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5", PodIPs: []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "app", ContainerID: "containerd://62b97b58", Image: "registry.example/c1ps:2.1", ImageID: "registry.example/c1ps@sha256:aa",
							State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
						{Name: "sidecar", Image: "envoy:1.30"}, // waiting: no container yet
						{Name: "old", ContainerID: "containerd://0ld", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
					},
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "migrate", ContainerID: "containerd://d0ne", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
						{Name: "proxy", ContainerID: "containerd://5ide", Image: "envoy:1.30", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
					}},
			},
			want: source.Pod{Origin: source.OriginKubernetes, Namespace: "shop", Name: "c1ps-1", UID: "uid-1", Node: "node-1",
				IPs: []string{"10.244.1.5", "fd00::5"}, Phase: "Running", Owner: "StatefulSet/c1ps", Ordinal: "1",
				Labels: map[string]string{"app": "c1ps", "apps.kubernetes.io/pod-index": "1"}},
			wantContainers: []source.Container{{Origin: source.OriginKubernetes, Host: "node-1", ID: "62b97b58", Name: "app",
				Image: "registry.example/c1ps:2.1", ImageID: "registry.example/c1ps@sha256:aa", Runtime: "containerd",
				Pod: "c1ps-1", Namespace: "shop", PodUID: "uid-1"},
				{Origin: source.OriginKubernetes, Host: "node-1", ID: "5ide", Name: "proxy", Image: "envoy:1.30", Runtime: "containerd",
					Pod: "c1ps-1", Namespace: "shop", PodUID: "uid-1"}},
		},
		{
			name: "deployment pod through its replicaset, ordinal from the name",
			pod: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "front-7c9d5-x2k4q", UID: "uid-2",
					Labels: map[string]string{"pod-template-hash": "7c9d5"}, OwnerReferences: controller("ReplicaSet", "front-7c9d5")},
				Spec:   corev1.PodSpec{NodeName: "node-2", HostNetwork: true},
				Status: corev1.PodStatus{Phase: corev1.PodPending, PodIP: "10.0.3.18"},
			},
			want: source.Pod{Origin: source.OriginKubernetes, Namespace: "web", Name: "front-7c9d5-x2k4q", UID: "uid-2", Node: "node-2",
				HostNetwork: true, IPs: []string{"10.0.3.18"}, Phase: "Pending", Owner: "Deployment/front",
				Labels: map[string]string{"pod-template-hash": "7c9d5"}},
		},
		{
			name: "a replicaset of its own, a statefulset ordinal from the name, a non-controller owner",
			pod: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pg-12", UID: "uid-3", OwnerReferences: append(
					[]metav1.OwnerReference{{Kind: "Foo", Name: "bar"}}, controller("StatefulSet", "pg")...)},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "pg", ContainerID: "cri-o://9f8e",
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			},
			want: source.Pod{Origin: source.OriginKubernetes, Namespace: "db", Name: "pg-12", UID: "uid-3", Owner: "StatefulSet/pg", Ordinal: "12"},
			wantContainers: []source.Container{{Origin: source.OriginKubernetes, ID: "9f8e", Name: "pg", Runtime: "cri-o",
				Pod: "pg-12", Namespace: "db", PodUID: "uid-3"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod, containers := podFacts(tc.pod)
			if diff := cmp.Diff(tc.want, pod); diff != "" {
				t.Errorf("pod (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantContainers, containers); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
		})
	}
	rs := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "batch-x1", OwnerReferences: controller("ReplicaSet", "batch")}}
	if got, _ := owner(rs); got != "ReplicaSet/batch" {
		t.Errorf("owner of a ReplicaSet's pod without a Deployment = %q, want ReplicaSet/batch", got)
	}
}

func slice(ns, svc string, family discoveryv1.AddressType, port string, portNum int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-" + string(family), Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: family, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: ptr("metrics"), Port: ptr(int32(9090))}, {Name: ptr(port), Port: ptr(portNum)}},
	}
}

func podEndpoint(addr, pod, uid string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod, UID: types.UID(uid)}}
}

func TestLoadBalancers(t *testing.T) {
	sts := func(name string, i string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{"apps.kubernetes.io/pod-index": i},
			OwnerReferences: controller("StatefulSet", "c1ps")}}
	}
	draining := podEndpoint("10.244.1.7", "c1ps-10", "u10", false)
	draining.Conditions.Serving, draining.Conditions.Terminating = ptr(true), ptr(true)
	o := Objects{
		Pods: []*corev1.Pod{sts("c1ps-0", "0"), sts("c1ps-2", "2"), sts("c1ps-10", "10")},
		Services: []*corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "c1ps", Labels: map[string]string{"team": "payments"}},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "http", Port: 443}},
					IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "c1ps"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}},
		},
		Slices: []*discoveryv1.EndpointSlice{
			slice("shop", "c1ps", discoveryv1.AddressTypeIPv4, "http", 8443,
				podEndpoint("10.244.1.9", "c1ps-2", "u2", true), draining, podEndpoint("10.244.1.5", "c1ps-0", "u0", true),
				discoveryv1.Endpoint{Addresses: []string{"10.0.9.9"}}, // no pod: a manual endpoint, ready when unset
				discoveryv1.Endpoint{}),                               // no address: skipped
			// Dual stack: the same pod again, in the family the Service does not prefer.
			slice("shop", "c1ps", discoveryv1.AddressTypeIPv6, "http", 8443, podEndpoint("fd00::5", "c1ps-0", "u0", true)),
			slice("other", "c1ps", discoveryv1.AddressTypeIPv4, "", 8080, podEndpoint("10.244.2.2", "c1ps-7d9-a", "u9", false)),
		},
		Ingresses: []*networkingv1.Ingress{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "edge", Labels: map[string]string{"env": "prod"}},
			Spec: networkingv1.IngressSpec{
				DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}},
				Rules: []networkingv1.IngressRule{{Host: "pay.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{
						{Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "c1ps"}}},
						{Path: "/old", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "gone"}}},
						{Path: "/again", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}},
					}}}}},
			},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
				Ingress: []networkingv1.IngressLoadBalancerIngress{{Hostname: "lb-1.example"}}}},
		}},
	}
	want := []source.LB{
		{Name: "k8s", Provider: ProviderCluster, NoHost: true, Services: []source.Service{
			{Name: "c1ps", Namespace: "other", Instances: []source.Instance{
				{Name: "c1ps-7d9-a", Address: "10.244.2.2", Port: 8080, Position: 0, Health: source.HealthDown, Weight: 1, PodUID: "u9"}}},
			{Name: "c1ps", Namespace: "shop", Labels: map[string]string{"team": "payments"}, Instances: []source.Instance{
				{Name: "c1ps-0", Address: "10.244.1.5", Port: 8443, Position: 0, Health: source.HealthUp, Weight: 1, PodUID: "u0"},
				{Name: "c1ps-2", Address: "10.244.1.9", Port: 8443, Position: 1, Health: source.HealthUp, Weight: 1, PodUID: "u2"},
				{Name: "c1ps-10", Address: "10.244.1.7", Port: 8443, Position: 2, Health: source.HealthDrain, Weight: 1, PodUID: "u10"},
				{Address: "10.0.9.9", Port: 8443, Position: 3, Health: source.HealthUp, Weight: 1},
			}},
			{Name: "web", Namespace: "shop", Instances: []source.Instance{}},
		}},
		{Name: "k8s/shop/c1ps", Provider: ProviderLoadBalancer, NoHost: true, Addresses: []string{"203.0.113.7:443"}, Labels: map[string]string{"team": "payments"},
			Services: []source.Service{{Name: "c1ps", Namespace: "shop", Of: "k8s"}}},
		{Name: "k8s/shop/edge", Provider: ProviderIngress, NoHost: true, Addresses: []string{"lb-1.example"}, Labels: map[string]string{"env": "prod"},
			Services: []source.Service{{Name: "web", Namespace: "shop", Of: "k8s"}, {Name: "c1ps", Namespace: "shop", Of: "k8s"},
				{Name: "gone", Namespace: "shop", Of: "k8s"}}},
	}
	if diff := cmp.Diff(want, loadBalancers("k8s", o)); diff != "" {
		t.Errorf("loadBalancers (-want +got):\n%s", diff)
	}
}
