package collector

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/strata-obs/strata/internal/testenv"
)

// TestCRIContainerdPod runs a real containerd with its CRI plugin, starts a pod sandbox and a
// container in it through the CRI API (as the kubelet does), and checks that the container
// collector finds the container in the kubepods cgroups and names it, its image and its pod
// through CRI, while leaving the pause sandbox out.
func TestCRIContainerdPod(t *testing.T) {
	testenv.Root(t)
	containerd := testenv.Command(t, "containerd")
	ctr := testenv.Command(t, "ctr")
	podman := testenv.Command(t, "podman")
	testenv.Command(t, "containerd-shim-runc-v2")
	image := criTestImage(t, podman)

	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	cfg, err := exec.Command(containerd, "config", "default").Output()
	if err != nil {
		t.Fatalf("containerd config default: %v", err)
	}
	conf := strings.NewReplacer(
		`sandbox_image = "registry.k8s.io/pause:3.6"`, `sandbox_image = "`+image.pause+`"`,
		`address = "/run/containerd/containerd.sock"`, `address = "`+sock+`"`,
		`restrict_oom_score_adj = false`, `restrict_oom_score_adj = true`,
		`disable_apparmor = false`, `disable_apparmor = true`,
	).Replace(string(cfg))
	conf = replaceTOMLTop(conf, "root", filepath.Join(dir, "root"))
	conf = replaceTOMLTop(conf, "state", filepath.Join(dir, "state"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	cmd := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	waitFor(t, 20*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })

	for _, tar := range []string{image.tar, image.pauseTar} {
		if out, err := exec.Command(ctr, "-a", sock, "-n", "k8s.io", "images", "import", tar).CombinedOutput(); err != nil {
			t.Fatalf("ctr images import: %v\n%s", err, out)
		}
	}

	api := newCRIAPI(sock, sock)
	rs, err := api.client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	uid := randomUUID(t)
	port := testenv.FreePort(t)
	sandboxConfig := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "web-0", Namespace: "shop", Uid: uid},
		Labels:   map[string]string{"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.uid": uid},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/besteffort/pod" + uid,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	sb, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v\ncontainerd's log ends with:\n%s", err, tailFile(filepath.Join(dir, "containerd.log"), 15))
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = rs.StopPodSandbox(c, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.PodSandboxId})
		_, _ = rs.RemovePodSandbox(c, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId})
	})
	created, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: sb.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "web"},
			Image:    &runtimeapi.ImageSpec{Image: image.ref},
			Command:  []string{"/bin/httpd", "-f", "-p", "127.0.0.1:" + strconv.Itoa(port)},
			Labels: map[string]string{"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
				"io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": "web"},
		},
		SandboxConfig: sandboxConfig,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	waitFor(t, 20*time.Second, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	set, err := NewSet(Config{ProcFS: "/proc", SysFS: "/sys", RootFS: "/", CRISockets: []string{sock},
		ContainerLabelAllowlist: []string{"io.kubernetes.container.name"}}, Factories(), []string{"container", "listener"})
	if err != nil {
		t.Fatal(err)
	}
	metrics := gatherByName(t, set)

	info := findSeries(metrics[containerInfo.Name], map[string]string{"container_id": created.ContainerId})
	if info == nil {
		t.Fatalf("no strata_container_info for CRI container %s; got %v", created.ContainerId, metrics[containerInfo.Name])
	}
	want := map[string]string{"name": "web", "image": image.ref, "runtime": "containerd", "pod": "web-0", "namespace": "shop", "pod_uid": uid}
	for k, v := range want {
		if got := labelValue(info, k); got != v {
			t.Errorf("strata_container_info %s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(labelValue(info, "image_id"), "sha256:") {
		t.Errorf("image_id = %q, want the image's sha256 reference", labelValue(info, "image_id"))
	}
	if s := findSeries(metrics[containerInfo.Name], map[string]string{"container_id": sb.PodSandboxId}); s != nil {
		t.Errorf("the pause sandbox %s is reported as a container", sb.PodSandboxId)
	}
	if s := findSeries(metrics[containerRuntimeUp.Name], map[string]string{"runtime": "containerd", "endpoint": sock}); s == nil || s.GetGauge().GetValue() != 1 {
		t.Errorf("strata_container_runtime_up for %s = %v, want 1", sock, s)
	}
	if s := findSeries(metrics[containerLabelsName], map[string]string{"container_id": created.ContainerId, "label_io_kubernetes_container_name": "web"}); s == nil {
		t.Errorf("no strata_container_labels with the allow-listed label: %v", metrics[containerLabelsName])
	}
	l := findSeries(metrics[listenerInfo.Name], map[string]string{"port": strconv.Itoa(port)})
	if l == nil || labelValue(l, "container_id") != created.ContainerId || labelValue(l, "comm") != "httpd" {
		t.Errorf("listener on %d = %v, want httpd in container %s", port, l, created.ContainerId)
	}
}

type criImage struct{ ref, pause, tar, pauseTar string }

// criTestImage builds the busybox test image and a pause image that only sleeps, with podman
// (no registry is reachable), and saves each as an archive for ctr to import.
func criTestImage(t *testing.T, podman string) criImage {
	t.Helper()
	img := criImage{ref: "localhost/strata-test:1", pause: "localhost/strata-pause:1"}
	var root string
	for ref, cmd := range map[string]string{img.ref: `["/bin/sh"]`, img.pause: `["/bin/sleep","2147483647"]`} {
		if err := exec.Command(podman, "image", "exists", ref).Run(); err == nil {
			continue
		}
		if root == "" {
			root = busyboxRoot(t)
		}
		c := exec.Command("sh", "-c", "tar -C "+root+" -c . | "+podman+" import --change 'CMD "+cmd+"' - "+ref)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("podman import %s: %v\n%s", ref, err, out)
		}
	}
	img.tar = filepath.Join(t.TempDir(), "image.tar")
	img.pauseTar = filepath.Join(t.TempDir(), "pause.tar")
	for ref, tar := range map[string]string{img.ref: img.tar, img.pause: img.pauseTar} {
		if out, err := exec.Command(podman, "save", "--format", "docker-archive", "-o", tar, ref).CombinedOutput(); err != nil {
			t.Fatalf("podman save %s: %v\n%s", ref, err, out)
		}
	}
	return img
}

// busyboxRoot is a root filesystem of Debian's static busybox.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		testenv.Missing(t, "busybox-static is not installed: %v", err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", busybox, filepath.Join(root, "bin/busybox")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, app := range []string{"sh", "httpd", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// replaceTOMLTop sets a top-level key of containerd's config.
func replaceTOMLTop(conf, key, value string) string {
	lines := strings.Split(conf, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+" = ") {
			lines[i] = key + " = " + strconv.Quote(value)
		}
	}
	return strings.Join(lines, "\n")
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// gatherByName runs one scrape and groups its samples by metric name.
func gatherByName(t *testing.T, set *Set) map[string][]*dto.Metric {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(gatherFunc(func(ch chan<- prometheus.Metric) {
		for _, m := range set.Gather(context.Background(), "test-host") {
			ch <- m
		}
	}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

type gatherFunc func(chan<- prometheus.Metric)

func (gatherFunc) Describe(chan<- *prometheus.Desc)      {}
func (f gatherFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func findSeries(ms []*dto.Metric, labels map[string]string) *dto.Metric {
	for _, m := range ms {
		match := true
		for k, v := range labels {
			if labelValue(m, k) != v {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
