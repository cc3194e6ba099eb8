package inventory

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/strata-obs/strata/internal/safefile"
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
// A change that drops most of what the file listed (fewer than half its hosts, LBs, services
// and instances) is held back for HoldBack after the file's last change: calls return an error
// that says so, and the topology keeps the last graph, marked stale. A file written in place
// is read half-written, and a half that parses would otherwise wipe what the rest held; a
// deliberate cut takes effect once the file stays unchanged that long. Inventories are best
// written by atomic rename.
//
// Only a regular file of at most MaxFileSize bytes is read (internal/safefile).
//
// The returned values are shared between calls: callers must not modify them.
type Source struct {
	name, path string
	holdBack   time.Duration
	now        func() time.Time

	mu    sync.Mutex
	stamp os.FileInfo // of the last parse, good or bad; nil before the first
	inv   *Inventory  // the last good parse, served
	err   error       // of the last parse, nil when it was good
	held  *Inventory  // a parse held back (see above), nil when none
}

// MaxFileSize bounds an inventory file: a fleet of 10,000 hosts and 100,000 instances is 8 MB.
const MaxFileSize = 64 << 20

// DefaultHoldBack is how long a change that drops most entities is held back when New is given
// no duration: the topology's default --topology.stale-after, so that the last graph, kept
// stale meanwhile, is dropped when the new one is taken.
const DefaultHoldBack = 5 * time.Minute

var (
	_ source.LoadBalancers = (*Source)(nil)
	_ source.Facts         = (*Source)(nil)
)

// New returns a Source named name for the inventory file at path, holding back a change that
// drops most entities for holdBack (0: DefaultHoldBack). It reads the file now, so a broken
// inventory stops strata at startup with the line at fault rather than later.
func New(name, path string, holdBack time.Duration) (*Source, error) {
	if holdBack <= 0 {
		holdBack = DefaultHoldBack
	}
	s := &Source{name: name, path: path, holdBack: holdBack, now: time.Now}
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
		s.stamp, s.held = nil, nil
		return nil, err
	}
	if s.stamp == nil || !sameFile(s.stamp, fi) {
		inv, err := s.parse()
		s.stamp, s.held = fi, nil
		if err != nil {
			// The parse errors name the file and line; the caller adds the source's name.
			s.err = err
			return nil, err
		}
		s.err = nil
		if s.inv != nil && 2*inv.size() < s.inv.size() {
			s.held = inv
		} else {
			s.inv = inv
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.held != nil {
		if wait := fi.ModTime().Add(s.holdBack).Sub(s.now()); wait > 0 {
			return nil, fmt.Errorf("%s: held back: the file now lists %d hosts, LBs, services and instances where it listed %d; "+
				"it is taken as it is once unchanged for %s (%s from now). A file written in place is read half-written: write inventories by atomic rename",
				s.path, s.held.size(), s.inv.size(), s.holdBack, wait.Round(time.Second))
		}
		s.inv, s.held = s.held, nil
	}
	return s.inv, nil
}

func (s *Source) parse() (*Inventory, error) {
	b, err := safefile.ReadFile(s.path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return Parse(s.path, bytes.NewReader(b))
}

// size counts the entities an inventory lists: hosts, LBs, services and instances.
func (inv *Inventory) size() int {
	n := len(inv.Hosts) + len(inv.LBs)
	for _, lb := range inv.LBs {
		n += len(lb.Services)
		for _, svc := range lb.Services {
			n += len(svc.Instances)
		}
	}
	return n
}

// sameFile reports whether the file looks unchanged: same inode (an editor's save-by-rename
// makes a new one), same modification time and same size.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
