package collector

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// readTrim reads a small file (sysfs, procfs) and trims blanks and NULs.
func readTrim(path string) (string, error) {
	var v string
	err := readFileFunc(path, func(b []byte) error {
		v = string(bytes.TrimSpace(bytes.Trim(b, "\x00\n")))
		return nil
	})
	return v, err
}

// readFile reads a small file of procfs, sysfs or cgroupfs whole; see readFileFunc.
func readFile(path string) ([]byte, error) {
	var out []byte
	err := readFileFunc(path, func(b []byte) error {
		out = bytes.Clone(b)
		return nil
	})
	return out, err
}

// readBufs are the buffers of readFileFunc, so that a scrape reading thousands of small
// files does not allocate a buffer for each.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readFileFunc reads a small file of procfs, sysfs or cgroupfs whole and passes its content
// to use, which must not keep it. It makes four system calls (open, read, read of nothing,
// close) where os.ReadFile makes up to ten (os.Open tries to add every file to the network
// poller, and fstat sizes the buffer), which counts when a scrape of a host with a thousand
// containers reads thousands of files. Its errors are *os.PathError, as os's.
func readFileFunc(path string, use func([]byte) error) error {
	return readFileWith(path, false, use)
}

// readCgroupFileFunc is readFileFunc for a cgroupfs file, which the kernel writes in one
// piece: a read that leaves room in the buffer returned all of it, and the read of nothing
// that marks the end can be saved (a quarter of the system calls of a container's usage).
// Fixtures' regular files end the same way.
func readCgroupFileFunc(path string, use func([]byte) error) error {
	return readFileWith(path, true, use)
}

func readFileWith(path string, onePiece bool, use func([]byte) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	b, err := readAll(path, (*bp)[:0], onePiece)
	if cap(b) <= 1<<20 {
		*bp = b[:0] // keep a grown buffer, unless a huge file grew it
	}
	if err != nil {
		return err
	}
	return use(b)
}

func readAll(path string, buf []byte, onePiece bool) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return buf, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return buf, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		case onePiece && len(buf)+n < cap(buf):
			return buf[:len(buf)+n], nil
		}
		buf = buf[:len(buf)+n]
	}
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

// forEachParallel calls f for 0 ≤ i < n on up to 4 goroutines (fewer with fewer CPUs), and
// stops handing out work when ctx is done. f must be safe to run concurrently; a panic in f
// is raised again in the caller, where the scrape's recover sees it.
func forEachParallel(ctx context.Context, n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), 4, n)
	if workers <= 1 {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var panicked atomic.Pointer[any]
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panicked.CompareAndSwap(nil, &r)
				}
			}()
			for ctx.Err() == nil && panicked.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
	if r := panicked.Load(); r != nil {
		panic(*r)
	}
}

// direntBufs are the buffers of readDirNames.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readDirNames lists the names in directory path, with whether each is a directory, in
// the kernel's order. It makes three system calls for a small directory (open, getdents,
// close) where os.ReadDir makes more and allocates an entry per name; discovery walks every
// cgroup directory on every scrape. A file system that does not report entry types (d_type
// unknown) has the type read with lstat.
func readDirNames(path string, f func(name string, dir bool)) error {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "readdirent", Path: path, Err: err}
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off+19 <= n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen <= 0 || off+reclen > n {
				break
			}
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			s := string(name)
			isDir := typ == syscall.DT_DIR
			if typ == syscall.DT_UNKNOWN {
				var st syscall.Stat_t
				isDir = syscall.Lstat(path+"/"+s, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR
			}
			f(s, isDir)
		}
	}
}
