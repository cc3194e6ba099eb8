package collector

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/procfs/sysfs"
)

// dmiOf builds the DMI table of a host from sysfs file names and values.
func dmiOf(fields map[string]string) *sysfs.DMIClass {
	d := &sysfs.DMIClass{}
	ptr := map[string]**string{
		"sys_vendor": &d.SystemVendor, "product_name": &d.ProductName, "product_version": &d.ProductVersion,
		"bios_vendor": &d.BiosVendor, "bios_version": &d.BiosVersion, "board_vendor": &d.BoardVendor,
		"chassis_asset_tag": &d.ChassisAssetTag,
	}
	for k, v := range fields {
		p, ok := ptr[k]
		if !ok {
			panic("dmiOf: no field " + k)
		}
		*p = &v
	}
	return d
}

func TestDetectVirtualizationAndCloud(t *testing.T) {
	tests := []struct {
		name       string
		dmi        map[string]string // nil: no DMI table
		hypervisor bool              // the CPU's hypervisor flag
		xenType    string            // /sys/hypervisor/type
		virt       string
		cloud      string
		instance   string
	}{
		{name: "bare metal", dmi: map[string]string{"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R640", "bios_vendor": "Dell Inc."}, virt: "none"},
		{name: "bare metal with placeholders", dmi: map[string]string{"sys_vendor": "To Be Filled By O.E.M.", "product_name": "System Product Name", "board_vendor": "ASUSTeK COMPUTER INC."}, virt: "none"},
		{name: "no DMI, no flag", virt: "none"},
		{name: "no DMI, hypervisor flag (Firecracker)", hypervisor: true, virt: "vm-other"},
		{name: "no DMI, Xen PV guest", xenType: "xen", hypervisor: true, virt: "xen"},
		{
			name:       "EC2 Nitro",
			dmi:        map[string]string{"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2", "bios_version": "1.0", "board_vendor": "Amazon EC2"},
			hypervisor: true, virt: "amazon", cloud: "aws", instance: "m5.large",
		},
		{
			name:       "EC2 metal",
			dmi:        map[string]string{"sys_vendor": "Amazon EC2", "product_name": "c5.metal", "bios_vendor": "Amazon EC2"},
			hypervisor: false, virt: "none", cloud: "aws", instance: "c5.metal",
		},
		{
			name:       "EC2 Xen (older generations)",
			dmi:        map[string]string{"sys_vendor": "Xen", "product_name": "HVM domU", "bios_vendor": "Xen", "bios_version": "4.11.amazon"},
			hypervisor: true, xenType: "xen", virt: "xen", cloud: "aws",
		},
		{
			name:       "Google Compute Engine",
			dmi:        map[string]string{"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google", "board_vendor": "Google"},
			hypervisor: true, virt: "kvm", cloud: "gcp",
		},
		{
			name:       "Azure",
			dmi:        map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine", "bios_vendor": "Microsoft Corporation", "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"},
			hypervisor: true, virt: "microsoft", cloud: "azure",
		},
		{
			name:       "Hyper-V on premises",
			dmi:        map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine", "bios_vendor": "Microsoft Corporation"},
			hypervisor: true, virt: "microsoft",
		},
		{
			name:       "Oracle Cloud",
			dmi:        map[string]string{"sys_vendor": "QEMU", "product_name": "Standard PC (i440FX + PIIX, 1996)", "chassis_asset_tag": "OracleCloud.com"},
			hypervisor: true, virt: "qemu", cloud: "oci",
		},
		{
			name:       "OpenStack",
			dmi:        map[string]string{"sys_vendor": "OpenStack Foundation", "product_name": "OpenStack Nova", "bios_vendor": "SeaBIOS"},
			hypervisor: true, virt: "kvm", cloud: "openstack",
		},
		{
			name:       "OpenStack, vendor rebranded",
			dmi:        map[string]string{"sys_vendor": "RDO", "product_name": "OpenStack Compute"},
			hypervisor: true, virt: "kvm", cloud: "openstack",
		},
		{
			name:       "Hetzner Cloud: only the flag tells a VM",
			dmi:        map[string]string{"sys_vendor": "Hetzner", "product_name": "vServer", "bios_vendor": "Hetzner"},
			hypervisor: true, virt: "vm-other", cloud: "hetzner",
		},
		{
			name:       "DigitalOcean",
			dmi:        map[string]string{"sys_vendor": "DigitalOcean", "product_name": "Droplet", "bios_vendor": "DigitalOcean"},
			hypervisor: true, virt: "vm-other", cloud: "digitalocean",
		},
		{
			name:       "Alibaba Cloud",
			dmi:        map[string]string{"sys_vendor": "Alibaba Cloud", "product_name": "Alibaba Cloud ECS", "bios_vendor": "SeaBIOS"},
			hypervisor: true, virt: "vm-other", cloud: "alibaba",
		},
		{
			name:       "Scaleway: the product is the instance type",
			dmi:        map[string]string{"sys_vendor": "Scaleway", "product_name": "SCW-PRO2-XXS"},
			hypervisor: true, virt: "vm-other", cloud: "scaleway", instance: "SCW-PRO2-XXS",
		},
		{name: "Linode", dmi: map[string]string{"sys_vendor": "Linode", "product_name": "Compute Instance"}, hypervisor: true, virt: "vm-other", cloud: "linode"},
		{name: "Akamai", dmi: map[string]string{"sys_vendor": "Akamai", "product_name": "Compute Instance"}, hypervisor: true, virt: "vm-other", cloud: "linode"},
		{name: "Vultr", dmi: map[string]string{"sys_vendor": "Vultr", "product_name": "VC2"}, hypervisor: true, virt: "vm-other", cloud: "vultr"},
		{name: "Tencent Cloud", dmi: map[string]string{"sys_vendor": "Tencent Cloud", "product_name": "CVM"}, hypervisor: true, virt: "vm-other", cloud: "tencent"},
		{name: "VMware", dmi: map[string]string{"sys_vendor": "VMware, Inc.", "product_name": "VMware7,1", "bios_vendor": "VMware, Inc."}, hypervisor: true, virt: "vmware"},
		{name: "VirtualBox", dmi: map[string]string{"sys_vendor": "innotek GmbH", "product_name": "VirtualBox", "bios_vendor": "innotek GmbH"}, hypervisor: true, virt: "oracle"},
		{name: "plain QEMU", dmi: map[string]string{"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)", "bios_vendor": "SeaBIOS"}, hypervisor: true, virt: "qemu"},
		{name: "libvirt KVM", dmi: map[string]string{"sys_vendor": "Red Hat", "product_name": "KVM", "bios_vendor": "SeaBIOS"}, hypervisor: true, virt: "kvm"},
		{name: "Parallels", dmi: map[string]string{"sys_vendor": "Parallels Software International Inc.", "product_name": "Parallels Virtual Platform"}, hypervisor: true, virt: "parallels"},
		{name: "bhyve", dmi: map[string]string{"sys_vendor": "FreeBSD", "product_name": "BHYVE"}, hypervisor: true, virt: "bhyve"},
		{name: "Apple Virtualization", dmi: map[string]string{"sys_vendor": "Apple Inc.", "product_name": "Apple Virtualization Generic Platform"}, hypervisor: true, virt: "apple"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d *sysfs.DMIClass
			if tt.dmi != nil {
				d = dmiOf(tt.dmi)
			}
			if got := detectVirtualization(d, tt.hypervisor, tt.xenType); got != tt.virt {
				t.Errorf("detectVirtualization = %q, want %q", got, tt.virt)
			}
			cloud, instance := detectCloud(d)
			if cloud != tt.cloud || instance != tt.instance {
				t.Errorf("detectCloud = %q, %q, want %q, %q", cloud, instance, tt.cloud, tt.instance)
			}
		})
	}
}

