// Package deploy holds strata's deployment files (Kubernetes manifests, systemd units, the
// container image definition, a Prometheus configuration); its tests prove them against the
// real things: a kube-apiserver, the Kubernetes source running as the manifests' ServiceAccount,
// and podman building and running the image.
package deploy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/strata-obs/strata/internal/kubetest"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/kubernetes"
)

// serviceAccount is the identity the manifests give strata.
const serviceAccount = "system:serviceaccount:strata:strata"

// TestKubernetesManifests: the kustomization applies on a real API server (server-side dry
// run, then for real), and the Kubernetes source, impersonating the ServiceAccount the
// manifests bind, reads everything it needs with exactly the ClusterRole's permissions: with
// any one of them taken away it fails, naming what it may not list.
func TestKubernetesManifests(t *testing.T) {
	cluster := kubetest.Start(t)

	ctx := context.Background()
	// A server dry run creates nothing, so the namespaced objects need their namespace to
	// exist already (deploy/kubernetes/README.md says so).
	namespace, err := os.ReadFile("kubernetes/base/namespace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Apply(ctx, string(namespace), false); err != nil {
		t.Fatalf("apply the namespace: %v", err)
	}
	base := kustomize(t, "kubernetes")
	applied, err := cluster.Apply(ctx, base, true)
	if err != nil {
		t.Fatalf("apply deploy/kubernetes, server dry run: %v", err)
	}
	for _, want := range []string{"ClusterRole/strata", "ClusterRoleBinding/strata", "ServiceAccount/strata", "DaemonSet/strata-exporter",
		"Deployment/strata", "Service/strata", "ConfigMap/strata", "PersistentVolumeClaim/strata-data"} {
		if !slices.Contains(applied, want) {
			t.Errorf("the dry run did not admit %s: %v", want, applied)
		}
	}
	// The ServiceMonitor overlay needs prometheus-operator's CRDs, which this API server lacks:
	// it must build, and add exactly the two ServiceMonitors.
	if n := strings.Count(kustomize(t, "kubernetes/overlays/servicemonitor"), "kind: ServiceMonitor"); n != 2 {
		t.Errorf("the overlay renders %d ServiceMonitors, want 2", n)
	}
	if _, err := cluster.Apply(ctx, base, false); err != nil {
		t.Fatalf("apply deploy/kubernetes: %v", err)
	}
	checkLeastPrivilege(t, cluster, "strata")
}

// checkLeastPrivilege: the Kubernetes source, impersonating strata's ServiceAccount, reads
// everything it needs with the ClusterRole the manifests bound to it, which grants only get,
// list and watch; with any one of its resources taken away the source fails, naming it.
func checkLeastPrivilege(t *testing.T, cluster *kubetest.Cluster, clusterRole string) {
	t.Helper()
	ctx := context.Background()
	// Something of each kind for the source to read.
	if _, err := cluster.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c1ps"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := cluster.WriteFile("as-strata.kubeconfig", kubetest.KubeconfigFor(cluster.URL, cluster.REST.BearerToken, serviceAccount))
	list := func() error {
		src, err := kubernetes.New(kubernetes.Config{Name: "kubernetes", Kubeconfig: kubeconfig})
		if err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		src.Watch(c)
		c2, cancel2 := context.WithTimeout(ctx, 20*time.Second)
		defer cancel2()
		lbs, err := src.ListLoadBalancers(c2)
		if err != nil {
			return err
		}
		fs, err := src.ListFacts(c2, time.Now())
		if err != nil {
			return err
		}
		if len(lbs) == 0 || !slices.ContainsFunc(lbs[0].Services, func(s source.Service) bool { return s.Name == "c1ps" }) || len(fs.Hosts) != 1 {
			return errors.New("the source read nothing")
		}
		return nil
	}
	if err := list(); err != nil {
		t.Fatalf("the source as %s with the manifests' ClusterRole: %v", serviceAccount, err)
	}

	role, err := cluster.Client.RbacV1().ClusterRoles().Get(ctx, clusterRole, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range role.Rules {
		if !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("the ClusterRole grants %v on %v: read-only means get, list and watch", r.Verbs, r.Resources)
		}
	}
	full := role.Rules
	for i, rule := range full {
		for _, res := range rule.Resources {
			reduced := slices.Clone(full)
			reduced[i] = rbacv1.PolicyRule{APIGroups: rule.APIGroups, Verbs: rule.Verbs,
				Resources: slices.DeleteFunc(slices.Clone(rule.Resources), func(r string) bool { return r == res })}
			if len(reduced[i].Resources) == 0 { // a rule must name a resource
				reduced = slices.Delete(reduced, i, i+1)
			}
			role.Rules = reduced
			if role, err = cluster.Client.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			name, err := res, error(nil)
			if g := rule.APIGroups[0]; g != "" {
				name += "." + g
			}
			// The API server's authorizer learns of the change through its own watch.
			for try := 0; try < 10 && err == nil; try++ {
				if err = list(); err == nil {
					time.Sleep(500 * time.Millisecond)
				}
			}
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), serviceAccount) {
				t.Errorf("without %s the source says %v, want an error that names %s, forbidden and %s", name, err, name, serviceAccount)
			} else {
				t.Logf("without %s: %v", name, err)
			}
		}
	}
}

// TestContainerImage: build-image.sh builds the FROM scratch image with podman from static
// binaries, and both binaries run in it.
func TestContainerImage(t *testing.T) {
	testenv.Root(t)
	podman := testenv.Command(t, "podman")
	image := "localhost/strata-test:" + testenv.RandomHex(t, 4)
	build := exec.Command("./build-image.sh")
	build.Env = append(os.Environ(), "IMAGE="+image)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(podman, testenv.PodmanArgs("rmi", "-f", image)...).Run() })
	for _, entrypoint := range []string{"/strata", "/strata-exporter"} {
		args := testenv.PodmanArgs("run", "--rm", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
			"--entrypoint", entrypoint, image, "--version")
		out, err := exec.Command(podman, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), filepath.Base(entrypoint)+", version") {
			t.Errorf("%s --version in the image: %v\n%s", entrypoint, err, out)
		}
	}
	// Nothing but the binaries and what they need: no shell to run.
	out, err := exec.Command(podman, testenv.PodmanArgs("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true")...).CombinedOutput()
	if err == nil {
		t.Errorf("the image has a shell: %s", out)
	}
}
