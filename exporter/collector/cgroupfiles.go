package collector

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// cgroupFiles keeps containers' usage files (cpuacct.usage, memory.stat, …) open from one
// scrape to the next. Reading a cgroupfs file again at offset 0 makes the kernel write it
// afresh, in one system call where opening, reading and closing take three; on a host with a
// thousand containers those calls are most of a scrape's cost.
//
// A file no scrape read is closed at the end of the scrape. A file of a removed cgroup reads
// ENODEV and is opened again, since a restarted container gets its cgroup back under the same
// path. (A fixture's regular file removed and written anew keeps reading its old content
// through the old descriptor; cgroupfs has no such case.) At most half the process's file
// limit is kept open; past it, files are read without being kept.
type cgroupFiles struct {
	scrapeMu sync.Mutex // one scrape at a time: a scrape's end closes what it did not read

	mu     sync.Mutex
	files  map[string]*cgroupFile
	scrape uint64
	limit  int
}

type cgroupFile struct {
	fd     int
	scrape uint64 // the last scrape that read it
}

func newCgroupFiles() *cgroupFiles {
	c := &cgroupFiles{files: map[string]*cgroupFile{}, limit: 512}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur/2 > 512 {
		c.limit = int(min(rl.Cur/2, 1<<20))
	}
	// A collector is never closed; its files are, when it is collected (tests make many).
	runtime.AddCleanup(c, func(files map[string]*cgroupFile) {
		for _, f := range files {
			syscall.Close(f.fd)
		}
	}, c.files)
	return c
}

// begin starts a scrape; end, which must follow, closes the files the scrape did not read.
func (c *cgroupFiles) begin() {
	c.scrapeMu.Lock()
	c.mu.Lock()
	c.scrape++
	c.mu.Unlock()
}

func (c *cgroupFiles) end() {
	c.mu.Lock()
	for path, f := range c.files {
		if f.scrape != c.scrape {
			syscall.Close(f.fd)
			delete(c.files, path)
		}
	}
	c.mu.Unlock()
	c.scrapeMu.Unlock()
}

// read reads the cgroup file at path whole and passes its content to use, as
// readCgroupFileFunc does. Between begin and end, files of different paths may be read
// concurrently, a path by one goroutine at a time.
func (c *cgroupFiles) read(path string, use func([]byte) error) error {
	for attempt := 0; ; attempt++ {
		fd, kept, err := c.open(path)
		if err != nil {
			return err
		}
		err = preadWhole(fd, path, use)
		if !kept {
			syscall.Close(fd)
			return err
		}
		var perr *os.PathError
		if err == nil || attempt > 0 || !errors.As(err, &perr) || perr.Op != "read" {
			return err
		}
		c.forget(path) // its cgroup was removed (ENODEV): open it again, once
	}
}

// open returns the kept descriptor of path, else opens it and keeps it if the limit allows.
func (c *cgroupFiles) open(path string) (fd int, kept bool, err error) {
	c.mu.Lock()
	f, ok := c.files[path]
	if ok {
		f.scrape = c.scrape
	}
	full := len(c.files) >= c.limit
	c.mu.Unlock()
	if ok {
		return f.fd, true, nil
	}
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return -1, false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if full {
		return fd, false, nil
	}
	c.mu.Lock()
	c.files[path] = &cgroupFile{fd: fd, scrape: c.scrape}
	c.mu.Unlock()
	return fd, true, nil
}

func (c *cgroupFiles) forget(path string) {
	c.mu.Lock()
	if f, ok := c.files[path]; ok {
		syscall.Close(f.fd)
		delete(c.files, path)
	}
	c.mu.Unlock()
}

// preadWhole reads fd from offset 0 in one piece (a cgroupfs file is written whole on each
// read from its start), with a larger buffer when it does not fit.
func preadWhole(fd int, path string, use func([]byte) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := (*bp)[:cap(*bp)]
	for {
		n, err := syscall.Pread(fd, buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n < len(buf) {
			if cap(buf) <= 1<<20 {
				*bp = buf[:0]
			}
			return use(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
