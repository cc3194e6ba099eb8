package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/procfs"
)

// identityCollector reports who the host is: hostname, machine-id and boot-id (facts of
// strata_host_info) and its boot time. The SMBIOS UUID is the dmi collector's, behind
// --collector.dmi.serials.
type identityCollector struct {
	cfg Config
	fs  procfs.FS
}

func newIdentityCollector(cfg Config) (Collector, error) {
	fs, err := procfs.NewFS(cfg.ProcFS)
	if err != nil {
		return nil, err
	}
	return &identityCollector{cfg: cfg, fs: fs}, nil
}

func (c *identityCollector) Update(_ context.Context, s *Scrape) error {
	var errs []error
	hostname, err := readTrim(c.cfg.proc("sys/kernel/hostname"))
	if err != nil {
		errs = append(errs, fmt.Errorf("read hostname: %w", err))
	}
	s.Fact(hostInfo, "hostname", hostname)

	machineID, err := readOptional(c.cfg.root("etc/machine-id"))
	if err == nil && machineID == "" {
		machineID, err = readOptional(c.cfg.root("var/lib/dbus/machine-id"))
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("read machine-id: %w", err))
	}
	s.Fact(hostInfo, "machine_id", machineID)

	bootID, err := readTrim(c.cfg.proc("sys/kernel/random/boot_id"))
	if err != nil {
		errs = append(errs, fmt.Errorf("read boot_id: %w", err))
	}
	s.Fact(hostInfo, "boot_id", bootID)

	stat, err := c.fs.Stat()
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("read boot time: %w", err))
	case stat.BootTime == 0:
		errs = append(errs, errors.New("read boot time: /proc/stat has no btime"))
	default:
		s.Emit(hostBootTime, float64(stat.BootTime))
	}
	return errors.Join(errs...)
}
