package collector

import (
	"regexp"
	"strings"
	"time"
)

// The defaults of the settings strata-exporter has flags for. strata up runs the collectors
// in process with exactly these, so that both report the same host the same way.
const (
	DefaultNetworkDeviceExclude = `^(veth|cali|lxc|tap|vnet).*$`
	DefaultStaticRefresh        = 10 * time.Minute
	DefaultLabelAllowlist       = "app,team,owner,env,service,role,component,com.docker.compose.project,com.docker.compose.service,io.kubernetes.container.name"
)

// DefaultDockerSockets are the Docker Engine API sockets looked for under the root: Docker's
// and podman's compatible service.
func DefaultDockerSockets() []string {
	return []string{"/var/run/docker.sock", "/run/podman/podman.sock"}
}

// DefaultCRISockets are the CRI sockets looked for under the root: containerd's and CRI-O's.
func DefaultCRISockets() []string {
	return []string{"/run/containerd/containerd.sock", "/run/crio/crio.sock"}
}

// DefaultConfig reads this machine's own /proc, /sys and / with every default.
func DefaultConfig() Config {
	return Config{
		ProcFS: "/proc", SysFS: "/sys", RootFS: "/",
		StaticRefresh:           DefaultStaticRefresh,
		NetworkDeviceExclude:    regexp.MustCompile(DefaultNetworkDeviceExclude),
		AddressLister:           NewNetlinkAddressLister(),
		DockerSockets:           DefaultDockerSockets(),
		CRISockets:              DefaultCRISockets(),
		ContainerLabelAllowlist: SplitList(DefaultLabelAllowlist),
	}
}

// DefaultEnabled names the collectors enabled by default.
func DefaultEnabled() []string {
	var names []string
	for _, f := range Factories() {
		if f.DefaultEnabled {
			names = append(names, f.Name)
		}
	}
	return names
}

// SplitList reads a comma-separated flag value, blanks trimmed, empty items left out.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
