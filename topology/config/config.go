// Package config reads strata's configuration file (docs/design.md, "Configuration"): the sources of load
// balancers and facts, the scrape configurations handed to Prometheus's scrape manager, an
// optional external store, and the topology's own settings.
//
// Parse is the pure core: bytes in, a Config with every default filled in, or every problem at
// once (errors.Join), each as "file:line: field.path: reason". Load reads the file and calls it.
//
// A source type is not declared here: each provider (topology/source/<provider>) owns its
// settings and how they are read (source.Provider), and the server lists the providers
// (server/sources.go); Parse and Load take that list.
package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/labelname"
	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/auth"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
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
	Global        Global
	// Federation: federation.enabled makes a global strata (no sources; every site's graph read
	// from the store at prometheus.url).
	Federation bool
	// Auth is who may read what (auth.Config); nil: no auth, everyone reads everything.
	Auth *auth.Config
	// RuleFiles are the globs of rule_files, Prometheus's rule files evaluated over the
	// embedded TSDB, relative ones resolved against the file's directory. Without the key
	// (RuleFilesSet false) strata evaluates its shipped rules (dashboards/rules); an empty list
	// evaluates none.
	RuleFiles    []string
	RuleFilesSet bool
	// Alerting is the YAML of the file's alerting block, in Prometheus's format
	// (alertmanagers, alert_relabel_configs), to be put under an `alerting:` key for
	// Prometheus's config.Load, which owns the format; nil without it.
	Alerting []byte
	// Dir is the file's directory, the base of the relative paths in Alerting.
	Dir string
	// Lifecycle is the policy hosts and images are held to (the lifecycle block); without the
	// block, the OS's support end from the shipped data alone.
	Lifecycle *lifecycle.Policy
}

// Prometheus is an external store beside the embedded TSDB: one to read the exporters' series
// from, one to send the topology's series to, or both.
type Prometheus struct {
	URL string // where to query (read); empty: the embedded TSDB
	// RemoteWrite is where the strata_topology_* series are sent with Prometheus's remote write
	// protocol (a receiver's URL, such as Prometheus's /api/v1/write), besides the embedded
	// TSDB; empty: they stay in the embedded TSDB only.
	RemoteWrite string
	// RemoteWriteExporters sends the series strata scrapes (the exporters') too, with the
	// external labels, as a Prometheus with remote_write would: the shared store then answers
	// PromQL on the hosts of every site.
	RemoteWriteExporters bool
}

// Global is what names this strata among others, as Prometheus's global block does.
type Global struct {
	// ExternalLabels are added to every strata_topology_* series this strata writes and to
	// every series it sends by remote write; `cluster` is the site's name, and every entity of
	// the graph carries it as an attribute. Empty: a strata alone.
	ExternalLabels map[string]string
	// EvaluationInterval is how often the rules are evaluated (Prometheus's
	// global.evaluation_interval, and its default).
	EvaluationInterval time.Duration
}

// DefaultEvaluationInterval is Prometheus's.
const DefaultEvaluationInterval = time.Minute

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
func Load(path string, providers []source.Provider) (*Config, error) {
	data, err := safefile.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// An absolute base keeps the resolved paths right if the process changes directory.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, dir, data, providers)
}

// Parse reads a configuration from data; name is the file's name, as errors show it, and its
// directory is the base of relative paths. The error is an errors.Join of *strictyaml.Error.
func Parse(name string, data []byte, providers []source.Provider) (*Config, error) {
	return parse(name, filepath.Dir(name), data, providers)
}

