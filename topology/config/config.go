// Package config reads strata's configuration file (DESIGN.md §7): the sources of load
// balancers and facts, the scrape configurations handed to Prometheus's scrape manager, an
// optional external store, and the topology's own settings.
//
// Parse is the pure core: bytes in, a Config with every default filled in, or every problem at
// once (errors.Join), each as "file:line: field.path: reason". Load reads the file and calls it.
//
// To add a source type: one struct in sources.go with its Type and fields methods (and a check
// method for rules across its fields), and one line in specs; then one case in the topology's
// BuildSources (topology/sources.go) that hands the struct to the source's constructor.
package config

import (
	"github.com/strata-obs/strata/internal/redact"

	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-obs/strata/internal/labelname"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/internal/strictyaml"
)

// Config is strata's configuration.
type Config struct {
	Sources []Source
	// ScrapeConfigs is the YAML of the file's scrape_configs list: a block sequence with its
	// aliases expanded, to be put under a `scrape_configs:` key for Prometheus's config.Load;
	// nil when the list is absent or empty. Only its shape (a list of mappings with distinct
	// job_names) is checked here: Prometheus's own parser owns the format and checks the rest.
	ScrapeConfigs []byte
	Prometheus    Prometheus
	Topology      Topology
}

// Prometheus is an external store beside the embedded TSDB: one to read the exporters' series
// from, one to send the topology's series to, or both.
type Prometheus struct {
	URL string // where to query (read); empty: the embedded TSDB
	// RemoteWrite is where the strata_topology_* series are sent with Prometheus's remote write
	// protocol (a receiver's URL, such as Prometheus's /api/v1/write), besides the embedded
	// TSDB; empty: they stay in the embedded TSDB only.
	RemoteWrite string
}

// Topology holds the settings of the refresh loop.
type Topology struct {
	RefreshInterval time.Duration // how often the graph is rebuilt and written
	StaleAfter      time.Duration // how long an entity whose sources stopped reporting is kept
	// LabelAllowlist lists the metadata labels (k8s labels, LB tags, inventory labels) copied
	// into series. An allow-list, because label values multiply series.
	LabelAllowlist []string
}

// Defaults of the topology block.
const (
	DefaultRefreshInterval = 15 * time.Second
	DefaultStaleAfter      = 5 * time.Minute
)

// DefaultLabelAllowlist is the allow-list when the file sets none: the labels people put on
// things to say who owns them and where they run.
func DefaultLabelAllowlist() []string {
	return []string{"app", "team", "owner", "env", "tier", "zone", "rack"}
}

// MaxFileSize bounds the configuration file: a few kilobytes in practice, megabytes with
// thousands of static scrape targets.
const MaxFileSize = 16 << 20

// Load reads the configuration file at path. Relative paths inside it are resolved against
// the file's directory.
func Load(path string) (*Config, error) {
	data, err := safefile.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// An absolute base keeps the resolved paths right if the process changes directory.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, dir, data)
}

// Parse reads a configuration from data; name is the file's name, as errors show it, and its
// directory is the base of relative paths. The error is an errors.Join of *strictyaml.Error.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, filepath.Dir(name), data)
}

func parse(name, dir string, data []byte) (*Config, error) {
	root, err := strictyaml.Read(name, data)
	if err != nil {
		return nil, err
	}
	r := &reader{d: strictyaml.NewDecoder(name, root), dir: dir}
	c := &Config{
		Topology: Topology{
			RefreshInterval: DefaultRefreshInterval,
			StaleAfter:      DefaultStaleAfter,
			LabelAllowlist:  DefaultLabelAllowlist(),
		},
	}
	if root != nil {
		r.d.Mapping(root, "", []strictyaml.Field{
			{Name: "sources", Read: func(n *yaml.Node, path string) { c.Sources = r.sources(n, path) }},
			{Name: "scrape_configs", Read: func(n *yaml.Node, path string) { c.ScrapeConfigs = r.scrapeConfigs(n, path) }},
			{Name: "prometheus", Read: func(n *yaml.Node, path string) {
				r.d.Mapping(n, path, []strictyaml.Field{
					{Name: "url", Read: r.str(&c.Prometheus.URL, CheckHTTPURL)},
					{Name: "remote_write", Read: r.str(&c.Prometheus.RemoteWrite, CheckHTTPURL)},
				})
			}},
			{Name: "topology", Read: func(n *yaml.Node, path string) { r.topology(n, path, &c.Topology) }},
		})
	}
	for _, check := range r.later {
		check(c)
	}
	if err := r.d.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// reader reads one file: the decoder that records problems, and what paths are relative to.
type reader struct {
	d   *strictyaml.Decoder
	dir string
	// later holds checks that need the whole file, such as a timeout against the refresh
	// interval set further down.
	later []func(*Config)
}

func (r *reader) topology(n *yaml.Node, path string, t *Topology) {
	var refreshNode, staleNode *yaml.Node
	r.d.Mapping(n, path, []strictyaml.Field{
		{Name: "refresh_interval", Read: func(n *yaml.Node, path string) {
			refreshNode = n
			r.duration(&t.RefreshInterval)(n, path)
		}},
		{Name: "stale_after", Read: func(n *yaml.Node, path string) {
			staleNode = n
			r.duration(&t.StaleAfter)(n, path)
		}},
		{Name: "label_allowlist", Read: func(n *yaml.Node, path string) {
			if n.ShortTag() == "!!null" {
				return // `label_allowlist:` with nothing: the default, as if absent
			}
			seen := map[string]int{}
			t.LabelAllowlist = []string{} // an explicit [] copies no labels
			r.d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
				s, ok := r.d.String(n, path)
				if !ok {
					return
				}
				if err := labelname.Check(s); err != nil {
					r.d.Errorf(n, path, "%v", err)
					return
				}
				if s == "instance" || s == "job" {
					r.d.Errorf(n, path, "%s cannot be copied into series: the scraper owns it", redact.QuoteKey(s))
					return
				}
				if r.d.Unique(seen, n, path, s) {
					t.LabelAllowlist = append(t.LabelAllowlist, s)
				}
			})
		}},
	})
	if t.StaleAfter < t.RefreshInterval {
		// Entities would go stale between two refreshes that both see them.
		at, p := staleNode, strictyaml.Path(path, "stale_after")
		if at == nil {
			at, p = refreshNode, strictyaml.Path(path, "refresh_interval")
		}
		r.d.Errorf(at, p, "stale_after (%s) must not be shorter than refresh_interval (%s)",
			durationString(t.StaleAfter), durationString(t.RefreshInterval))
	}
}

