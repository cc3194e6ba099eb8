package collector

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The families this collector alone emits.
var (
	hostOSInfo = family("strata_host_os_info",
		"Every identifying field of os-release; value 1.", info,
		"id", "id_like", "name", "version", "version_id", "version_codename", "variant_id", "build_id",
		"image_id", "image_version", "pretty_name", "support_end")
	hostOSSupportEnd = family("strata_host_os_support_end_timestamp_seconds",
		"When the OS image stops being supported (os-release SUPPORT_END), in unix seconds.", gauge)
)

// osCollector reports the OS image from os-release(5): /etc/os-release, else
// /usr/lib/os-release, both under --path.rootfs.
type osCollector struct{ cfg Config }

func newOSCollector(cfg Config) (Collector, error) { return &osCollector{cfg}, nil }

func (c *osCollector) Update(_ context.Context, s *Scrape) error {
	fields, err := c.read()
	if err != nil {
		return err
	}
	s.Fact(hostInfo, "os_id", fields["ID"])
	s.Fact(hostInfo, "os_version_id", fields["VERSION_ID"])
	s.Fact(hostInfo, "os_image", fields["PRETTY_NAME"])
	s.Fact(hostInfo, "image_id", fields["IMAGE_ID"])
	s.Fact(hostInfo, "image_version", fields["IMAGE_VERSION"])
	s.Emit(hostOSInfo, 1, fields["ID"], fields["ID_LIKE"], fields["NAME"], fields["VERSION"],
		fields["VERSION_ID"], fields["VERSION_CODENAME"], fields["VARIANT_ID"], fields["BUILD_ID"],
		fields["IMAGE_ID"], fields["IMAGE_VERSION"], fields["PRETTY_NAME"], fields["SUPPORT_END"])
	if end := fields["SUPPORT_END"]; end != "" {
		t, err := time.Parse(time.DateOnly, end)
		if err != nil {
			return fmt.Errorf("os-release SUPPORT_END %q is not YYYY-MM-DD", end)
		}
		s.Emit(hostOSSupportEnd, float64(t.Unix()))
	}
	return nil
}

func (c *osCollector) read() (map[string]string, error) {
	var errs []error
	for _, rel := range []string{"etc/os-release", "usr/lib/os-release"} {
		f, err := openUnderRoot(c.cfg.RootFS, rel)
		if errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open os-release: %w", err)
		}
		fields, err := ParseOSRelease(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.Name(), err)
		}
		return fields, nil
	}
	return nil, fmt.Errorf("no os-release: %w", errors.Join(errs...))
}

// openUnderRoot opens root/rel, resolving symbolic links inside root: /etc/os-release is
// usually a link to /usr/lib/os-release, which must not escape to the exporter's own
// filesystem when the host is mounted at --path.rootfs.
func openUnderRoot(root, rel string) (*os.File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := rel
	for range 8 {
		target, err := r.Readlink(p)
		if err != nil {
			break // not a link (or unreadable): open it as it is
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join("/", filepath.Dir(p), target)
		}
		p = strings.TrimPrefix(filepath.Clean(target), "/") // "/.." is "/", as in a chroot
	}
	f, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ParseOSRelease parses os-release(5): KEY=value lines, blank lines and # comments, values
// optionally in single or double quotes with shell-style backslash escapes.
func ParseOSRelease(r io.Reader) (map[string]string, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, raw, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected KEY=value, got %q", line, truncate(text, 40))
		}
		if !validOSReleaseKey(key) {
			return nil, fmt.Errorf("line %d: invalid key %q", line, truncate(key, 40))
		}
		value, err := unquoteShell(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", line, key, err)
		}
		fields[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return fields, nil
}

func validOSReleaseKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func unquoteShell(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	quote := raw[0]
	if quote != '"' && quote != '\'' {
		if strings.ContainsAny(raw, " \t\"'") {
			return "", fmt.Errorf("unquoted value %q contains blanks or quotes", truncate(raw, 40))
		}
		return raw, nil
	}
	var b strings.Builder
	for i := 1; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case ch == quote:
			if rest := strings.TrimSpace(raw[i+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
				return "", fmt.Errorf("text after closing quote: %q", truncate(rest, 40))
			}
			return b.String(), nil
		case ch == '\\' && quote == '"' && i+1 < len(raw) && strings.IndexByte("\"\\$`", raw[i+1]) >= 0:
			i++
			b.WriteByte(raw[i])
		default:
			b.WriteByte(ch)
		}
	}
	return "", errors.New("missing closing quote")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
