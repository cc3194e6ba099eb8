package collector

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrunStatus reads crun's status file: the id is its directory's, the bundle its own.
func TestCrunStatus(t *testing.T) {
	id := strings.Repeat("ab", 32)
	path := filepath.Join(t.TempDir(), "run", "crun", id, "status")
	write(t, path, `{"pid":4242,"process-start-time":123,"cgroup-path":"/machine.slice/libpod-`+id+`.scope/container",`+
		`"rootfs":"/var/lib/containers/storage/overlay/x/merged","systemd-cgroup":true,`+
		`"bundle":"/var/lib/containers/storage/overlay-containers/`+id+`/userdata","created":"2024-12-02T12:00:00Z","owner":"root"}`)
	e, ok := readRuncState(path, time.Time{})
	if !ok || e.id != id || e.bundle != "/var/lib/containers/storage/overlay-containers/"+id+"/userdata" {
		t.Errorf("crun status read as %+v, %v", e, ok)
	}
}

// TestContainerStorageBadRecords: records that are not what containers/storage writes, or
// too large, or a bundle that is not the container's, name nothing and echo nothing.
func TestContainerStorageBadRecords(t *testing.T) {
	id := strings.Repeat("cd", 32)
	image := strings.Repeat("ef", 32)
	root := t.TempDir()
	graph := filepath.Join(root, "var/lib/containers/storage")
	bundle := "/var/lib/containers/storage/overlay-containers/" + id + "/userdata"
	containers := filepath.Join(graph, "overlay-containers", "containers.json")
	images := filepath.Join(graph, "overlay-images", "images.json")
	var logs bytes.Buffer
	s := newContainerStorage(root, slog.New(slog.NewTextHandler(&logs, nil)))

	write(t, containers, `{"secret-token": "hunter2"`)
	if m, ok := s.lookup(id, bundle); ok {
		t.Errorf("a malformed containers.json named the container: %+v", m)
	}
	if strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), "containers.json") {
		t.Errorf("the warning must name the file and never its content: %s", logs.String())
	}

	write(t, containers, `[{"id":"`+id+`","names":["web"],"image":"`+image+`","metadata":"not json"}]`)
	write(t, images, strings.Repeat(" ", maxStorageRecords+1))
	m, ok := s.lookup(id, bundle)
	if !ok || m.Name != "web" || m.ImageID != "sha256:"+image || m.Image != "" || !m.ImageCreated.IsZero() {
		t.Errorf("a container whose image records are too large: %+v, %v; want its name and image id, nothing more", m, ok)
	}

	for _, b := range []string{
		"/var/lib/containers/storage/overlay-containers/" + image + "/userdata", // another container's
		"/var/lib/containers/storage/overlay-containers/../../" + id + "/userdata",
		"/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + id,
	} {
		if m, ok := s.lookup(id, b); ok {
			t.Errorf("bundle %s named container %s: %+v", b, id, m)
		}
	}
	if _, ok := s.lookup("../../etc", bundle); ok {
		t.Error("an id that is no container id was looked up")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
