package collector

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Family declares one metric family: its name, help, type and labels. Every family the
// exporter emits is in Families, and docs/metrics.md names the same ones (a test checks).
type Family struct {
	Name   string
	Help   string
	Type   prometheus.ValueType
	Labels []string // after "host", which every family but the exporter's own starts with
	NoHost bool

	desc *prometheus.Desc
}

// AllLabels is the family's full label list as exposed.
func (f *Family) AllLabels() []string {
	if f.NoHost {
		return f.Labels
	}
	return append([]string{"host"}, f.Labels...)
}

func family(name, help string, typ prometheus.ValueType, labels ...string) *Family {
	f := &Family{Name: name, Help: help, Type: typ, Labels: labels}
	f.desc = prometheus.NewDesc(name, help, f.AllLabels(), nil)
	return f
}

// exporterFamily declares a family about the exporter itself, without the host label.
func exporterFamily(name, help string, labels ...string) *Family {
	f := &Family{Name: name, Help: help, Type: prometheus.GaugeValue, Labels: labels, NoHost: true}
	f.desc = prometheus.NewDesc(name, help, labels, nil)
	return f
}

const (
	info    = prometheus.GaugeValue
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

var (
	hostInfo = family("strata_host_info",
		"Kernel, OS image and identity of the host; value 1. os_image is os-release's PRETTY_NAME.", info,
		"hostname", "kernel_release", "kernel_version", "arch", "os_id", "os_version_id", "os_image",
		"image_id", "image_version", "machine_id", "boot_id")
	hostHardwareInfo = family("strata_host_hardware_info",
		"Hardware of the host from DMI/SMBIOS and the CPU, with virtualization and cloud provider where DMI reveals them; value 1.", info,
		"system_vendor", "product_name", "product_family", "product_version", "board_vendor", "board_name",
		"bios_vendor", "bios_version", "bios_date", "chassis_type", "cpu_model", "cpu_vendor",
		"virtualization", "cloud_provider", "instance_type")
	hostSerialInfo = family("strata_host_serial_info",
		"Serial numbers and SMBIOS UUID of the host; only with --collector.dmi.serials; value 1.", info,
		"system_uuid", "product_serial", "board_serial", "chassis_serial")
	hostBootTime = family("strata_host_boot_time_seconds",
		"When the host booted, in unix seconds.", gauge)
	hostOSInfo = family("strata_host_os_info",
		"Every identifying field of os-release; value 1.", info,
		"id", "id_like", "name", "version", "version_id", "version_codename", "variant_id", "build_id",
		"image_id", "image_version", "pretty_name", "support_end")
	hostOSSupportEnd = family("strata_host_os_support_end_timestamp_seconds",
		"When the OS image stops being supported (os-release SUPPORT_END), in unix seconds.", gauge)
	hostCPUInfo = family("strata_host_cpu_info",
		"CPU model of the host (the first processor's); value 1.", info,
		"model_name", "vendor", "family", "model", "stepping", "microcode")
	hostCPUCores = family("strata_host_cpu_cores",
		"Logical CPUs (hardware threads) of the host.", gauge)
	hostCPUPhysicalCores = family("strata_host_cpu_physical_cores",
		"Physical CPU cores of the host.", gauge)
	hostCPUSockets = family("strata_host_cpu_sockets",
		"CPU sockets (physical packages) of the host.", gauge)
	hostMemory = family("strata_host_memory_bytes",
		"Total usable memory of the host (MemTotal).", gauge)
	diskInfo = family("strata_disk_info",
		"A disk of the host; value 1.", info,
		"device", "model", "vendor", "rotational", "wwn")
	diskSize = family("strata_disk_size_bytes",
		"Size of a disk.", gauge, "device")
	networkInterfaceInfo = family("strata_network_interface_info",
		"A network interface of the host; speed in Mb/s; value 1.", info,
		"device", "driver", "mac", "operstate", "speed", "mtu")
	hostAddressInfo = family("strata_host_address_info",
		"An IP address of the host, one series per address: how load-balancer backends find their host; value 1.", info,
		"device", "address")
	containerInfo = family("strata_container_info",
		"A running container; container_id is the runtime's full id; value 1.", info,
		"container_id", "name", "image", "image_id", "runtime", "pod", "namespace", "pod_uid")
	containerCPU = family("strata_container_cpu_usage_seconds_total",
		"CPU time used by a container.", counter, "container_id")
	containerMemory = family("strata_container_memory_working_set_bytes",
		"Memory working set of a container (usage less inactive file cache).", gauge, "container_id")
	containerPids = family("strata_container_pids",
		"Processes and threads in a container.", gauge, "container_id")
	containerAddressInfo = family("strata_container_address_info",
		"An IP address of a container in its own network; value 1.", info,
		"container_id", "address")
	containerPortInfo = family("strata_container_port_info",
		"A port a container publishes on the host; value 1.", info,
		"container_id", "protocol", "host_ip", "host_port", "container_port")
	containerRuntimeUp = family("strata_container_runtime_up",
		"Whether the container runtime API used for enrichment answered (1) or not (0).", gauge,
		"runtime", "endpoint")
	listenerInfo = family("strata_listener_info",
		"A listening TCP socket with its process and container (empty container_id for host processes); netns is empty in the host's network namespace; value 1.", info,
		"address", "port", "pid", "comm", "container_id", "netns")

	collectorSuccess = exporterFamily("strata_exporter_collector_success",
		"Whether the collector succeeded (1) or failed (0) on this scrape.", "collector")
	collectorDuration = exporterFamily("strata_exporter_collector_duration_seconds",
		"How long the collector took on this scrape.", "collector")
)

// containerLabelsName is the family of allow-listed container labels, whose label names
// (label_<name>) are known only at run time.
const containerLabelsName = "strata_container_labels"

// Families lists every family the exporter declares, for docs and tests.
func Families() []*Family {
	return []*Family{
		hostInfo, hostHardwareInfo, hostSerialInfo, hostBootTime, hostOSInfo, hostOSSupportEnd,
		hostCPUInfo, hostCPUCores, hostCPUPhysicalCores, hostCPUSockets, hostMemory,
		diskInfo, diskSize, networkInterfaceInfo, hostAddressInfo,
		containerInfo, containerCPU, containerMemory, containerPids, containerAddressInfo,
		containerPortInfo, containerRuntimeUp, listenerInfo,
		collectorSuccess, collectorDuration,
	}
}

// cleanLabel keeps label values valid and readable: UTF-8, no surrounding blanks or NULs
// (DMI strings are often padded).
func cleanLabel(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return strings.TrimSpace(strings.Trim(v, "\x00"))
}
