package config

import (
	"github.com/strata-obs/strata/internal/redact"

	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
)

// Source is one entry of sources.
type Source struct {
	Type string // the Spec's type: haproxy, caddy, nginx, kubernetes, inventory
	// Name is unique among the sources; it names the source in strata_topology_source_up and,
	// for an LB source, the LB. It defaults to the type for the only source of its type.
	Name string
	Line int  // where the entry starts, for messages about the source at run time
	Spec Spec // *HAProxy, *Caddy, *Nginx, *Kubernetes or *Inventory, defaults filled in
}

// Spec is what a source entry's type adds to it.
type Spec interface {
	Type() string
	// fields lists the entry's keys besides type and name, read into the spec.
	fields(r *reader) []strictyaml.Field
}

// checker is a Spec with rules across its fields, checked once the entry is read.
type checker interface {
	check(r *reader, entry *yaml.Node, path string)
}

// specs lists every source type, each as an empty spec holding its defaults. To add a source
// type: its struct below, and one line here.
func specs() []Spec {
	return []Spec{
		&HAProxy{Timeout: defaultTimeout},
		&Caddy{AdminURL: "http://localhost:2019", Timeout: defaultTimeout},
		&Nginx{Config: "/etc/nginx/nginx.conf"},
		&Kubernetes{},
		&Inventory{},
	}
}

// defaultTimeout bounds one request to an LB's API: well under the refresh interval, so that a
// hung LB delays one refresh rather than the next ones.
const defaultTimeout = 5 * time.Second

// SourceTypes lists the values `type` may take.
func SourceTypes() []string {
	var types []string
	for _, s := range specs() {
		types = append(types, s.Type())
	}
	return types
}

func newSpec(typ string) Spec {
	for _, s := range specs() {
		if s.Type() == typ {
			return s
		}
	}
	return nil
}

// HAProxy reads an HAProxy process: its backends are services, their servers instances.
type HAProxy struct {
	RuntimeAPI string        // unix:///path or tcp://host:port of the runtime API (show stat, show servers state)
	StatsURL   string        // http(s) URL of the stats page, when the runtime API is not exposed
	Host       string        // the host HAProxy runs on; empty: this host
	Timeout    time.Duration // per request to HAProxy
}

// Type is "haproxy".
func (*HAProxy) Type() string { return "haproxy" }

func (s *HAProxy) fields(r *reader) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "runtime_api", Read: r.str(&s.RuntimeAPI, checkEndpoint)},
		{Name: "stats_url", Read: r.str(&s.StatsURL, CheckHTTPURL)},
		{Name: "host", Read: r.str(&s.Host, nil)},
		{Name: "timeout", Read: r.timeout(&s.Timeout)},
	}
}

// check asks for exactly one way to reach HAProxy: with both, which one answers would be a
// surprise.
func (s *HAProxy) check(r *reader, entry *yaml.Node, path string) {
	api, stats := present(entry, "runtime_api"), present(entry, "stats_url")
	switch {
	case api == nil && stats == nil:
		r.d.Errorf(entry, path, "want runtime_api (unix:///path or tcp://host:port) or stats_url")
	case api != nil && stats != nil:
		r.d.Errorf(stats, strictyaml.Path(path, "stats_url"), "set runtime_api or stats_url, not both")
	}
}

// Caddy reads Caddy's reverse-proxy upstreams from its admin API.
type Caddy struct {
	AdminURL string // http(s) URL of the admin API
	Host     string // the host Caddy runs on; empty: this host
	Timeout  time.Duration
}

// Type is "caddy".
func (*Caddy) Type() string { return "caddy" }

func (s *Caddy) fields(r *reader) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "admin_url", Read: r.str(&s.AdminURL, CheckHTTPURL)},
		{Name: "host", Read: r.str(&s.Host, nil)},
		{Name: "timeout", Read: r.timeout(&s.Timeout)},
	}
}

// Nginx reads nginx's upstreams from its configuration.
type Nginx struct {
	Config string // the main configuration file, absolute
	// UseNginxT asks for `nginx -T -c Config`, which prints the configuration with its includes
	// as nginx itself resolves them, instead of reading the files.
	UseNginxT bool
	Host      string // the host nginx runs on; empty: this host
}

// Type is "nginx".
func (*Nginx) Type() string { return "nginx" }

func (s *Nginx) fields(r *reader) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "config", Read: r.filePath(&s.Config)},
		{Name: "use_nginx_t", Read: r.boolean(&s.UseNginxT)},
		{Name: "host", Read: r.str(&s.Host, nil)},
	}
}

// Kubernetes reads Services, EndpointSlices and Ingresses from a cluster's API.
type Kubernetes struct {
	Kubeconfig string // absolute; empty: in-cluster configuration
}

