package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The families this collector alone emits.
var (
	listenerInfo = family("strata_listener_info",
		"A listening TCP socket with its process and container (empty container_id for host processes); netns is empty in the host's network namespace; value 1.", info,
		"address", "port", "pid", "comm", "container_id", "netns")
)

// listenerCollector reports listening TCP sockets with the process and container that own
// them, in the host's network namespace and in every container's own: this is how
// 10.0.3.17:8080 behind a load balancer becomes a container.
//
// Finding a socket's owner means reading every process's fds, which is costly; so the
// collector caches socket inode → pid and pid → (netns, comm, container), and reads fds only
// for sockets it has not seen, and only of the processes in that socket's namespace.
type listenerCollector struct {
	cfg Config

	liveProc bool // --path.procfs is a real procfs: namespaces can be entered for sock_diag
	ownNetns string

	mu       sync.Mutex
	procs    map[int]*listenerProc
	newPids  map[int]bool    // learned on this scrape
	owner    map[uint64]int  // socket inode → pid
	searched map[uint64]bool // listening inodes whose owner every process was searched for
	scrapes  int
}

type listenerProc struct {
	netns, comm, containerID string
}

// Listener is a listening socket read from /proc/net/tcp or tcp6.
type Listener struct {
	Address string
	Port    int
	Inode   uint64
}

func newListenerCollector(cfg Config) (Collector, error) {
	c := &listenerCollector{cfg: cfg, procs: map[int]*listenerProc{}, owner: map[uint64]int{}, searched: map[uint64]bool{}}
	if cfg.liveProcfs() {
		c.liveProc = true
		if ns, err := os.Readlink("/proc/self/ns/net"); err == nil {
			c.ownNetns = netnsID(ns)
		}
	}
	return c, nil
}

func (c *listenerCollector) Update(ctx context.Context, s *Scrape) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refreshProcs(); err != nil {
		return err
	}
	hostNetns := c.hostNetns()
	namespaces, byNetns := c.namespaces()

	var rows []listenerRow
	var errs []error
	searched := map[uint64]bool{}
	for _, ns := range namespaces {
		if err := ctx.Err(); err != nil {
			return err
		}
		listeners, err := c.readListeners(ns, byNetns[ns])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, inode := range c.findOwners(ctx, listeners, byNetns[ns]) {
			searched[inode] = true
		}
		label := ns
		if ns == hostNetns {
			label = ""
		}
		for _, l := range listeners {
			rows = append(rows, listenerRow{l, c.owner[l.Inode], label})
		}
	}
	c.searched = searched
	c.emit(s, rows)
	return errors.Join(errs...)
}

// listenerRow is a listening socket with the process that owns it (0: none found) and its
// network namespace ("" for the host's).
type listenerRow struct {
	Listener
	pid   int
	netns string
}

