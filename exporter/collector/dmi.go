package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/sysfs"
)

// The families this collector alone emits.
var (
	hostSerialInfo = family("strata_host_serial_info",
		"Serial numbers and SMBIOS UUID of the host; only with --collector.dmi.serials; value 1.", info,
		"system_uuid", "product_serial", "board_serial", "chassis_serial")
)

// dmiCollector reports the hardware from DMI/SMBIOS (/sys/class/dmi/id), and from it and the
// CPU flags the virtualization and the cloud provider. It makes no network call: a cloud is
// recognised by the strings its hypervisor writes into SMBIOS. Serial numbers and the SMBIOS
// UUID are reported only with --collector.dmi.serials.
//
// A host without DMI (most ARM boards, Firecracker VMs) fails the collector, as any missing
// input does: strata_exporter_collector_success{collector="dmi"} 0 and a log line tell that its
// hardware labels are empty. The virtualization read from the CPU flags is still reported.
// Run with --no-collector.dmi where no DMI is expected.
type dmiCollector struct {
	cfg   Config
	facts *slowly[dmiFacts]
}

type dmiFacts struct {
	dmi            *sysfs.DMIClass // nil without DMI
	loaded         bool
	virtualization string
	cloudProvider  string
	instanceType   string
}

func newDMICollector(cfg Config) (Collector, error) {
	sfs, err := sysfs.NewFS(cfg.SysFS)
	if err != nil {
		return nil, err
	}
	pfs, err := procfs.NewFS(cfg.ProcFS)
	if err != nil {
		return nil, err
	}
	c := &dmiCollector{cfg: cfg}
	c.facts = newSlowly(cfg, func() (dmiFacts, error) { return c.read(sfs, pfs) })
	return c, nil
}

func (c *dmiCollector) read(sfs sysfs.FS, pfs procfs.FS) (dmiFacts, error) {
	var f dmiFacts
	dmi, err := sfs.DMIClass()
	switch {
	case err == nil:
		f.dmi = dmi
	case errors.Is(err, os.ErrNotExist):
		// no DMI table on this host: nothing to report
	default:
		return f, fmt.Errorf("read DMI: %w", err)
	}
	f.loaded = true
	cpus, cpuErr := readCPUInfo(pfs)
	if f.dmi == nil && (cpuErr != nil || len(cpus) == 0) {
		return f, nil // neither SMBIOS nor the CPU flags tell: virtualization unknown, not "none"
	}
	hypervisorFlag := len(cpus) > 0 && hasFlag(cpus[0].Flags, "hypervisor")
	xenType, _ := readOptional(c.cfg.sys("hypervisor/type"))
	f.virtualization = detectVirtualization(f.dmi, hypervisorFlag, xenType)
	f.cloudProvider, f.instanceType = detectCloud(f.dmi)
	return f, nil
}

func (c *dmiCollector) Update(_ context.Context, s *Scrape) error {
	f, err := c.facts.get()
	if !f.loaded {
		return err
	}
	d := f.dmi
	if d == nil {
		d = &sysfs.DMIClass{}
	}
	facts := map[string]*string{
		"system_vendor": d.SystemVendor, "product_name": d.ProductName, "product_family": d.ProductFamily,
		"product_version": d.ProductVersion, "board_vendor": d.BoardVendor, "board_name": d.BoardName,
		"bios_vendor": d.BiosVendor, "bios_version": d.BiosVersion, "bios_date": d.BiosDate,
	}
	for label, v := range facts {
		s.Fact(hostHardwareInfo, label, dmiString(v))
	}
	s.Fact(hostHardwareInfo, "chassis_type", chassisTypeName(dmiString(d.ChassisType)))
	s.Fact(hostHardwareInfo, "virtualization", f.virtualization)
	s.Fact(hostHardwareInfo, "cloud_provider", f.cloudProvider)
	s.Fact(hostHardwareInfo, "instance_type", f.instanceType)
	if c.cfg.Serials && f.dmi != nil {
		s.Emit(hostSerialInfo, 1, strings.ToLower(dmiString(d.ProductUUID)), dmiString(d.ProductSerial),
			dmiString(d.BoardSerial), dmiString(d.ChassisSerial))
	}
	if f.dmi == nil {
		return errors.Join(err, fmt.Errorf("no DMI table at %s: hardware facts are empty", c.cfg.sys("class/dmi/id")))
	}
	return err
}

