// Package kubetest starts a real Kubernetes control plane for tests: Debian's etcd, and
// kube-apiserver and kube-controller-manager built from k8s.io/kubernetes by scripts/kube-build,
// all on 127.0.0.1 and ending with the test. There is no kubelet and no scheduler: a test binds
// pods to nodes and writes their status itself, as they would.
package kubetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/strata-obs/strata/internal/testenv"
)

// Version is the Kubernetes release scripts/kube-build builds (scripts/kube/go.mod).
const Version = "v1.37.2"

// Controllers are the controllers kube-controller-manager runs: those that turn a
// StatefulSet into pods and a Service into EndpointSlices, and the garbage collector. Not the
// node lifecycle controller: with no kubelet to renew their leases, it would mark every node
// unreachable and its pods not ready.
var Controllers = []string{"statefulset-controller", "endpointslice-controller", "garbage-collector-controller",
	"serviceaccount-controller", "replicaset-controller", "deployment-controller"}

// Cluster is a running control plane.
type Cluster struct {
	URL        string       // https://127.0.0.1:port of the API server
	Kubeconfig string       // an admin kubeconfig (system:masters, by token)
	REST       *rest.Config // the same, for client-go
	Client     kubernetes.Interface
	Bin        string // where kube-apiserver and kube-controller-manager are

	t         testing.TB
	dir       string
	etcdURL   string
	apiPort   int
	apiserver *testenv.Process
}

// Bin is the directory of the Kubernetes binaries: $STRATA_KUBE_BIN, else
// scripts/kube-build's cache. A binary that is not there is a missing real part.
func Bin(t testing.TB) string {
	t.Helper()
	return testenv.Built(t, "STRATA_KUBE_BIN", "kube-"+Version, "scripts/kube-build", "kube-apiserver", "kube-controller-manager")
}

// Start starts etcd, the API server and the controller manager, and returns once the API
// server is ready and the controller manager has made the default ServiceAccount.
func Start(t testing.TB) *Cluster {
	t.Helper()
	testenv.Command(t, "etcd")
	c := &Cluster{t: t, Bin: Bin(t), dir: t.TempDir()}
	c.startEtcd()
	c.apiPort = testenv.FreePort(t)
	c.URL = "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
	token := testenv.RandomHex(t, 16)
	c.WriteFile("tokens.csv", token+",admin,admin,system:masters\n")
	c.writeServiceAccountKey()
	c.StartAPIServer()
	c.Kubeconfig = c.WriteFile("admin.kubeconfig", KubeconfigFor(c.URL, token, ""))
	c.REST = &rest.Config{Host: c.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	var err error
	if c.Client, err = kubernetes.NewForConfig(c.REST); err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	kcm := c.startControllerManager()
	testenv.Eventually(t, 60*time.Second, "the default ServiceAccount (the controller manager works)", func() error {
		if err := kcm.Running(); err != nil {
			t.Fatalf("kube-controller-manager: %v", err)
		}
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err
	})
	return c
}

// KubeconfigFor is a kubeconfig for an API server by bearer token, impersonating user
// `as` when it is not empty (as kubectl --as does).
func KubeconfigFor(url, token, as string) string {
	impersonate := ""
	if as != "" {
		impersonate = "\n    as: " + as
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: %s%s
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, url, token, impersonate)
}

// WriteFile writes a file into the cluster's directory and returns its path.
func (c *Cluster) WriteFile(name, content string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		c.t.Fatalf("write %s: %v", name, err)
	}
	return p
}

func (c *Cluster) startEtcd() {
	client, peer := testenv.FreePort(c.t), testenv.FreePort(c.t)
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	p := testenv.StartProcess(c.t, "etcd", "--name=test", "--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+c.etcdURL, "--advertise-client-urls="+c.etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--log-level=warn")
	c.waitHTTP("etcd", c.etcdURL+"/health", p, nil)
}