// namespaces are the network namespaces of the processes, sorted, each with its processes:
// one process per namespace lets its sockets be read.
func (c *listenerCollector) namespaces() ([]string, map[string][]int) {
	byNetns := map[string][]int{}
	for pid, p := range c.procs {
		if p.netns != "" {
			byNetns[p.netns] = append(byNetns[p.netns], pid)
		}
	}
	namespaces := make([]string, 0, len(byNetns))
	for ns, pids := range byNetns {
		sort.Ints(pids)
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	return namespaces, byNetns
}

// findOwners looks for the owners of the sockets nobody is known to own (a process we cannot
// see, a kernel socket): once in every process of the namespace, then only in the processes
// that appeared since. It returns the inodes it searched for.
func (c *listenerCollector) findOwners(ctx context.Context, listeners []Listener, pids []int) []uint64 {
	var unknown, stillUnknown []uint64
	for _, l := range listeners {
		if _, ok := c.procs[c.owner[l.Inode]]; ok {
			continue
		}
		if c.searched[l.Inode] {
			stillUnknown = append(stillUnknown, l.Inode)
		} else {
			unknown = append(unknown, l.Inode)
		}
	}
	if len(unknown) > 0 {
		c.scanOwners(ctx, pids, unknown)
	}
	if len(stillUnknown) > 0 {
		var fresh []int
		for _, pid := range pids {
			if c.newPids[pid] {
				fresh = append(fresh, pid)
			}
		}
		c.scanOwners(ctx, fresh, stillUnknown)
	}
	return append(unknown, stillUnknown...)
}

// emit writes one strata_listener_info per address, port, process and namespace.
func (c *listenerCollector) emit(s *Scrape, rows []listenerRow) {
	seen := map[string]bool{}
	for _, r := range rows {
		pid, comm, container := "", "", ""
		if p, ok := c.procs[r.pid]; ok && r.pid != 0 {
			pid, comm, container = strconv.Itoa(r.pid), p.comm, p.containerID
		}
		key := r.Address + "|" + strconv.Itoa(r.Port) + "|" + pid + "|" + r.netns
		if seen[key] { // SO_REUSEPORT: one process, several sockets on one address
			continue
		}
		seen[key] = true
		s.Emit(listenerInfo, 1, r.Address, strconv.Itoa(r.Port), pid, comm, container, r.netns)
	}
}

// hostNetns is the network namespace of the host's init, else (when pid 1 is not ours to
// read, as in some sandboxes) the exporter's own, which runs with the host's network.
func (c *listenerCollector) hostNetns() string {
	if p := c.procs[1]; p != nil {
		return p.netns
	}
	ns, err := os.Readlink(c.cfg.proc("self/ns/net"))
	if err != nil {
		return ""
	}
	return netnsID(ns)
}

// netnsID is the inode number of a namespace link's target, "net:[4026531840]".
func netnsID(link string) string {
	return strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]")
}

// netnsRecheckEvery is how many scrapes pass between two readings of every known process's
// network namespace. A process rarely moves (setns before exec, e.g. `ip netns exec`), and a
// moved one opening a listener is caught at once by scanOwners; this bounds the rest.
const netnsRecheckEvery = 8

// refreshProcs lists the processes, forgets those gone and learns the new ones; every
// netnsRecheckEvery scrapes it reads again the network namespace of the known ones.
func (c *listenerCollector) refreshProcs() error {
	var pids []int
	err := readDirNames(c.cfg.ProcFS, func(name string, dir bool) {
		if pid, err := strconv.Atoi(name); err == nil && dir {
			pids = append(pids, pid)
		}
	})
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	if len(pids) == 0 {
		return fmt.Errorf("list processes: no process under %s: is it a procfs?", c.cfg.ProcFS)
	}
	c.scrapes++
	recheck := c.scrapes%netnsRecheckEvery == 0
	alive := make(map[int]bool, len(pids))
	c.newPids = map[int]bool{}
	for _, pid := range pids {
		alive[pid] = true
		if known, ok := c.procs[pid]; ok {
			if !recheck {
				continue
			}
			ns, err := os.Readlink(c.cfg.proc(strconv.Itoa(pid), "ns/net"))
			if err == nil && netnsID(ns) == known.netns {
				continue
			}
		}
		if p, ok := c.readProc(pid); ok {
			c.procs[pid] = p
			c.newPids[pid] = true
		}
	}
	for pid := range c.procs {
		if !alive[pid] {
			delete(c.procs, pid)
		}
	}
	for inode, pid := range c.owner {
		if !alive[pid] {
			delete(c.owner, inode)
		}
	}
	return nil
}

func (c *listenerCollector) readProc(pid int) (*listenerProc, bool) {
	dir := c.cfg.proc(strconv.Itoa(pid))
	ns, err := os.Readlink(dir + "/ns/net")
	if err != nil {
		return nil, false // exited, or a kernel thread we may not read
	}
	p := &listenerProc{netns: netnsID(ns)}
	p.comm, _ = readTrim(dir + "/comm")
	if cg, err := readFile(dir + "/cgroup"); err == nil {
		if ref, ok := containerFromProcCgroup(string(cg)); ok {
			p.containerID = ref.ID
		}
	}
	return p, true
}

