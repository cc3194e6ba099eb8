package collector

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/procfs"
)

// The families this collector alone emits.
var (
	hostCPUInfo = family("strata_host_cpu_info",
		"CPU model of the host (the first processor's); value 1.", info,
		"model_name", "vendor", "family", "model", "stepping", "microcode")
	hostCPUCores = family("strata_host_cpu_cores",
		"Logical CPUs (hardware threads) of the host.", gauge)
	hostCPUPhysicalCores = family("strata_host_cpu_physical_cores",
		"Physical CPU cores of the host.", gauge)
	hostCPUSockets = family("strata_host_cpu_sockets",
		"CPU sockets (physical packages) of the host.", gauge)
)

// cpuCollector reports the CPU model and topology from /proc/cpuinfo, read slowly since it
// does not change while the host runs.
type cpuCollector struct {
	facts *slowly[cpuFacts]
}

// cpuFacts is what the host's processors add up to.
type cpuFacts struct {
	ModelName, Vendor, Family, Model, Stepping, Microcode string
	Threads, Cores, Sockets                               int
	Hypervisor                                            bool // the "hypervisor" flag: running in a VM
}

func newCPUCollector(cfg Config) (Collector, error) {
	fs, err := procfs.NewFS(cfg.ProcFS)
	if err != nil {
		return nil, err
	}
	return &cpuCollector{facts: newSlowly(cfg, func() (cpuFacts, error) { return readCPUFacts(fs) })}, nil
}

func (c *cpuCollector) Update(_ context.Context, s *Scrape) error {
	f, err := c.facts.get()
	if f.Threads == 0 {
		return err
	}
	s.Fact(hostHardwareInfo, "cpu_model", f.ModelName)
	s.Fact(hostHardwareInfo, "cpu_vendor", f.Vendor)
	s.Emit(hostCPUInfo, 1, f.ModelName, f.Vendor, f.Family, f.Model, f.Stepping, f.Microcode)
	s.Emit(hostCPUCores, float64(f.Threads))
	s.Emit(hostCPUPhysicalCores, float64(f.Cores))
	s.Emit(hostCPUSockets, float64(f.Sockets))
	return err
}

func readCPUFacts(fs procfs.FS) (cpuFacts, error) {
	cpus, err := readCPUInfo(fs)
	if err != nil {
		return cpuFacts{}, fmt.Errorf("read cpuinfo: %w", err)
	}
	return summarizeCPUs(cpus)
}

// readCPUInfo is procfs's CPUInfo made safe: procfs v0.23 indexes out of range on a first
// line such as "processor:0" (no blank after the colon).
func readCPUInfo(fs procfs.FS) (cpus []procfs.CPUInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			cpus, err = nil, fmt.Errorf("malformed cpuinfo: %v", r)
		}
	}()
	return fs.CPUInfo()
}

// summarizeCPUs counts sockets by physical id and cores by (physical id, core id); processors
// that report neither (some VMs, most non-x86 kernels) count as one core each in one socket.
func summarizeCPUs(cpus []procfs.CPUInfo) (cpuFacts, error) {
	if len(cpus) == 0 {
		return cpuFacts{}, fmt.Errorf("cpuinfo lists no processor")
	}
	first := cpus[0]
	f := cpuFacts{
		ModelName: first.ModelName, Vendor: first.VendorID, Family: first.CPUFamily,
		Model: first.Model, Stepping: first.Stepping, Microcode: first.Microcode,
		Threads: len(cpus),
	}
	sockets := map[string]bool{}
	cores := map[string]bool{}
	for _, cpu := range cpus {
		if cpu.PhysicalID == "" && cpu.CoreID == "" {
			cores["cpu"+strconv.Itoa(int(cpu.Processor))] = true
			sockets["0"] = true
			continue
		}
		sockets[cpu.PhysicalID] = true
		cores[cpu.PhysicalID+"/"+cpu.CoreID] = true
	}
	for _, flag := range first.Flags {
		if flag == "hypervisor" {
			f.Hypervisor = true
		}
	}
	f.Cores, f.Sockets = len(cores), len(sockets)
	return f, nil
}
