package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
)

// Provider is one type of the configuration file's sources list (`type: haproxy`). Its package
// declares it with a func Provider() and the server lists it (server/sources.go): that line, the
// package and its tests are all a new source takes.
type Provider struct {
	Type string
	// Settings returns the settings of one entry, holding their defaults, for the file to fill.
	Settings func() Settings
	// Local, when set, is the provider's load balancer on this machine as strata up finds it
	// without configuration (a socket, an admin API, a file at its usual place), named after
	// the type; see Discovered.
	Local func(localHost string) LoadBalancers
}

// Discovered is a load balancer of this machine that may or may not be there: find looks for
// it on every refresh, so that one started after strata is found; one that is not there lists
// no LB and is no failure.
func Discovered(name string, find func(context.Context) (LoadBalancers, bool)) LoadBalancers {
	return &discovered{name: name, find: find}
}

type discovered struct {
	name string
	find func(context.Context) (LoadBalancers, bool)
}

func (d *discovered) Name() string { return d.name }

func (d *discovered) ListLoadBalancers(ctx context.Context) ([]LB, error) {
	s, ok := d.find(ctx)
	if !ok {
		return nil, nil
	}
	return s.ListLoadBalancers(ctx)
}

// Settings is a provider's configuration: one struct, whose keys Fields reads from a sources
// entry and which Build turns into the source.
type Settings interface {
	// Fields lists the entry's keys besides type and name, each read into the struct.
	Fields(d *Decoder) []strictyaml.Field
	// Build makes the source named name: a LoadBalancers, a Facts, or both.
	Build(name string, env Env) (any, error)
}

// Checker is Settings with a rule across its keys (one of two keys, not both), checked once the
// entry is read; entry is the entry's mapping, path its field path.
type Checker interface {
	Check(d *Decoder, entry *yaml.Node, path string)
}

// Env is what a source may need of the rest of the configuration.
type Env struct {
	// StaleAfter is topology.stale_after: how long what a source stopped reporting is kept.
	StaleAfter time.Duration
}

// Decoder reads the keys of one configuration file: a strict YAML decoder (file:line: path:
// reason, every problem at once), the file's directory for relative paths, and checks that
// need the whole file, run once it is read.
type Decoder struct {
	*strictyaml.Decoder
	dir     string
	refresh *time.Duration // topology.refresh_interval, final once the file is read
	later   []func()
}

// NewDecoder reads a file whose relative paths are relative to dir, and whose
// topology.refresh_interval is read into *refresh.
func NewDecoder(d *strictyaml.Decoder, dir string, refresh *time.Duration) *Decoder {
	return &Decoder{Decoder: d, dir: dir, refresh: refresh}
}

// Later runs f once the whole file is read (see Finish).
func (d *Decoder) Later(f func()) { d.later = append(d.later, f) }

// Finish runs the checks that needed the whole file and returns every problem found.
func (d *Decoder) Finish() error {
	for _, f := range d.later {
		f()
	}
	return d.Err()
}

// StringField reads a string, checked by check when not nil. Absent or null leaves dst (its
// default).
func (d *Decoder) StringField(dst *string, check func(string) error) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.String(n, path)
		if !ok || s == "" {
			return
		}
		if check != nil {
			if err := check(s); err != nil {
				d.Errorf(n, path, "%v", err)
				return
			}
		}
		*dst = s
	}
}

// PathField reads a file's path: ~ is the home directory, and a relative path is relative to
// the configuration file, not to wherever strata was started.
func (d *Decoder) PathField(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.String(n, path)
		if !ok || s == "" {
			return
		}
		p, err := resolvePath(d.dir, s)
		if err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		*dst = p
	}
}

func resolvePath(dir, p string) (string, error) {
	if strings.HasPrefix(p, "~") {
		rest, ok := strings.CutPrefix(p, "~")
		if rest != "" && !strings.HasPrefix(rest, "/") {
			ok = false
		}
		if !ok {
			return "", errors.New("only ~ and ~/… are expanded, not ~user; write the full path")
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %v", err)
		}
		p = filepath.Join(home, rest)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p), nil
}

// DurationField reads a positive duration in Prometheus's notation (30s, 5m, 1h30m, 1d), the
// one the scrape configs of the same file use.
func (d *Decoder) DurationField(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.String(n, path)
		if !ok || s == "" {
			return
		}
		v, err := model.ParseDuration(s)
		if err != nil || v <= 0 {
			d.Errorf(n, path, "want a positive duration such as 15s, 5m or 1h")
			return
		}
		*dst = time.Duration(v)
	}
}

// TimeoutField reads a duration that must fit in topology.refresh_interval, wherever the file
// sets it: a source that takes longer delays the refreshes after it.
func (d *Decoder) TimeoutField(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.DurationField(dst)(n, path)
		d.Later(func() {
			if d.refresh != nil && *dst > *d.refresh {
				d.Errorf(n, path, "%s is longer than topology.refresh_interval (%s)", DurationString(*dst), DurationString(*d.refresh))
			}
		})
	}
}

// BoolField reads true or false.
func (d *Decoder) BoolField(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if b, ok := d.Bool(n, path); ok {
			*dst = b
		}
	}
}

// DurationString prints a duration as the file would write it (5m, not 5m0s).
func DurationString(d time.Duration) string { return model.Duration(d).String() }

// Present returns the value of key in entry when it is set to something other than null.
func Present(entry *yaml.Node, key string) *yaml.Node {
	v := strictyaml.Deref(strictyaml.Lookup(entry, key))
	if v == nil || v.ShortTag() == "!!null" {
		return nil
	}
	return v
}

// CheckHTTPURL accepts an absolute http or https URL.
func CheckHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host")
	}
	if p := u.Port(); p != "" {
		if err := CheckPort(p); err != nil {
			return err
		}
	}
	return nil
}

// CheckPort accepts a TCP port, 1-65535.
func CheckPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("invalid port (want 1-65535)")
	}
	return nil
}
