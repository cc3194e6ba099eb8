package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The families this collector alone emits.
var (
	networkInterfaceInfo = family("strata_network_interface_info",
		"A network interface of the host; speed in Mb/s; value 1.", info,
		"device", "driver", "mac", "operstate", "speed", "mtu")
	hostAddressInfo = family("strata_host_address_info",
		"An IP address of the host, one series per address: how load-balancer backends find their host; value 1.", info,
		"device", "address")
)

// networkCollector reports the host's network interfaces from /sys/class/net and their IP
// addresses: the addresses are how a load balancer's backend finds its host.
//
// Addresses come from the kernel through netlink in the exporter's network namespace (run it
// with the host's network, as node_exporter); sysfs has no file for IPv4 addresses.
type networkCollector struct {
	cfg     Config
	mu      sync.Mutex
	drivers map[string]string // an interface's driver does not change while it exists
}

func newNetworkCollector(cfg Config) (Collector, error) {
	return &networkCollector{cfg: cfg, drivers: map[string]string{}}, nil
}

func (c *networkCollector) Update(ctx context.Context, s *Scrape) error {
	entries, err := os.ReadDir(c.cfg.sys("class/net"))
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	present := make(map[string]bool, len(entries))
	defer func() {
		for dev := range c.drivers {
			if !present[dev] {
				delete(c.drivers, dev)
			}
		}
	}()
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		dev := e.Name()
		present[dev] = true
		if c.cfg.NetworkDeviceExclude != nil && c.cfg.NetworkDeviceExclude.MatchString(dev) {
			continue
		}
		dir := c.cfg.sys("class/net", dev)
		operstate, err := readTrim(filepath.Join(dir, "operstate"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the interface went away mid-scrape
		}
		mac, _ := readOptional(filepath.Join(dir, "address"))
		mtu, _ := readOptional(filepath.Join(dir, "mtu"))
		speed, _ := readOptional(filepath.Join(dir, "speed")) // EINVAL while down
		if speed == "-1" {
			speed = ""
		}
		driver, known := c.drivers[dev]
		if !known {
			if target, err := os.Readlink(filepath.Join(dir, "device/driver")); err == nil {
				driver = filepath.Base(target)
			}
			c.drivers[dev] = driver
		}
		s.Emit(networkInterfaceInfo, 1, dev, driver, mac, operstate, speed, mtu)

		if c.cfg.AddressLister == nil {
			continue
		}
		addrs, err := c.cfg.AddressLister(dev)
		if err != nil {
			errs = append(errs, fmt.Errorf("addresses of %s: %w", dev, err))
			continue
		}
		for _, a := range addrs {
			s.Emit(hostAddressInfo, 1, dev, a)
		}
	}
	return errors.Join(errs...)
}

// NewNetlinkAddressLister lists the IP addresses of a device in the exporter's network
// namespace, IPv6 link-local ones left out since no backend is reached through them. One
// netlink dump of links and one of addresses serve every device of a scrape.
func NewNetlinkAddressLister() func(device string) ([]string, error) {
	var (
		mu     sync.Mutex
		at     time.Time
		byName map[string][]string
		err    error
	)
	return func(device string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > time.Second {
			byName, err = netlinkAddresses()
			at = time.Now()
		}
		return byName[device], err
	}
}

func netlinkAddresses() (map[string][]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make(map[int]string, len(ifaces))
	for _, ifc := range ifaces {
		names[ifc.Index] = ifc.Name
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("dump addresses: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("parse addresses: %w", err)
	}
	out := map[string][]string{}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			continue
		}
		var ip net.IP
		for _, a := range attrs {
			// IFA_LOCAL is the address on point-to-point links, IFA_ADDRESS elsewhere.
			if a.Attr.Type == syscall.IFA_LOCAL || a.Attr.Type == syscall.IFA_ADDRESS && ip == nil {
				ip = net.IP(append([]byte(nil), a.Value...))
			}
		}
		if ip == nil || ip.IsLinkLocalUnicast() {
			continue
		}
		name := names[int(ifa.Index)]
		out[name] = append(out[name], ip.String())
	}
	for _, addrs := range out {
		sort.Strings(addrs)
	}
	return out, nil
}
