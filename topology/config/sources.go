package config

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Source is one entry of sources.
type Source struct {
	Type string // the provider's type: haproxy, caddy, nginx, kubernetes, inventory, dns
	// Name is unique among the sources; it names the source in strata_topology_source_up and,
	// for an LB source, the LB. It defaults to the type for the only source of its type.
	Name string
	Line int             // where the entry starts, for messages about the source at run time
	Spec source.Settings // the provider's settings, defaults filled in
}

// SourceTypes lists the values `type` may take.
func (r *reader) SourceTypes() []string {
	var types []string
	for _, p := range r.providers {
		types = append(types, p.Type)
	}
	return types
}

func (r *reader) newSettings(typ string) source.Settings {
	for _, p := range r.providers {
		if p.Type == typ {
			return p.Settings()
		}
	}
	return nil
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
		r.d.Errorf(m, path, "want a mapping with a type (one of %s), got %s", strings.Join(r.SourceTypes(), ", "), strictyaml.Describe(m))
		return Source{}, nil, false
	}
	src.Line = m.Line
	typePath := strictyaml.Path(path, "type")
	typeNode := strictyaml.Lookup(m, "type")
	if typeNode == nil {
		r.d.Errorf(m, typePath, "required (one of %s)", strings.Join(r.SourceTypes(), ", "))
		return src, nil, false
	}
	typ, ok := r.d.String(typeNode, typePath)
	if !ok {
		return src, nil, false
	}
	spec := r.newSettings(typ)
	if spec == nil {
		// The other keys are not checked: they belong to a type nobody knows.
		r.d.Errorf(typeNode, typePath, "unknown source type (want one of %s)", strings.Join(r.SourceTypes(), ", "))
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
	}, spec.Fields(r.d)...)
	if !r.d.Mapping(m, path, fields) {
		return src, nil, false
	}
	if c, ok := spec.(source.Checker); ok {
		c.Check(r.d, m, path)
	}
	return src, nameNode, true
}
