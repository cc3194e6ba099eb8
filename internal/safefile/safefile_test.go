package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadFile: a regular file (or a symlink to one) is read whole up to the limit; anything
// else is refused at once, naming the file and what it is, never its content.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(regular, []byte("hosts: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "pipe.yml")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte(strings.Repeat("secret\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
		limit      int64
	}{
		{regular, "", 1 << 20},
		{link, "", 1 << 20},
		{pipe, pipe + ": not a regular file but a named pipe", 1 << 20},
		{zero, zero + ": not a regular file but a character device", 1 << 20},
		{dir, dir + ": not a regular file but a directory", 1 << 20},
		{big, big + ": file too large: 700 bytes, more than the limit of 100", 100},
		{filepath.Join(dir, "missing.yml"), "no such file or directory", 1 << 20},
	} {
		b, err := ReadFile(c.path, c.limit)
		switch {
		case c.want == "" && (err != nil || string(b) != "hosts: []\n"):
			t.Errorf("ReadFile(%s) = %q, %v", c.path, b, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ReadFile(%s) = %v, want an error holding %q", c.path, err, c.want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("ReadFile(%s): the error shows the content: %v", c.path, err)
		}
	}
	if _, err := ReadFile(big, 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile(big) = %v, want ErrTooLarge", err)
	}
}