func TestChassisTypeName(t *testing.T) {
	for in, want := range map[string]string{
		"1": "Other", "2": "Unknown", "3": "Desktop", "10": "Notebook", "17": "Main Server Chassis",
		"23": "Rack Mount Chassis", "28": "Blade", "29": "Blade Enclosure", "35": "Mini PC", "36": "Stick PC",
		"0":  "0",  // not a type: kept as it is
		"37": "37", // newer than the table
		"-1": "-1", "": "", "rack": "rack",
	} {
		if got := chassisTypeName(in); got != want {
			t.Errorf("chassisTypeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDMIString(t *testing.T) {
	for in, want := range map[string]string{
		"Dell Inc.": "Dell Inc.", "  PowerEdge R640 ": "PowerEdge R640",
		"To Be Filled By O.E.M.": "", "Not Specified": "", "Default string": "", "System Product Name": "",
		"None": "", "N/A": "", "0123456789": "", "": "",
	} {
		v := in
		if got := dmiString(&v); got != want {
			t.Errorf("dmiString(%q) = %q, want %q", in, got, want)
		}
	}
	if got := dmiString(nil); got != "" {
		t.Errorf("dmiString(nil) = %q", got)
	}
}

// TestDMISerialsOnlyWhenAsked checks that serial numbers stay out unless
// --collector.dmi.serials is set.
func TestDMISerialsOnlyWhenAsked(t *testing.T) {
	for _, serials := range []bool{false, true} {
		cfg := fixtureConfig(t, filepath.Join("testdata", "baremetal"))
		cfg.Serials = serials
		c, err := newDMICollector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := &Scrape{Host: "db-07", facts: newFacts()}
		if err := c.Update(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		if got := len(s.metrics); got != map[bool]int{false: 0, true: 1}[serials] {
			t.Errorf("serials %v: %d series, want strata_host_serial_info only with serials", serials, got)
		}
	}
}