// dmiString drops the placeholders vendors write into empty SMBIOS fields.
func dmiString(p *string) string {
	if p == nil {
		return ""
	}
	v := strings.TrimSpace(*p)
	switch strings.ToLower(v) {
	case "", "not specified", "not applicable", "to be filled by o.e.m.", "default string",
		"system product name", "system manufacturer", "none", "n/a", "0123456789", "not available":
		return ""
	}
	return v
}

func hasFlag(flags []string, want string) bool {
	for _, f := range flags {
		if f == want {
			return true
		}
	}
	return false
}

// virtualizationSignatures maps SMBIOS strings to systemd-detect-virt's names, checked in order
// against sys_vendor, product_name, bios_vendor and board_vendor.
var virtualizationSignatures = []struct{ substr, name string }{
	{"KVM", "kvm"}, {"Amazon EC2", "amazon"}, {"Google", "kvm"}, {"OpenStack", "kvm"},
	{"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"}, {"innotek GmbH", "oracle"},
	{"VirtualBox", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"}, {"Parallels", "parallels"},
	{"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"}, {"Apple Virtualization", "apple"},
}

// detectVirtualization names the hypervisor as systemd-detect-virt does where SMBIOS tells,
// "vm-other" when only the CPU's hypervisor flag does, and "none" on bare metal.
func detectVirtualization(d *sysfs.DMIClass, hypervisorFlag bool, xenType string) string {
	if d != nil {
		fields := []string{dmiString(d.SystemVendor), dmiString(d.ProductName), dmiString(d.BiosVendor), dmiString(d.BoardVendor)}
		for _, sig := range virtualizationSignatures {
			for _, v := range fields {
				if strings.Contains(v, sig.substr) {
					if sig.name == "amazon" && !hypervisorFlag {
						return "none" // an EC2 .metal instance, as systemd-detect-virt tells it
					}
					return sig.name
				}
			}
		}
		if dmiString(d.SystemVendor) == "Microsoft Corporation" && dmiString(d.ProductName) == "Virtual Machine" {
			return "microsoft"
		}
	}
	if xenType == "xen" {
		return "xen"
	}
	if hypervisorFlag {
		return "vm-other"
	}
	return "none"
}

// azureAssetTag is the chassis asset tag Azure writes into every VM's SMBIOS.
const azureAssetTag = "7783-7084-3265-9085-8269-3286-77"

// detectCloud names the cloud provider and, where SMBIOS holds it (EC2 Nitro), the instance type.
func detectCloud(d *sysfs.DMIClass) (provider, instanceType string) {
	if d == nil {
		return "", ""
	}
	vendor, product := dmiString(d.SystemVendor), dmiString(d.ProductName)
	bios, biosVersion := dmiString(d.BiosVendor), dmiString(d.BiosVersion)
	asset := dmiString(d.ChassisAssetTag)
	switch {
	case vendor == "Amazon EC2":
		return "aws", product
	case bios == "Amazon EC2" || strings.Contains(strings.ToLower(biosVersion), "amazon"):
		return "aws", ""
	case product == "Google Compute Engine" || vendor == "Google":
		return "gcp", ""
	case asset == azureAssetTag:
		return "azure", ""
	case asset == "OracleCloud.com":
		return "oci", ""
	case vendor == "DigitalOcean":
		return "digitalocean", ""
	case vendor == "Hetzner":
		return "hetzner", ""
	case vendor == "Alibaba Cloud" || strings.HasPrefix(product, "Alibaba Cloud"):
		return "alibaba", ""
	case vendor == "Scaleway":
		return "scaleway", product
	case vendor == "Linode" || vendor == "Akamai":
		return "linode", ""
	case vendor == "Vultr":
		return "vultr", ""
	case vendor == "Tencent Cloud":
		return "tencent", ""
	case strings.HasPrefix(product, "OpenStack"):
		return "openstack", ""
	}
	return "", ""
}

// chassisTypes are SMBIOS 3.x chassis types (DSP0134 §7.4.1), indexed by their number.
var chassisTypes = []string{"", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box",
	"Mini Tower", "Tower", "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station",
	"All in One", "Sub Notebook", "Space-saving", "Lunch Box", "Main Server Chassis", "Expansion Chassis",
	"SubChassis", "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis",
	"Sealed-case PC", "Multi-system chassis", "Compact PCI", "Advanced TCA", "Blade", "Blade Enclosure",
	"Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC", "Mini PC", "Stick PC"}

func chassisTypeName(number string) string {
	var n int
	if _, err := fmt.Sscanf(number, "%d", &n); err == nil && n > 0 && n < len(chassisTypes) {
		return chassisTypes[n]
	}
	return number
}
