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

// The families several collectors fill (the host's merged facts) and the exporter's own; each
// collector declares the families it alone emits in its own file.
var (
	hostInfo = family("strata_host_info",
		"Kernel, OS image and identity of the host; value 1. os_image is os-release's PRETTY_NAME; kernels_installed the kernel releases installed, oldest first, comma-separated; reboot_required whether the host waits for a reboot (a reboot-required file, or a kernel newer than the running one installed).", info,
		"hostname", "kernel_release", "kernel_version", "kernel_build_date", "kernels_installed", "reboot_required", "arch",
		"os_id", "os_version_id", "os_image", "image_id", "image_version", "machine_id", "boot_id")
	hostHardwareInfo = family("strata_host_hardware_info",
		"Hardware of the host from DMI/SMBIOS and the CPU, with virtualization and cloud provider where DMI reveals them; value 1.", info,
		"system_vendor", "product_name", "product_family", "product_version", "board_vendor", "board_name",
		"bios_vendor", "bios_version", "bios_date", "chassis_type", "cpu_model", "cpu_vendor",
		"virtualization", "cloud_provider", "instance_type")
	collectorSuccess = exporterFamily("strata_exporter_collector_success",
		"Whether the collector succeeded (1) or failed (0) on this scrape.", "collector")
	collectorDuration = exporterFamily("strata_exporter_collector_duration_seconds",
		"How long the collector took on this scrape.", "collector")
)

// containerLabelsName is the family of allow-listed container labels, whose label names
// (label_<name>) are known only at run time.
const (
	containerLabelsName = "strata_container_labels"
	containerLabelsHelp = "Allow-listed container labels (--collector.container.labels-allowlist), one label_<name> each, as kube-state-metrics' kube_pod_labels; value 1."
)

// Families lists every family the exporter declares, for docs and tests: the host's merged
// facts, each collector's own, and the exporter's.
func Families() []*Family {
	out := []*Family{hostInfo, hostHardwareInfo}
	for _, f := range Factories() {
		out = append(out, f.Families...)
	}
	return append(out, collectorSuccess, collectorDuration)
}

// cleanLabel keeps label values valid and readable: UTF-8, no surrounding blanks or NULs
// (DMI strings are often padded).
func cleanLabel(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return strings.TrimSpace(strings.Trim(v, "\x00"))
}
