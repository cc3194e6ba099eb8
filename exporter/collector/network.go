package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
)

// networkCollector reports the host's network interfaces from /sys/class/net and their IP
// addresses: the addresses are how a load balancer's backend finds its host.
//
// Addresses come from the kernel through netlink in the exporter's network namespace (run it
// with the host's network, as node_exporter); sysfs has no file for IPv4 addresses.
type networkCollector struct{ cfg Config }

func newNetworkCollector(cfg Config) (Collector, error) { return &networkCollector{cfg}, nil }

func (c *networkCollector) Update(ctx context.Context, s *Scrape) error {
	entries, err := os.ReadDir(c.cfg.sys("class/net"))
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		dev := e.Name()
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
		driver := ""
		if target, err := os.Readlink(filepath.Join(dir, "device/driver")); err == nil {
			driver = filepath.Base(target)
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

// NetlinkAddresses lists the IP addresses of a device in the exporter's network namespace,
// IPv6 link-local ones left out since no backend is reached through them.
func NetlinkAddresses(device string) ([]string, error) {
	iface, err := net.InterfaceByName(device)
	if err != nil {
		var nerr *net.OpError
		if errors.As(err, &nerr) || err.Error() == "route ip+net: no such network interface" {
			return nil, nil // in sysfs but not in this namespace
		}
		return nil, err
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ipnet.IP.String())
	}
	sort.Strings(out)
	return out, nil
}
