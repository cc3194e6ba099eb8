package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/procfs"
)

// The families this collector alone emits.
var (
	hostMemory = family("strata_host_memory_bytes",
		"Total usable memory of the host (MemTotal).", gauge)
)

// memoryCollector reports the host's total memory from /proc/meminfo.
type memoryCollector struct{ fs procfs.FS }

func newMemoryCollector(cfg Config) (Collector, error) {
	fs, err := procfs.NewFS(cfg.ProcFS)
	if err != nil {
		return nil, err
	}
	return &memoryCollector{fs}, nil
}

func (c *memoryCollector) Update(_ context.Context, s *Scrape) error {
	mi, err := c.fs.Meminfo()
	if err != nil {
		return fmt.Errorf("read meminfo: %w", err)
	}
	if mi.MemTotalBytes == nil {
		return fmt.Errorf("meminfo has no MemTotal")
	}
	s.Emit(hostMemory, float64(*mi.MemTotalBytes))
	return nil
}