// Type is "kubernetes".
func (*Kubernetes) Type() string { return "kubernetes" }

func (s *Kubernetes) fields(r *reader) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "kubeconfig", Read: r.filePath(&s.Kubeconfig)},
	}
}

// Inventory reads an inventory file (DESIGN.md §8).
type Inventory struct {
	File string // absolute
}

// Type is "inventory".
func (*Inventory) Type() string { return "inventory" }

func (s *Inventory) fields(r *reader) []strictyaml.Field {
	return []strictyaml.Field{
		{Name: "file", Required: true, Read: r.filePath(&s.File)},
	}
}

// present returns the value of key in entry when it is set to something other than null.
func present(entry *yaml.Node, key string) *yaml.Node {
	v := strictyaml.Deref(strictyaml.Lookup(entry, key))
	if v == nil || v.ShortTag() == "!!null" {
		return nil
	}
	return v
}

// timeout reads a duration that must fit in the refresh interval, set anywhere in the file.
func (r *reader) timeout(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		r.duration(dst)(n, path)
		r.later = append(r.later, func(c *Config) {
			if *dst > c.Topology.RefreshInterval {
				r.d.Errorf(n, path, "%s is longer than topology.refresh_interval (%s)",
					durationString(*dst), durationString(c.Topology.RefreshInterval))
			}
		})
	}
}

// sources reads the list of sources, then gives names to the unnamed ones and checks that no
// two share a name.
func (r *reader) sources(n *yaml.Node, path string) []Source {
	type entry struct {
		src      Source
		node     *yaml.Node // the entry, or its name when set
		path     string
		explicit bool
	}
	var entries []entry
	perType := map[string]int{}
	r.d.Sequence(n, path, func(_ int, n *yaml.Node, path string) {
		src, nameNode, ok := r.source(n, path)
		if !ok {
			return
		}
		perType[src.Type]++
		e := entry{src: src, node: n, path: strictyaml.Path(path, "name")}
		if nameNode != nil {
			e.node, e.explicit = nameNode, true
		}
		entries = append(entries, e)
	})
	var out []Source
	first := map[string]int{}
	for _, e := range entries {
		if !e.explicit {
			if perType[e.src.Type] > 1 {
				// A name from the entry's position would rename the source, and the LB, in
				// every series the day an entry is added above it.
				r.d.Errorf(e.node, e.path, "required when there are several %s sources", e.src.Type)
				continue
			}
			e.src.Name = e.src.Type
		}
		if line, dup := first[e.src.Name]; dup {
			if e.explicit {
				r.d.Errorf(e.node, e.path, "used twice (first at line %d)", line)
			} else {
				r.d.Errorf(e.node, e.path, "required: the default, %s, is used at line %d", redact.QuoteKey(e.src.Name), line)
			}
			continue
		}
		first[e.src.Name] = e.node.Line
		out = append(out, e.src)
	}
	return out
}

// source reads one entry: its type first, since the type says which keys the entry may have.
func (r *reader) source(n *yaml.Node, path string) (src Source, nameNode *yaml.Node, ok bool) {
	m := strictyaml.Deref(n)
	if m.Kind != yaml.MappingNode {
		r.d.Errorf(m, path, "want a mapping with a type (one of %s), got %s", strings.Join(SourceTypes(), ", "), strictyaml.Describe(m))
		return Source{}, nil, false
	}
	src.Line = m.Line
	typePath := strictyaml.Path(path, "type")
	typeNode := strictyaml.Lookup(m, "type")
	if typeNode == nil {
		r.d.Errorf(m, typePath, "required (one of %s)", strings.Join(SourceTypes(), ", "))
		return src, nil, false
	}
	typ, ok := r.d.String(typeNode, typePath)
	if !ok {
		return src, nil, false
	}
	spec := newSpec(typ)
	if spec == nil {
		// The other keys are not checked: they belong to a type nobody knows.
		r.d.Errorf(typeNode, typePath, "unknown source type (want one of %s)", strings.Join(SourceTypes(), ", "))
		return src, nil, false
	}
	src.Type, src.Spec = typ, spec
	fields := append([]strictyaml.Field{
		{Name: "type", Read: func(*yaml.Node, string) {}}, // read above
		{Name: "name", Read: func(n *yaml.Node, path string) {
			s, ok := r.d.String(n, path)
			switch {
			case !ok:
			case s == "" && n.ShortTag() != "!!null":
				r.d.Errorf(n, path, "must not be empty (leave it out for the default)")
			case s != "":
				src.Name, nameNode = s, n
			}
		}},
	}, spec.fields(r)...)
	if !r.d.Mapping(m, path, fields) {
		return src, nil, false
	}
	if c, ok := spec.(checker); ok {
		c.check(r, m, path)
	}
	return src, nameNode, true
}
