package exporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// testImage is the local image the container tests run: busybox-static's /bin/busybox alone,
// imported from a rootfs since no registry can be reached.
const testImage = "localhost/strata-test:1"

// TestPodmanContainer starts a real podman container serving HTTP on a published port and
// checks what the exporter reports of it against podman's own inspect, through the Docker
// Engine API that podman serves; then removes it and checks it is gone.
func TestPodmanContainer(t *testing.T) {
	testenv.Root(t)
	podman := testenv.Command(t, "podman")
	testenv.Command(t, "runc")
	sock := startPodmanService(t, podman)
	ensureImage(t, podman)

	name := "strata-test-" + testenv.RandomHex(t, 6)
	hostPort := testenv.FreePort(t)
	if _, err := podmanRun(podman, "run", "-d", "--name", name,
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"-p", fmt.Sprintf("127.0.0.1:%d:8080", hostPort),
		testImage, "/bin/httpd", "-f", "-p", "8080"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = podmanRun(podman, "rm", "-f", "-t", "0", name) })
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort), 0, nil)

	inspect := func(format string) string {
		out, err := podmanRun(podman, "inspect", "-f", format, name)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	id := inspect("{{.Id}}")
	imageID := inspect("{{.Image}}")
	imageName := inspect("{{.ImageName}}")
	pid := inspect("{{.State.Pid}}")
	netns := netnsInode(t, pid)
	portLine, err := podmanRun(podman, "port", name, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	publishedIP, publishedPort, err := net.SplitHostPort(portLine)
	if err != nil {
		t.Fatalf("podman port printed %q: %v", portLine, err)
	}

	opts := hostOptions("container", "listener")
	opts.Collector.DockerSockets = []string{sock}
	srv := serve(t, opts, "")

	var fams testenv.Families
	testenv.Eventually(t, 15*time.Second, "the containers in the scrape", func() error {
		var err error
		if fams, err = testenv.Scrape(nil, srv.url("/metrics"), nil); err != nil {
			return err
		}
		_, err = fams.Only("strata_container_info", map[string]string{"container_id": id, "name": name})
		return err
	})
	info := fams.One(t, "strata_container_info", map[string]string{"container_id": id}).Labels
	for label, want := range map[string]string{
		"name":     name,
		"image":    imageName,
		"image_id": "sha256:" + imageID, // the Docker Engine API's form of podman's image id
		"runtime":  "podman",
	} {
		if info[label] != want {
			t.Errorf("strata_container_info %s = %q, podman says %q", label, info[label], want)
		}
	}
	if up := fams.One(t, "strata_container_runtime_up", map[string]string{"endpoint": sock, "runtime": "podman"}); up.Value != 1 {
		t.Errorf("the podman API at %s did not answer: %v", sock, up)
	}
	fams.One(t, "strata_container_port_info", map[string]string{
		"container_id": id, "protocol": "tcp", "host_ip": publishedIP, "host_port": publishedPort, "container_port": "8080",
	})
	l := fams.One(t, "strata_listener_info", map[string]string{"port": "8080", "container_id": id}).Labels
	if l["comm"] != "httpd" || l["pid"] != pid || l["netns"] != netns {
		t.Errorf("strata_listener_info of the container = %v, want comm httpd, pid %s and netns %s (podman inspect, /proc)", l, pid, netns)
	}

	if _, err := podmanRun(podman, "rm", "-f", "-t", "0", name); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the container gone from the scrape", func() error { return goneFromScrape(srv, id) })
}

// TestPodmanContainerWithoutAPI runs a podman container under a storage root of the test's
// own (--root, --runroot), with podman's API service off as it is by default, and checks that
// the exporter names the container and its image from runc's state and containers/storage
// alone: what podman's inspect says, and the same facts as the exporter reports through the
// API once the service runs for that root.
func TestPodmanContainerWithoutAPI(t *testing.T) {
	testenv.Root(t)
	podman := testenv.Command(t, "podman")
	testenv.Command(t, "runc")
	// podman refuses a run root of more than 50 characters: t.TempDir's names are longer.
	dir, err := os.MkdirTemp("", "strata-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	globals := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run")}
	run := func(args ...string) string {
		t.Helper()
		out, err := podmanRun(podman, append(globals, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ensureImage(t, podman, globals...)
	name := "strata-test-" + testenv.RandomHex(t, 6)
	run("run", "-d", "--name", name, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", testImage, "/bin/sleep", "600")
	t.Cleanup(func() { _, _ = podmanRun(podman, append(globals, "rm", "-f", "-t", "0", name)...) })
	id := run("inspect", "-f", "{{.Id}}", name)
	imageID := run("inspect", "-f", "{{.Image}}", name)
	want := map[string]string{
		"name":     name,
		"image":    run("inspect", "-f", "{{.ImageName}}", name),
		"image_id": "sha256:" + imageID,
		"runtime":  "podman",
	}
	built := run("image", "inspect", "-f", "{{.Created.Unix}}", imageID)

	// What the exporter reports of the container, from its own records or through the API.
	report := func(sockets []string) (map[string]string, string) {
		t.Helper()
		opts := hostOptions("container")
		opts.Collector.DockerSockets, opts.Collector.CRISockets = sockets, nil
		srv := serve(t, opts, "")
		var fams testenv.Families
		testenv.Eventually(t, 15*time.Second, "the container's image in the scrape", func() error {
			var err error
			if fams, err = testenv.Scrape(nil, srv.url("/metrics"), nil); err != nil {
				return err
			}
			_, err = fams.Only("strata_container_info", map[string]string{"container_id": id, "image": want["image"]})
			return err
		})
		info := fams.One(t, "strata_container_info", map[string]string{"container_id": id}).Labels
		created := fams.One(t, "strata_container_image_created_timestamp_seconds", map[string]string{"container_id": id})
		return info, strconv.FormatFloat(created.Value, 'f', -1, 64)
	}

	info, created := report(nil)
	for label, w := range want {
		if info[label] != w {
			t.Errorf("without the API: strata_container_info %s = %q, podman inspect says %q", label, info[label], w)
		}
	}
	if created != built {
		t.Errorf("without the API: strata_container_image_created_timestamp_seconds = %s, podman image inspect says %s", created, built)
	}

	sock := startPodmanService(t, podman, globals...)
	viaAPI, createdViaAPI := report([]string{sock})
	for _, label := range []string{"name", "image", "image_id", "runtime"} {
		if info[label] != viaAPI[label] {
			t.Errorf("strata_container_info %s = %q from podman's records, %q through its API", label, info[label], viaAPI[label])
		}
	}
	if created != createdViaAPI {
		t.Errorf("image created %s from podman's records, %s through its API", created, createdViaAPI)
	}
}

// TestRuncContainer runs a container with runc alone, in the host's network namespace, from an
// OCI bundle whose cgroup's leaf is the container id: no runtime API knows it; the exporter
// has its cgroup path, /proc and runc's own state directory (/run/runc).
func TestRuncContainer(t *testing.T) {
	testenv.Root(t)
	runc := testenv.Command(t, "runc")
	busybox := testenv.Command(t, "busybox")

	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	buildRootfs(t, busybox, filepath.Join(bundle, "rootfs"))
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	id := testenv.RandomHex(t, 32) // a 64-hex container id, as runtimes make them
	port := testenv.FreePort(t)
	editSpec(t, filepath.Join(bundle, "config.json"), func(spec map[string]any) {
		process := spec["process"].(map[string]any)
		process["args"] = []string{"/bin/httpd", "-f", "-p", "127.0.0.1:" + strconv.Itoa(port)}
		process["terminal"] = false
		linux := spec["linux"].(map[string]any)
		var namespaces []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "network" { // the host's network
				namespaces = append(namespaces, ns)
			}
		}
		linux["namespaces"] = namespaces
		linux["cgroupsPath"] = "/strata-test/" + id
	})

	logFile, err := os.Create(filepath.Join(dir, "runc.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	run := exec.Command(runc, "run", "-d", "--bundle", bundle, id)
	run.Stdout, run.Stderr = logFile, logFile // files, not pipes: the container keeps them open
	t.Cleanup(func() {
		_ = exec.Command(runc, "delete", "-f", id).Run()
		removeEmptyCgroups(t, "strata-test")
	})
	if err := run.Run(); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		t.Fatalf("runc run: %v\n%s", err, log)
	}
	testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 0, nil)
	var runcState struct {
		Pid int `json:"pid"`
	}
	if out, err := exec.Command(runc, "state", id).Output(); err != nil {
		t.Fatalf("runc state: %v", err)
	} else if err := json.Unmarshal(out, &runcState); err != nil || runcState.Pid == 0 {
		t.Fatalf("runc state: %v: %s", err, out)
	}
	pid := strconv.Itoa(runcState.Pid)
	comm := readTrim(t, "/proc/"+pid+"/comm")

	srv := serve(t, hostOptions("container", "listener"), "")
	fams := scrape(t, nil, srv.url("/metrics"), nil)
	info := fams.One(t, "strata_container_info", map[string]string{"container_id": id}).Labels
	// The cgroup path /strata-test/<id> names no runtime and no runtime API lists the container:
	// runc's own state file (/run/runc/<id>/state.json) says it is runc's.
	if rt := info["runtime"]; rt != "runc" {
		t.Errorf("strata_container_info runtime = %q, want runc (from runc's state)", rt)
	}
	l := fams.One(t, "strata_listener_info", map[string]string{"port": strconv.Itoa(port)}).Labels
	for label, want := range map[string]string{
		"address": "127.0.0.1", "container_id": id, "pid": pid, "comm": comm, "netns": "",
	} {
		if l[label] != want {
			t.Errorf("strata_listener_info %s = %q, want %q (runc state, /proc/%s)", label, l[label], want, pid)
		}
	}

	if out, err := exec.Command(runc, "kill", id, "KILL").CombinedOutput(); err != nil {
		t.Fatalf("runc kill: %v\n%s", err, out)
	}
	if out, err := exec.Command(runc, "delete", "-f", id).CombinedOutput(); err != nil {
		t.Fatalf("runc delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, 10*time.Second, "the container gone from the scrape", func() error { return goneFromScrape(srv, id) })
}

// goneFromScrape tells whether a container and its listeners have left the exporter's answer.
func goneFromScrape(srv served, id string) error {
	fams, err := testenv.Scrape(nil, srv.url("/metrics"), nil)
	if err != nil {
		return err
	}
	for _, name := range []string{"strata_container_info", "strata_listener_info", "strata_container_port_info"} {
		if s := fams.Samples(name, map[string]string{"container_id": id}); len(s) > 0 {
			return fmt.Errorf("%s still lists the removed container: %v", name, s)
		}
	}
	return nil
}

func netnsInode(t *testing.T, pid string) string {
	t.Helper()
	link, err := os.Readlink("/proc/" + pid + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]")
}

// podmanRun runs podman with the global flags and returns its trimmed standard output; the
// error holds its standard error.
func podmanRun(podman string, args ...string) (string, error) {
	return testenv.TryOutput(podman, testenv.PodmanArgs(args...)...)
}

// startPodmanService runs podman's Docker-compatible API on a socket of the test's own and
// returns the socket's path; globals are podman's own flags (--root) before the command.
func startPodmanService(t *testing.T, podman string, globals ...string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "podman.sock")
	args := testenv.PodmanArgs(append(globals, "system", "service", "--time=0", "unix://"+sock)...)
	cmd := exec.Command(podman, args...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the podman API service: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	testenv.Eventually(t, 30*time.Second, "the runtime API answering", func() error {
		select {
		case <-exited:
			t.Fatalf("podman system service exited:\n%s", log.String())
		default:
		}
		resp, err := client.Get("http://podman/_ping")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("podman API _ping: %s: %s", resp.Status, body)
		}
		return nil
	})
	return sock
}

// ensureImage imports testImage from a busybox rootfs unless podman has it already;
// globals are podman's own flags (--root) before the command.
func ensureImage(t *testing.T, podman string, globals ...string) {
	t.Helper()
	if _, err := podmanRun(podman, append(globals, "image", "exists", testImage)...); err == nil {
		return
	}
	busybox := testenv.Command(t, "busybox")
	tar := testenv.Command(t, "tar")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	buildRootfs(t, busybox, rootfs)
	archive := exec.Command(tar, "-C", rootfs, "-c", ".")
	imp := exec.Command(podman, testenv.PodmanArgs(append(globals, "import", "--change", `CMD ["/bin/sh"]`, "-", testImage)...)...)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var impOut strings.Builder
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := archive.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		_ = archive.Process.Kill() // no one reads what it writes now
		_ = archive.Wait()
		t.Fatalf("podman import: %v\n%s", err, impOut.String())
	}
	if err := archive.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
}

// buildRootfs makes a minimal root filesystem: a static busybox, the links to it the tests run,
// and a page for httpd to serve.
func buildRootfs(t *testing.T, busybox, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.Open(busybox)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "bin", "busybox"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "httpd", "sleep", "cat", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("strata-test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editSpec rewrites an OCI runtime spec (config.json) through edit.
func editSpec(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	edit(spec)
	if b, err = json.MarshalIndent(spec, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// removeEmptyCgroups removes the parent cgroup runc made for the test in each hierarchy, if no
// other container uses it.
func removeEmptyCgroups(t *testing.T, name string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", name))
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", name)); err == nil {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", name)) // cgroup v2
	}
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.ENOENT) {
			t.Logf("remove cgroup %s: %v", d, err)
		}
	}
}
