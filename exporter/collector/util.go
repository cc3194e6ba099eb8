package collector

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// readTrim reads a small file (sysfs, procfs) and trims blanks and NULs.
func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.Trim(string(b), "\x00\n")), nil
}

// readOptional is readTrim for files that may legitimately be absent: absence is "".
func readOptional(path string) (string, error) {
	v, err := readTrim(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return v, err
}

// slowly caches facts that do not change (DMI, CPU model, disks) so a scrape does not
// re-read the world: load runs at most once per interval, and a failed load is retried on the
// next scrape while the last good value is served.
type slowly[T any] struct {
	mu       sync.Mutex
	interval time.Duration
	now      func() time.Time
	load     func() (T, error)
	value    T
	loadedAt time.Time
	ok       bool
}

func newSlowly[T any](cfg Config, load func() (T, error)) *slowly[T] {
	interval := cfg.StaticRefresh
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return &slowly[T]{interval: interval, now: cfg.now, load: load}
}

func (s *slowly[T]) get() (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok && s.now().Sub(s.loadedAt) < s.interval {
		return s.value, nil
	}
	v, err := s.load()
	if err != nil {
		if s.ok {
			return s.value, fmt.Errorf("refresh failed, serving facts from %s: %w", s.loadedAt.Format(time.RFC3339), err)
		}
		return v, err
	}
	s.value, s.loadedAt, s.ok = v, s.now(), true
	return v, nil
}
