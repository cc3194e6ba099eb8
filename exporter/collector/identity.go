package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/procfs"
)

// The families this collector alone emits.
var (
	hostBootTime = family("strata_host_boot_time_seconds",
		"When the host booted, in unix seconds.", gauge)
)

// identityCollector reports who the host is: hostname, machine-id and boot-id (facts of
// strata_host_info) and its boot time. The SMBIOS UUID is the dmi collector's, behind
// --collector.dmi.serials. The hostname is read on every scrape; the rest changes only with a
// reboot, which restarts the exporter, and is read slowly.
type identityCollector struct {
	cfg  Config
	boot *slowly[bootFacts]
}

type bootFacts struct {
	machineID, bootID string
	bootTime          uint64
}

func newIdentityCollector(cfg Config) (Collector, error) {
	fs, err := procfs.NewFS(cfg.ProcFS)
	if err != nil {
		return nil, err
	}
	c := &identityCollector{cfg: cfg}
	c.boot = newSlowly(cfg, func() (bootFacts, error) { return c.readBoot(fs) })
	return c, nil
}

func (c *identityCollector) Update(_ context.Context, s *Scrape) error {
	var errs []error
	hostname, err := readTrim(c.cfg.proc("sys/kernel/hostname"))
	if err != nil {
		errs = append(errs, fmt.Errorf("read hostname: %w", err))
	}
	s.Fact(hostInfo, "hostname", hostname)

	boot, err := c.boot.get() // on a failed first read, what could be read
	if err != nil {
		errs = append(errs, err)
	}
	s.Fact(hostInfo, "machine_id", boot.machineID)
	s.Fact(hostInfo, "boot_id", boot.bootID)
	if boot.bootTime != 0 {
		s.Emit(hostBootTime, float64(boot.bootTime))
	}
	return errors.Join(errs...)
}

func (c *identityCollector) readBoot(fs procfs.FS) (bootFacts, error) {
	var f bootFacts
	var errs []error
	var err error
	f.machineID, err = readOptional(c.cfg.root("etc/machine-id"))
	if err == nil && f.machineID == "" {
		f.machineID, err = readOptional(c.cfg.root("var/lib/dbus/machine-id"))
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("read machine-id: %w", err))
	}
	if f.bootID, err = readTrim(c.cfg.proc("sys/kernel/random/boot_id")); err != nil {
		errs = append(errs, fmt.Errorf("read boot_id: %w", err))
	}
	stat, err := fs.Stat()
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("read boot time: %w", err))
	case stat.BootTime == 0:
		errs = append(errs, errors.New("read boot time: /proc/stat has no btime"))
	default:
		f.bootTime = stat.BootTime
	}
	return f, errors.Join(errs...)
}