// writeServiceAccountKey makes the key the API server signs service account tokens with.
func (c *Cluster) writeServiceAccountKey() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		c.t.Fatalf("service account key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatalf("service account key: %v", err)
	}
	c.WriteFile("sa.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
}

// StartAPIServer starts the API server (again, after StopAPIServer) on the same port and
// etcd, and waits until it is ready.
func (c *Cluster) StartAPIServer() { c.apiserver = c.startAPIServer(c.apiPort) }

// StartExtraAPIServer starts a second API server on the same etcd, as an HA control plane
// has, and returns an admin client of it: a test writes through it while the first is away.
func (c *Cluster) StartExtraAPIServer() kubernetes.Interface {
	port := testenv.FreePort(c.t)
	c.startAPIServer(port)
	rc := rest.CopyConfig(c.REST)
	rc.Host = "https://127.0.0.1:" + strconv.Itoa(port)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		c.t.Fatalf("kubernetes client: %v", err)
	}
	return client
}

func (c *Cluster) startAPIServer(port int) *testenv.Process {
	p := testenv.StartProcess(c.t, filepath.Join(c.Bin, "kube-apiserver"),
		"--etcd-servers="+c.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		// The kubernetes Service's endpoint would be this loopback address, which the reconciler refuses.
		"--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(c.dir, "certs-"+strconv.Itoa(port)),
		"--token-auth-file="+filepath.Join(c.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(c.dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(c.dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--profiling=false", "--v=0")
	c.waitHTTP("kube-apiserver", "https://127.0.0.1:"+strconv.Itoa(port)+"/readyz", p, insecureClient)
	return p
}

// StopAPIServer kills the API server; etcd and what it holds stay.
func (c *Cluster) StopAPIServer() { c.apiserver.Stop() }

func (c *Cluster) startControllerManager() *testenv.Process {
	return testenv.StartProcess(c.t, filepath.Join(c.Bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false",
		"--controllers="+strings.Join(Controllers, ","),
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--use-service-account-credentials=false", "--v=0")
}

var insecureClient = &http.Client{Timeout: 2 * time.Second,
	// The API server's own self-signed certificate.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// waitHTTP waits until url answers 200 without a token (readyz and etcd's health are
// public), or the process exits.
func (c *Cluster) waitHTTP(what, url string, p *testenv.Process, client *http.Client) {
	c.t.Helper()
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	testenv.Eventually(c.t, 90*time.Second, what+" ready at "+url, func() error {
		if err := p.Running(); err != nil {
			c.t.Fatalf("%s: %v", what, err)
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
}

// Apply applies a stream of YAML or JSON manifests, as `kubectl apply --server-side` does, in
// their order; a dry run has the API server check and admit each object and store none
// (`--dry-run=server`). A namespaced object without a namespace lands in "default". It answers
// the objects applied, as Kind/name.
func (c *Cluster) Apply(ctx context.Context, manifests string, dryRun bool) ([]string, error) {
	dyn, err := dynamic.NewForConfig(c.REST)
	if err != nil {
		return nil, err
	}
	groups, err := restmapper.GetAPIGroupResources(c.Client.Discovery())
	if err != nil {
		return nil, fmt.Errorf("the API server's resources: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	opts := metav1.ApplyOptions{FieldManager: "strata-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var applied []string
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return applied, nil
		} else if err != nil {
			return applied, fmt.Errorf("manifest %d: %w", len(applied)+1, err)
		}
		if len(obj.Object) == 0 { // an empty document between two ---
			continue
		}
		gvk := obj.GroupVersionKind()
		ref := gvk.Kind + "/" + obj.GetName()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return applied, fmt.Errorf("%s: %w", ref, err)
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			res = dyn.Resource(m.Resource).Namespace(cmp.Or(obj.GetNamespace(), "default"))
		}
		if _, err := res.Apply(ctx, obj.GetName(), &obj, opts); err != nil {
			return applied, fmt.Errorf("%s: %w", ref, err)
		}
		applied = append(applied, ref)
	}
}