// readListeners reads the listening sockets of a namespace: through sock_diag where the
// namespace can be entered, else from /proc/<pid>/net/tcp{,6} of the first of its processes
// that is still there.
func (c *listenerCollector) readListeners(ns string, pids []int) ([]Listener, error) {
	if c.liveProc {
		for _, pid := range pids {
			fd, err := openSockDiag(c.cfg.proc(strconv.Itoa(pid), "ns/net"), ns == c.ownNetns)
			if err != nil {
				continue
			}
			ls, err := sockDiagListeners(fd)
			unix.Close(fd)
			if err == nil {
				return ls, nil
			}
			break
		}
	}
	var lastErr error
	for _, pid := range pids {
		var out []Listener
		ok := true
		for _, file := range []string{"tcp", "tcp6"} {
			var ls []Listener
			var parseErr error
			err := readFileFunc(c.cfg.proc(strconv.Itoa(pid), "net", file), func(b []byte) error {
				ls, parseErr = ParseProcNetTCP(bytes.NewReader(b))
				return nil
			})
			if errors.Is(err, os.ErrNotExist) && file == "tcp6" {
				continue // IPv6 disabled
			}
			if err != nil {
				lastErr, ok = err, false
				break
			}
			if parseErr != nil {
				return nil, fmt.Errorf("parse /proc/%d/net/%s: %w", pid, file, parseErr)
			}
			out = append(out, ls...)
		}
		if ok {
			return out, nil
		}
	}
	if errors.Is(lastErr, os.ErrNotExist) {
		return nil, nil // every process of the namespace exited mid-scrape: nothing listens there
	}
	return nil, fmt.Errorf("read sockets: %w", lastErr)
}

// scanOwners reads the fds of the namespace's processes until every wanted socket inode has
// its owner.
func (c *listenerCollector) scanOwners(ctx context.Context, pids []int, wanted []uint64) {
	want := make(map[uint64]bool, len(wanted))
	for _, w := range wanted {
		want[w] = true
	}
	// Newest processes first: a socket we have not seen most likely belongs to one.
	order := append([]int(nil), pids...)
	sort.Sort(sort.Reverse(sort.IntSlice(order)))
	for _, pid := range order {
		if len(want) == 0 || ctx.Err() != nil {
			return
		}
		fdDir := c.cfg.proc(strconv.Itoa(pid), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(fdDir + "/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(target[len("socket:["):len(target)-1], 10, 64)
			if err != nil {
				continue
			}
			if _, taken := c.owner[inode]; !taken || want[inode] {
				c.owner[inode] = pid
			}
			if want[inode] {
				// A new listening socket: its process may have exec'd (sh -c 'exec server')
				// or moved to a container since we first read it.
				if p, ok := c.readProc(pid); ok {
					c.procs[pid] = p
				}
				delete(want, inode)
			}
		}
	}
}

// ParseProcNetTCP reads /proc/net/tcp or tcp6 and returns the sockets in LISTEN state.
func ParseProcNetTCP(r io.Reader) ([]Listener, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	var out []Listener
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header
		}
		fields := bytes.Fields(sc.Bytes())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 10 {
			return nil, fmt.Errorf("line %d: expected at least 10 fields, got %d", line, len(fields))
		}
		if string(fields[3]) != "0A" { // TCP_LISTEN
			continue
		}
		addr, port, err := parseHexAddress(string(fields[1]))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		inode, err := strconv.ParseUint(string(fields[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode: %w", line, err)
		}
		out = append(out, Listener{Address: addr, Port: port, Inode: inode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}

// parseHexAddress decodes the kernel's "0100007F:1F90": the address as 32-bit words in host
// (little-endian) byte order, the port in hex.
func parseHexAddress(s string) (string, int, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, fmt.Errorf("address %q: no port", truncate(s, 40))
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", 0, fmt.Errorf("address %q: not a hex IPv4 or IPv6 address", truncate(s, 40))
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", truncate(hexPort, 10), err)
	}
	ip := net.IP(raw)
	if v4 := ip.To4(); v4 != nil && len(raw) == 16 && !ip.Equal(net.IPv6zero) {
		return v4.String(), int(port), nil // IPv4-mapped, as the kernel lists dual-stack sockets
	}
	return ip.String(), int(port), nil
}
