// Package cgroup recognises a container from its cgroup path: the exporter, which finds
// containers in the cgroup tree, and the topology, which reads cAdvisor's id label, share it.
package cgroup

import (
	"regexp"
	"strings"
)

// ContainerRef is what a cgroup path tells about the container inside it.
type ContainerRef struct {
	ID      string // the runtime's full container id
	Runtime string // docker, podman, containerd, cri-o, runc; empty when the path does not tell
	PodUID  string // the Kubernetes pod's uid, from a kubepods path
}

var (
	// scopedID matches the systemd and cgroupfs leaf names runtimes give containers:
	// docker-<id>.scope, libpod-<id>(.scope), cri-containerd-<id>.scope, crio-<id>(.scope), runc-<id>.scope.
	scopedID = regexp.MustCompile(`^(docker|libpod|cri-containerd|crio|runc)-([0-9a-f]{64})(?:\.scope)?$`)
	plainID  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// podUID matches pod<uid> (cgroupfs) and kubepods-<qos>-pod<uid_with_underscores>.slice (systemd).
	podUID = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?$`)
)

var runtimeByPrefix = map[string]string{
	"docker": "docker", "libpod": "podman", "cri-containerd": "containerd", "crio": "cri-o", "runc": "runc",
}

// ParsePath recognises a container's cgroup from its path, relative to the hierarchy's
// root, in the forms runc, containerd (plain and Kubernetes cri-containerd), CRI-O, Docker and
// podman give it under the cgroupfs and systemd drivers. The container is the last path
// component that names one; components below it (podman's "container" sub-cgroup) belong to it.
// Conmon's own cgroups (libpod-conmon-, crio-conmon-) are not containers.
func ParsePath(path string) (ContainerRef, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		ref, ok := parseCgroupComponent(parts[:i], parts[i])
		if !ok {
			continue
		}
		for _, p := range parts[:i] {
			if m := podUID.FindStringSubmatch(p); m != nil && (strings.HasPrefix(p, "pod") || strings.Contains(p, "kubepods")) {
				ref.PodUID = strings.ReplaceAll(m[1], "_", "-")
			}
		}
		if ref.PodUID != "" && ref.Runtime == "" {
			ref.Runtime = "cri"
		}
		return ref, true
	}
	return ContainerRef{}, false
}

// NamesContainer says whether one path component, on its own, is a container's cgroup.
func NamesContainer(name string) bool {
	_, ok := parseCgroupComponent(nil, name)
	return ok
}

func parseCgroupComponent(parents []string, name string) (ContainerRef, bool) {
	if m := scopedID.FindStringSubmatch(name); m != nil {
		return ContainerRef{ID: m[2], Runtime: runtimeByPrefix[m[1]]}, true
	}
	if !plainID.MatchString(name) {
		return ContainerRef{}, false
	}
	ref := ContainerRef{ID: name}
	if len(parents) > 0 {
		switch parents[len(parents)-1] {
		case "docker":
			ref.Runtime = "docker"
		case "libpod_parent":
			ref.Runtime = "podman"
		}
	}
	return ref, true
}

// ShortID is a container's id as `docker ps` and `podman ps` show it: its first 12 characters.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
