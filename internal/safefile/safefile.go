// Package safefile reads the files people point strata at (its configuration, an inventory,
// nginx's configuration) so that no such file can stall the process or exhaust its memory,
// whatever the path turns out to be: only a regular file is read (a named pipe would block a
// reader forever, /dev/zero never ends), it is opened without blocking, and it is read up to a
// size. Its errors name the file, never its content.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrTooLarge is the error of a file over the size it may have.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the regular file at path (a symlink is followed to one), up to limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a named pipe for reading would wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file but %s", describeMode(st.Mode()))}
	}
	if st.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, st.Size(), limit)}
	}
	// The file may grow between the stat and the read: read one byte past the limit to tell.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, limit)}
	}
	return b, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}
