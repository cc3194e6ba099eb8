package inventory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/topology/source"
)

const (
	oneLB = `lbs:
  - name: edge
    services:
      - name: web
        instances:
          - {name: web-0, address: 10.0.0.1:80}
`
	twoLBs = oneLB + `  - name: edge2
`
	oneHost = `hosts:
  - name: node-1
    addresses: [10.0.0.1]
    facts: {kernel_release: 6.1.0}
    labels: {rack: r1}
`
	broken = `lbs:
  - name: edge
    services:
      - name: web
        instances:
          - {name: web-0, address: 10.0.0.1}
`
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// touch moves the file's modification time forward, as an edit a second later would, so the
// test does not depend on the file system's timestamp granularity.
func touch(t *testing.T, path string, by time.Duration) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime().Add(by), fi.ModTime().Add(by)); err != nil {
		t.Fatal(err)
	}
}

func lbNames(t *testing.T, s *Source) []string {
	t.Helper()
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatalf("ListLoadBalancers: %v", err)
	}
	var names []string
	for _, lb := range lbs {
		names = append(names, lb.Name)
	}
	return names
}

func TestSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	writeFile(t, path, oneLB+oneHost)
	s, err := New("cmdb", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "cmdb" {
		t.Errorf("Name() = %q", s.Name())
	}
	lbs, err := s.ListLoadBalancers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantLBs := []source.LB{{
		Name:     "edge",
		Provider: "inventory",
		Services: []source.Service{{
			Name:      "web",
			Instances: []source.Instance{{Name: "web-0", Address: "10.0.0.1", Port: 80, Health: source.HealthUnknown}},
		}},
	}}
	if diff := cmp.Diff(wantLBs, lbs); diff != "" {
		t.Errorf("ListLoadBalancers (-want +got):\n%s", diff)
	}
	facts, err := s.ListFacts(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantFacts := &source.FactSet{Hosts: []source.Host{{
		Origin:    source.OriginInventory,
		Name:      "node-1",
		Addresses: []string{"10.0.0.1"},
		Attrs:     map[string]string{"kernel_release": "6.1.0"},
		Labels:    map[string]string{"rack": "r1"},
	}}}
	if diff := cmp.Diff(wantFacts, facts); diff != "" {
		t.Errorf("ListFacts (-want +got):\n%s", diff)
	}
}

func TestNewFails(t *testing.T) {
	dir := t.TempDir()
	if _, err := New("cmdb", filepath.Join(dir, "missing.yml"), 0); err == nil || !os.IsNotExist(err) {
		t.Errorf("New(missing file) = %v, want a not-exist error", err)
	}
	path := filepath.Join(dir, "inventory.yml")
	writeFile(t, path, broken)
	want := path + `:6: lbs[0].services[0].instances[0].address: no port: want host:port`
	if _, err := New("cmdb", path, 0); err == nil || err.Error() != want {
		t.Errorf("New(broken file) = %v, want %s", err, want)
	}
}

func TestSourceReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	writeFile(t, path, oneLB)
	s, err := New("cmdb", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge"}) {
		t.Fatalf("first read: %v", got)
	}

	// A change of size is picked up at the next call.
	writeFile(t, path, twoLBs)
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge", "edge2"}) {
		t.Errorf("after an edit: %v, want edge and edge2", got)
	}

	// So is a change of the same size, by its modification time.
	writeFile(t, path, strings.Replace(twoLBs, "edge2", "edge3", 1))
	touch(t, path, time.Second)
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge", "edge3"}) {
		t.Errorf("after a same-size edit: %v, want edge and edge3", got)
	}

	// And a file replaced by rename (as editors and config management save), even with the
	// same size and time.
	fi, _ := os.Stat(path)
	tmp := path + ".tmp"
	writeFile(t, tmp, strings.Replace(twoLBs, "edge2", "edge4", 1))
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge", "edge4"}) {
		t.Errorf("after a rename: %v, want edge and edge4", got)
	}
}

// TestSourceBrokenThenFixed: a broken edit is an error at every call (the topology keeps its
// last good graph and says why), and the fix is picked up.
func TestSourceBrokenThenFixed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	writeFile(t, path, oneLB+oneHost)
	s, err := New("cmdb", path, 0)
	if err != nil {
		t.Fatal(err)
	}

	writeFile(t, path, broken)
	want := path + `:6: lbs[0].services[0].instances[0].address: no port: want host:port`
	for range 2 {
		if lbs, err := s.ListLoadBalancers(context.Background()); err == nil || err.Error() != want {
			t.Errorf("ListLoadBalancers on a broken file = %v, %v; want %s", lbs, err, want)
		}
		if facts, err := s.ListFacts(context.Background(), time.Now()); err == nil || err.Error() != want {
			t.Errorf("ListFacts on a broken file = %v, %v; want %s", facts, err, want)
		}
	}

	writeFile(t, path, twoLBs)
	touch(t, path, time.Second)
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge", "edge2"}) {
		t.Errorf("after the fix: %v, want edge and edge2", got)
	}

	// A removed file is an error too, and its return is picked up whatever its time.
	fi, _ := os.Stat(path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListLoadBalancers(context.Background()); !os.IsNotExist(err) {
		t.Errorf("ListLoadBalancers on a removed file: %v, want a not-exist error", err)
	}
	writeFile(t, path, oneLB)
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge"}) {
		t.Errorf("after the file came back: %v, want edge", got)
	}
}

func TestSourceCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	writeFile(t, path, oneLB)
	s, err := New("cmdb", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListLoadBalancers(ctx); err != context.Canceled {
		t.Errorf("ListLoadBalancers(cancelled) = %v", err)
	}
	if _, err := s.ListFacts(ctx, time.Now()); err != context.Canceled {
		t.Errorf("ListFacts(cancelled) = %v", err)
	}
}

// TestSourceConcurrent: the topology may ask for LBs and facts at once while the file changes
// (run with -race).
func TestSourceConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	writeFile(t, path, oneLB)
	s, err := New("cmdb", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					_, _ = s.ListLoadBalancers(context.Background())
				} else {
					_, _ = s.ListFacts(context.Background(), time.Now())
				}
			}
		})
	}
	for i := range 20 {
		content := oneLB
		if i%2 == 1 {
			content = twoLBs + oneHost
		}
		writeFile(t, path+".tmp", content)
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	writeFile(t, path, twoLBs)
	touch(t, path, time.Second)
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge", "edge2"}) {
		t.Errorf("after the changes: %v", got)
	}
}

// fleetInventory is 50 hosts and one LB of 50 instances, as a CMDB export would be.
func fleetInventory() string {
	var b strings.Builder
	b.WriteString("hosts:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  - name: node-%02d\n    addresses: [10.0.0.%d]\n    facts: {kernel_release: 6.1.0-13-amd64}\n", i, i+1)
	}
	b.WriteString("lbs:\n  - name: edge\n    services:\n      - name: web\n        instances:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "          - {name: web-%02d, address: 10.0.0.%d:80}\n", i, i+1)
	}
	return b.String()
}

// TestSourceHoldsBackAShrink: a file cut at a line boundary while it is written (37 of 50
// hosts and no LB) parses, and would wipe most of the graph: it is held back with an error
// that says why, until it has stayed unchanged for the hold; the complete file, written
// meanwhile, is taken at once; a deliberate cut is taken once the hold has passed.
func TestSourceHoldsBackAShrink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yml")
	full := fleetInventory()
	writeFile(t, path, full)
	s, err := New("cmdb", path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.now = func() time.Time { return now }

	cut := full[:strings.Index(full, "  - name: node-37\n")]
	writeFile(t, path, cut)
	touch(t, path, time.Second)
	for range 2 {
		if _, err := s.ListLoadBalancers(context.Background()); err == nil || !strings.Contains(err.Error(),
			"held back: the file now lists 37 hosts, LBs, services and instances where it listed 102") ||
			!strings.Contains(err.Error(), "write inventories by atomic rename") {
			t.Errorf("ListLoadBalancers on a cut file: %v", err)
		}
		if _, err := s.ListFacts(context.Background(), now); err == nil || !strings.Contains(err.Error(), "held back") {
			t.Errorf("ListFacts on a cut file: %v", err)
		}
	}

	// The writer finishes: the whole file is taken at once.
	writeFile(t, path, full)
	touch(t, path, 2*time.Second)
	if got := lbNames(t, s); !cmp.Equal(got, []string{"edge"}) {
		t.Errorf("after the whole file: %v", got)
	}

	// A deliberate cut is held back for the hold, then taken.
	writeFile(t, path, cut)
	touch(t, path, 3*time.Second)
	if _, err := s.ListLoadBalancers(context.Background()); err == nil {
		t.Error("a cut file was taken at once")
	}
	fi, _ := os.Stat(path)
	now = fi.ModTime().Add(time.Minute + time.Second)
	if got := lbNames(t, s); len(got) != 0 {
		t.Errorf("after the hold: LBs %v, want none", got)
	}
	facts, err := s.ListFacts(context.Background(), now)
	if err != nil || len(facts.Hosts) != 37 {
		t.Errorf("after the hold: %v hosts, %v; want 37", facts, err)
	}
}

// TestSourceRefusesWhatIsNoFile: a path that is a named pipe or a device is refused at once (a
// pipe blocked every refresh, /dev/zero took all the memory there was); one that leads to a
// password file is refused without a word of it.
func TestSourceRefusesWhatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe.yml")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	shadow := filepath.Join(dir, "shadow")
	writeFile(t, shadow, "root:$y$j9T$Zq1v3cR8$hunter2hash:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n")
	link := filepath.Join(dir, "inventory.yml")
	if err := os.Symlink(shadow, link); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "cloud.env")
	writeFile(t, env, "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
	for _, c := range []struct {
		path, holds string
	}{
		{pipe, "not a regular file but a named pipe"},
		{zero, "not a regular file but a character device"},
		{link, "unknown field …"},
		{env, "want a mapping, got a string"},
	} {
		done := make(chan error, 1)
		go func() { _, err := New("cmdb", c.path, 0); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.holds) {
				t.Errorf("New(%s) = %v, want an error holding %q", c.path, err, c.holds)
			}
			for _, secret := range []string{"hunter2", "root", "daemon", "wJalr", "AWS_SECRET"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("New(%s): the error shows %q: %v", c.path, secret, err)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("New(%s) blocks", c.path)
		}
	}
}
