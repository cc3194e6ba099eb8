package inventory

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/strata-obs/strata/topology/source"
)

// Source serves an inventory file as both an LB source and a facts source.
//
// Each call checks the file's modification time and size (a stat, no read) and parses it again
// when they changed, so edits are picked up at the next refresh without a restart or a signal.
// When the changed file is invalid (or gone), every call returns the error, naming the line,
// until the file is fixed: the source serves nothing new, and the topology keeps the last good
// graph it built (a source error is a warning and strata_topology_source_up 0, not an empty
// graph). The error is not cached past a change: the next edit is parsed again.
//
// The returned values are shared between calls: callers must not modify them.
type Source struct {
	name, path string

	mu    sync.Mutex
	stamp os.FileInfo // of the last parse, good or bad; nil before the first
	inv   *Inventory  // the last good parse
	err   error       // of the last parse, nil when it was good
}

var (
	_ source.LoadBalancers = (*Source)(nil)
	_ source.Facts         = (*Source)(nil)
)

// New returns a Source named name for the inventory file at path. It reads the file now, so a
// broken inventory stops strata at startup with the line at fault rather than later.
func New(name, path string) (*Source, error) {
	s := &Source{name: name, path: path}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// ListLoadBalancers returns the inventory's load balancers, with their instances in the file's
// order.
func (s *Source) ListLoadBalancers(ctx context.Context) ([]source.LB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv, err := s.load()
	if err != nil {
		return nil, err
	}
	return inv.LBs, nil
}

// ListFacts returns the inventory's hosts. The file has no history: at is ignored, and a past
// graph's inventory facts come from the strata_topology_* series written at that time.
func (s *Source) ListFacts(ctx context.Context, _ time.Time) (*source.FactSet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv, err := s.load()
	if err != nil {
		return nil, err
	}
	return &source.FactSet{Hosts: inv.Hosts}, nil
}

// load returns the inventory, parsing the file again if it changed since the last parse.
func (s *Source) load() (*Inventory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		// Not remembered as a stamp: when the file comes back, it is parsed whatever its time.
		s.stamp = nil
		return nil, err
	}
	if s.stamp != nil && sameFile(s.stamp, fi) {
		if s.err != nil {
			return nil, s.err
		}
		return s.inv, nil
	}
	inv, err := s.parse()
	s.stamp = fi
	if err != nil {
		// The parse errors name the file and line; the caller adds the source's name.
		s.err = err
		return nil, err
	}
	s.inv, s.err = inv, nil
	return inv, nil
}

func (s *Source) parse() (*Inventory, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(s.path, f)
}

// sameFile reports whether the file looks unchanged: same inode (an editor's save-by-rename
// makes a new one), same modification time and same size.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
