package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The families this collector alone emits.
var (
	diskInfo = family("strata_disk_info",
		"A disk of the host; value 1.", info,
		"device", "model", "vendor", "rotational", "wwn")
	diskSize = family("strata_disk_size_bytes",
		"Size of a disk.", gauge, "device")
)

// diskCollector reports the host's physical disks from /sys/block: model, vendor, size,
// rotational and WWN where sysfs has them. Virtual block devices (loop, ram, zram,
// device-mapper, md) have no backing device and are skipped.
type diskCollector struct {
	cfg   Config
	disks *slowly[[]disk]
}

type disk struct {
	device, model, vendor, rotational, wwn string
	sizeBytes                              float64
}

func newDiskCollector(cfg Config) (Collector, error) {
	c := &diskCollector{cfg: cfg}
	c.disks = newSlowly(cfg, c.read)
	return c, nil
}

func (c *diskCollector) Update(_ context.Context, s *Scrape) error {
	disks, err := c.disks.get()
	for _, d := range disks {
		s.Emit(diskInfo, 1, d.device, d.model, d.vendor, d.rotational, d.wwn)
		s.Emit(diskSize, d.sizeBytes, d.device)
	}
	return err
}

func (c *diskCollector) read() ([]disk, error) {
	entries, err := os.ReadDir(c.cfg.sys("block"))
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var disks []disk
	var errs []error
	for _, e := range entries {
		name := e.Name()
		dir := c.cfg.sys("block", name)
		if _, err := os.Stat(filepath.Join(dir, "device")); err != nil {
			continue // virtual device
		}
		if strings.HasPrefix(name, "zram") || strings.HasPrefix(name, "loop") {
			continue
		}
		d := disk{device: name}
		sectors, err := readTrim(filepath.Join(dir, "size"))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed (a hot-unplugged disk) while we read
		}
		n, perr := strconv.ParseUint(sectors, 10, 64)
		if err != nil || perr != nil {
			// One unreadable disk is this collector's failure, not the loss of the others.
			errs = append(errs, fmt.Errorf("size of %s: %w", name, errors.Join(err, perr)))
			continue
		}
		d.sizeBytes = float64(n) * 512 // sysfs counts 512-byte sectors whatever the block size
		d.rotational, _ = readOptional(filepath.Join(dir, "queue/rotational"))
		d.model, _ = readOptional(filepath.Join(dir, "device/model"))
		d.vendor, _ = readOptional(filepath.Join(dir, "device/vendor"))
		if strings.HasPrefix(d.vendor, "0x") { // a PCI/virtio id, not a name
			d.vendor = ""
		}
		if d.wwn, _ = readOptional(filepath.Join(dir, "wwid")); d.wwn == "" {
			d.wwn, _ = readOptional(filepath.Join(dir, "device/wwid"))
		}
		disks = append(disks, d)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].device < disks[j].device })
	return disks, errors.Join(errs...)
}
