package cgroup

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	const (
		id      = "d192f3c21de65a8491e84043844fd2158f30745dc777b9a299587873ac2800d7"
		other   = "5472dc78a08940bd3f4528cb38b4c4792751856f93b1681966d61954beb32c6f"
		uid     = "6f1c7a2e-3b4d-4c5e-9f60-718293a4b5c6"
		uidUnd  = "6f1c7a2e_3b4d_4c5e_9f60_718293a4b5c6"
		uidHex  = "6f1c7a2e3b4d4c5e9f60718293a4b5c6"
		burstSl = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnd + ".slice"
	)
	tests := []struct {
		name, path string
		want       ContainerRef
		wantOK     bool
	}{
		// Docker
		{"docker, cgroupfs driver", "/docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, systemd driver", "/system.slice/docker-" + id + ".scope", ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, no leading slash", "docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker, trailing slash", "/docker/" + id + "/", ContainerRef{ID: id, Runtime: "docker"}, true},
		{"docker in docker: the innermost container", "/docker/" + other + "/docker/" + id, ContainerRef{ID: id, Runtime: "docker"}, true},
		// podman
		{"podman, cgroupfs driver", "/libpod_parent/libpod-" + id, ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, cgroupfs driver, plain id", "/libpod_parent/" + id, ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, systemd driver", "/machine.slice/libpod-" + id + ".scope", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman, its container sub-cgroup", "/machine.slice/libpod-" + id + ".scope/container", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container", ContainerRef{ID: id, Runtime: "podman"}, true},
		{"podman's conmon, cgroupfs", "/libpod_parent/libpod-conmon-" + id, ContainerRef{}, false},
		{"podman's conmon, systemd", "/machine.slice/libpod-conmon-" + id + ".scope", ContainerRef{}, false},
		// containerd under Kubernetes
		{"cri-containerd, systemd driver, burstable", burstSl + "/cri-containerd-" + id + ".scope", ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true},
		{
			"cri-containerd, systemd driver, besteffort",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{
			"cri-containerd, systemd driver, guaranteed",
			"/kubepods.slice/kubepods-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{"kubepods, cgroupfs driver", "/kubepods/burstable/pod" + uid + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uid}, true},
		{"kubepods, cgroupfs driver, guaranteed", "/kubepods/pod" + uid + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uid}, true},
		{"kubepods, pod uid without dashes", "/kubepods/besteffort/pod" + uidHex + "/" + id, ContainerRef{ID: id, Runtime: "cri", PodUID: uidHex}, true},
		{
			"kubepods under the kubelet's --cgroup-root (kind)",
			"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidUnd + ".slice/cri-containerd-" + id + ".scope",
			ContainerRef{ID: id, Runtime: "containerd", PodUID: uid}, true,
		},
		{"a pod-like name outside kubepods", "/system.slice/mypod" + uidUnd + ".slice/" + id, ContainerRef{ID: id}, true},
		{"docker under Kubernetes (dockershim)", "/kubepods/burstable/pod" + uid + "/docker-" + id + ".scope", ContainerRef{ID: id, Runtime: "docker", PodUID: uid}, true},
		// CRI-O
		{"cri-o, systemd driver", burstSl + "/crio-" + id + ".scope", ContainerRef{ID: id, Runtime: "cri-o", PodUID: uid}, true},
		{"cri-o, cgroupfs driver", "/kubepods/burstable/pod" + uid + "/crio-" + id, ContainerRef{ID: id, Runtime: "cri-o", PodUID: uid}, true},
		{"cri-o's conmon", burstSl + "/crio-conmon-" + id + ".scope", ContainerRef{}, false},
		// runc
		{"runc, systemd driver", "/system.slice/runc-" + id + ".scope", ContainerRef{ID: id, Runtime: "runc"}, true},
		{"a bare 64-hex cgroup", "/" + id, ContainerRef{ID: id}, true},
		// not containers
		{"root", "/", ContainerRef{}, false},
		{"empty", "", ContainerRef{}, false},
		{"init", "/init.scope", ContainerRef{}, false},
		{"a service", "/system.slice/docker.service", ContainerRef{}, false},
		{"a session", "/user.slice/user-1000.slice/session-3.scope", ContainerRef{}, false},
		{"a pod without container", burstSl, ContainerRef{}, false},
		{"the kubepods root", "/kubepods.slice", ContainerRef{}, false},
		{"a short id", "/docker/d192f3c21de6", ContainerRef{}, false},
		{"63 hex digits", "/docker/" + id[:63], ContainerRef{}, false},
		{"65 hex digits", "/docker/" + id + "0", ContainerRef{}, false},
		{"upper case hex", "/docker/" + strings.ToUpper(id), ContainerRef{}, false},
		{"an unknown prefix", "/system.slice/lxc-" + id + ".scope", ContainerRef{}, false},
		{"a suffix other than .scope", "/system.slice/docker-" + id + ".service", ContainerRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParsePath(tt.path)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ParsePath(%q) = %+v, %v, want %+v, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