func parse(name, dir string, data []byte, providers []source.Provider) (*Config, error) {
	root, err := strictyaml.Read(name, data)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Dir:       dir,
		Global:    Global{EvaluationInterval: DefaultEvaluationInterval},
		Lifecycle: &lifecycle.Policy{},
		Topology: Topology{
			RefreshInterval: DefaultRefreshInterval,
			StaleAfter:      DefaultStaleAfter,
			LabelAllowlist:  DefaultLabelAllowlist(),
		},
	}
	r := &reader{d: source.NewDecoder(strictyaml.NewDecoder(name, root), dir, &c.Topology.RefreshInterval), providers: providers}
	if root != nil {
		r.d.Mapping(root, "", []strictyaml.Field{
			{Name: "sources", Read: func(n *yaml.Node, path string) { c.Sources = r.sources(n, path) }},
			{Name: "scrape_configs", Read: func(n *yaml.Node, path string) { c.ScrapeConfigs = r.scrapeConfigs(n, path) }},
			{Name: "prometheus", Read: func(n *yaml.Node, path string) {
				r.d.Mapping(n, path, []strictyaml.Field{
					{Name: "url", Read: r.d.StringField(&c.Prometheus.URL, source.CheckHTTPURL)},
					{Name: "remote_write", Read: r.d.StringField(&c.Prometheus.RemoteWrite, source.CheckHTTPURL)},
					{Name: "remote_write_exporters", Read: r.d.BoolField(&c.Prometheus.RemoteWriteExporters)},
				})
			}},
			{Name: "topology", Read: func(n *yaml.Node, path string) { r.topology(n, path, &c.Topology) }},
			{Name: "global", Read: func(n *yaml.Node, path string) {
				r.d.Mapping(n, path, []strictyaml.Field{{Name: "external_labels", Read: func(n *yaml.Node, path string) {
					c.Global.ExternalLabels = r.d.StringMap(n, path, checkExternalLabel)
				}}, {Name: "evaluation_interval", Read: func(n *yaml.Node, path string) {
					r.d.DurationField(&c.Global.EvaluationInterval)(n, path)
					if c.Global.EvaluationInterval < time.Second {
						r.d.Errorf(n, path, "at least 1s")
					}
				}}})
			}},
			{Name: "federation", Read: func(n *yaml.Node, path string) {
				r.d.Mapping(n, path, []strictyaml.Field{{Name: "enabled", Read: func(n *yaml.Node, path string) {
					c.Federation, _ = r.d.Bool(n, path)
				}}})
			}},
			{Name: "auth", Read: func(n *yaml.Node, path string) { c.Auth = auth.Decode(r.d.Decoder, n, path, dir) }},
			{Name: "rule_files", Read: func(n *yaml.Node, path string) {
				c.RuleFilesSet = true
				c.RuleFiles = r.ruleFiles(n, path, dir)
			}},
			{Name: "alerting", Read: func(n *yaml.Node, path string) { c.Alerting = r.block(n, path) }},
			{Name: "lifecycle", Read: func(n *yaml.Node, path string) { c.Lifecycle = r.lifecycle(n, path) }},
		})
	}
	if c.Prometheus.RemoteWriteExporters && c.Prometheus.RemoteWrite == "" && root != nil {
		r.d.Errorf(strictyaml.Lookup(root, "prometheus"), "prometheus.remote_write_exporters", "sends the exporters' series by remote write: set prometheus.remote_write too")
	}
	if c.Prometheus.URL != "" && root != nil && (len(c.RuleFiles) > 0 || c.Alerting != nil) {
		n, p := strictyaml.Lookup(root, "rule_files"), "rule_files"
		if len(c.RuleFiles) == 0 {
			n, p = strictyaml.Lookup(root, "alerting"), "alerting"
		}
		r.d.Errorf(n, p, "strata evaluates rules over its embedded TSDB, which prometheus.url replaces for queries: load the rules into that Prometheus (its rule_files and alerting)")
	}
	if c.Federation && root != nil {
		n := strictyaml.Lookup(root, "federation")
		switch {
		case c.Prometheus.URL == "":
			r.d.Errorf(n, "federation.enabled", "a global strata reads every site from a shared store: set prometheus.url to its query API")
		case len(c.Sources) > 0 || c.ScrapeConfigs != nil:
			r.d.Errorf(n, "federation.enabled", "a global strata has no sources or scrape_configs of its own: they would be a site, give them to a site's strata")
		}
	}
	if err := r.d.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkExternalLabel refuses an external label that is no label name, that is empty (a series
// would not carry it), or that one of strata's own series already names.
func checkExternalLabel(name, value string) error {
	if err := labelname.Check(name); err != nil {
		return err
	}
	if value == "" {
		return fmt.Errorf("external label %s has no value", redact.QuoteKey(name))
	}
	return nil
}

// reader reads one file: the decoder that records problems, and the source types it knows.
type reader struct {
	d         *source.Decoder
	providers []source.Provider
}

func (r *reader) topology(n *yaml.Node, path string, t *Topology) {
	var refreshNode, staleNode *yaml.Node
	r.d.Mapping(n, path, []strictyaml.Field{
		{Name: "refresh_interval", Read: func(n *yaml.Node, path string) {
			refreshNode = n
			r.d.DurationField(&t.RefreshInterval)(n, path)
		}},
		{Name: "stale_after", Read: func(n *yaml.Node, path string) {
			staleNode = n
			r.d.DurationField(&t.StaleAfter)(n, path)
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
			source.DurationString(t.StaleAfter), source.DurationString(t.RefreshInterval))
	}
}

// ruleFiles reads rule_files: a list of file globs, as Prometheus's, relative ones resolved
// against dir.
func (r *reader) ruleFiles(n *yaml.Node, path, dir string) []string {
	files := []string{}
	seen := map[string]int{}
	r.d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		s, ok := r.d.String(n, path)
		if !ok {
			return
		}
		if s == "" {
			r.d.Errorf(n, path, "must not be empty")
			return
		}
		if _, err := filepath.Match(s, ""); err != nil {
			r.d.Errorf(n, path, "not a file glob: %v", err)
			return
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		if r.d.Unique(seen, n, path, s) {
			files = append(files, s)
		}
	})
	return files
}

// block checks that n is a mapping and returns it as YAML of its own, block style, to be put
// under its key for Prometheus's config.Load, which owns the format.
func (r *reader) block(n *yaml.Node, path string) []byte {
	if d := strictyaml.Deref(n); d == nil || d.Kind != yaml.MappingNode {
		r.d.Errorf(n, path, "want a mapping, in Prometheus's format, got %s", strictyaml.Describe(n))
		return nil
	}
	c := r.d.Copy(n, path)
	if c == nil {
		return nil
	}
	c.Style &^= yaml.FlowStyle
	return r.encode(c, n, path)
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
	return r.encode(list, n, path)
}

// encode writes a copied node back as YAML.
func (r *reader) encode(list, n *yaml.Node, path string) []byte {
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