// scrapeConfigs checks the shape of scrape_configs and returns the list as YAML of its own.
func (r *reader) scrapeConfigs(n *yaml.Node, path string) []byte {
	jobs := map[string]int{}
	ok := r.d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			r.d.Errorf(n, path, "want a mapping (a Prometheus scrape config), got %s", strictyaml.Describe(n))
			return
		}
		job := strictyaml.Lookup(n, "job_name")
		p := strictyaml.Path(path, "job_name")
		if job == nil {
			r.d.Errorf(n, p, "required")
			return
		}
		if s, ok := r.d.String(job, p); ok && s == "" {
			r.d.Errorf(job, p, "must not be empty")
		} else if ok {
			r.d.Unique(jobs, job, p, s)
		}
	})
	if !ok || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil
	}
	list := r.d.Copy(n, path)
	if list == nil {
		return nil
	}
	// Block style, so that the caller may put more entries before it or indent it under a
	// `scrape_configs:` key of its own.
	list.Style &^= yaml.FlowStyle
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(list); err != nil {
		r.d.Errorf(n, path, "cannot write it back as YAML: %v", err)
		return nil
	}
	if err := enc.Close(); err != nil {
		r.d.Errorf(n, path, "cannot write it back as YAML: %v", err)
		return nil
	}
	return b.Bytes()
}

// durationString prints a duration as the file would write it (5m, not 5m0s).
func durationString(d time.Duration) string { return model.Duration(d).String() }

// str reads a string, checked by check when not nil. Absent or null leaves dst (its default).
func (r *reader) str(dst *string, check func(string) error) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := r.d.String(n, path)
		if !ok || s == "" {
			return
		}
		if check != nil {
			if err := check(s); err != nil {
				r.d.Errorf(n, path, "%v", err)
				return
			}
		}
		*dst = s
	}
}

// filePath reads a path: ~ is the home directory, and a relative path is relative to the
// configuration file, not to wherever strata was started.
func (r *reader) filePath(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := r.d.String(n, path)
		if !ok || s == "" {
			return
		}
		p, err := resolvePath(r.dir, s)
		if err != nil {
			r.d.Errorf(n, path, "%v", err)
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

// duration reads a positive duration in Prometheus's notation (30s, 5m, 1h30m, 1d), the one the
// scrape configs of the same file use.
func (r *reader) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := r.d.String(n, path)
		if !ok || s == "" {
			return
		}
		d, err := model.ParseDuration(s)
		if err != nil || d <= 0 {
			r.d.Errorf(n, path, "want a positive duration such as 15s, 5m or 1h")
			return
		}
		*dst = time.Duration(d)
	}
}

func (r *reader) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if b, ok := r.d.Bool(n, path); ok {
			*dst = b
		}
	}
}

// CheckHTTPURL accepts an absolute http or https URL (the file's, and the flags' that override
// them).
func CheckHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host")
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpoint accepts unix:///absolute/path or tcp://host:port, the two ways HAProxy's
// runtime API listens.
func checkEndpoint(s string) error {
	bad := errors.New("want unix:///path or tcp://host:port")
	u, err := url.Parse(s)
	if err != nil {
		return bad
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" {
			return bad
		}
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return bad
		}
		if err := checkPort(port); err != nil {
			return err
		}
	default:
		return bad
	}
	return nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("invalid port (want 1-65535)")
	}
	return nil
}
