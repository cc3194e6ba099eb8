package strictyaml

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/redact"
)

// Decoder walks a node tree and records the problems it finds.
type Decoder struct {
	file string
	errs []*Error
	// budget is the number of nodes left to visit. Aliases make a tree larger than its text
	// (a few lines of anchors can expand to billions of nodes), so the walk stops at a
	// multiple of the file's own node count.
	budget int
	// exhausted is the problem of a spent budget, put first: what else was found is partial.
	exhausted *Error
	// open holds the nodes being expanded (merged or copied), to catch an alias to a node
	// that contains it, which YAML allows and which would never end.
	open map[*yaml.Node]bool
}

// NewDecoder returns a Decoder for the tree under root, as read from file.
func NewDecoder(file string, root *yaml.Node) *Decoder {
	return &Decoder{file: file, budget: 10*countNodes(root) + 10000, open: map[*yaml.Node]bool{}}
}

func countNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// Errorf records a problem at n's line.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems recorded, in line order, joined; nil when there are none.
func (d *Decoder) Err() error {
	if len(d.errs) == 0 && d.exhausted == nil {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, 0, min(len(d.errs), maxErrors)+2)
	if d.exhausted != nil {
		errs = append(errs, d.exhausted)
	}
	for i, e := range d.errs {
		if i == maxErrors {
			more := len(d.errs) - maxErrors
			errs = append(errs, fmt.Errorf("%s: and %d more %s", d.file, more, plural(more, "problem", "problems")))
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Path is the path of a field of the mapping at parent.
func Path(parent, field string) string {
	if parent == "" {
		return redact.Key(field)
	}
	return parent + "." + redact.Key(field)
}

// Index is the path of an element of the sequence at parent.
func Index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// node follows aliases and spends the budget; nil once the budget is spent.
func (d *Decoder) node(n *yaml.Node) *yaml.Node {
	if d.budget <= 0 {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.exhausted = &Error{File: d.file, Line: n.Line, Msg: "aliases expand to too many nodes; the rest of the file was not read"}
		return nil
	}
	return Deref(n)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names the shape of what a node holds for "want X, got Y" messages: a mapping, a
// list, nothing, a string, a number, true or false; never the value itself (see Key).
func Describe(n *yaml.Node) string {
	n = Deref(n)
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	}
	return "a string"
}

// Field is one key a mapping may have.
type Field struct {
	Name     string
	Required bool
	// Read reads the value; path is the field's path. A null value (`key:` with nothing after
	// it) is passed too: each reader treats it as empty.
	Read func(n *yaml.Node, path string)
}

// Mapping reads a mapping whose keys must be among fields, calling each present key's Read in
// the file's order. Unknown, repeated and missing required keys are recorded. A null node is an
// empty mapping. It reports whether n was a mapping or null.
func (d *Decoder) Mapping(n *yaml.Node, path string, fields []Field) bool {
	if n = d.node(n); n == nil {
		return false
	}
	pairs, ok := d.pairs(n, path)
	if !ok {
		return false
	}
	seen := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		i := slices.IndexFunc(fields, func(f Field) bool { return f.Name == p.key.Value })
		if i < 0 {
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.Name
			}
			d.Errorf(p.key, path, "unknown field %s (want one of %s)", redact.QuoteKey(p.key.Value), strings.Join(names, ", "))
			continue
		}
		seen[p.key.Value] = true
		if v := d.node(p.value); v != nil {
			fields[i].Read(v, Path(path, p.key.Value))
		}
	}
	for _, f := range fields {
		if f.Required && !seen[f.Name] {
			d.Errorf(n, Path(path, f.Name), "required")
		}
	}
	return true
}

type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's keys and values, with merge keys (<<: *base) expanded: the mapping's
// own keys win over merged ones, as YAML specifies. Repeated keys are recorded and dropped.
func (d *Decoder) pairs(n *yaml.Node, path string) ([]pair, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "want a mapping, got %s", Describe(n))
		return nil, false
	}
	if d.open[n] {
		d.Errorf(n, path, "<< merges the mapping into itself")
		return nil, false
	}
	d.open[n] = true
	defer delete(d.open, n)
	var own, merged []pair
	first := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, path, "want a plain key, got %s", Describe(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.Errorf(k, Path(path, k.Value), "repeated key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	for _, p := range merged {
		if _, dup := first[p.key.Value]; !dup {
			first[p.key.Value] = p.key.Line
			own = append(own, p)
		}
	}
	return own, true
}

// merge returns the pairs a merge key's value brings: one mapping, or a list of them where the
// earlier mapping wins.
func (d *Decoder) merge(v *yaml.Node, path string) []pair {
	if v = d.node(v); v == nil {
		return nil
	}
	var from []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		from = []*yaml.Node{v}
	case yaml.SequenceNode:
		from = v.Content
	default:
		d.Errorf(v, path, "<< wants a mapping or a list of mappings, got %s", Describe(v))
		return nil
	}
	var out []pair
	seen := make(map[string]bool)
	for _, m := range from {
		if m = d.node(m); m == nil {
			return out
		}
		if m.Kind != yaml.MappingNode {
			d.Errorf(m, path, "<< wants a mapping or a list of mappings, got %s", Describe(m))
			continue
		}
		ps, _ := d.pairs(m, path)
		for _, p := range ps {
			if !seen[p.key.Value] {
				seen[p.key.Value] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Sequence reads a list, calling each for every element with its index and path. A null node
// is an empty list. It reports whether n was a list or null.
func (d *Decoder) Sequence(n *yaml.Node, path string, each func(i int, n *yaml.Node, path string)) bool {
	if n = d.node(n); n == nil {
		return false
	}
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, path, "want a list, got %s", Describe(n))
		return false
	}
	for i, e := range n.Content {
		if e = d.node(e); e == nil {
			return false
		}
		each(i, e, Index(path, i))
	}
	return true
}

// String reads a scalar as text. Any scalar is accepted (a YAML `8080` or `true` is the text
// the user wrote); null is "". It reports whether n was a scalar.
func (d *Decoder) String(n *yaml.Node, path string) (string, bool) {
	if n = d.node(n); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, path, "want a string, got %s", Describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// Bool reads true or false; null is false.
func (d *Decoder) Bool(n *yaml.Node, path string) (bool, bool) {
	if n = d.node(n); n == nil {
		return false, false
	}
	if isNull(n) {
		return false, true
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.Errorf(n, path, "want true or false, got %s", Describe(n))
		return false, false
	}
	// An explicit `!!bool yes` is tagged bool but is no spelling strconv knows.
	b, err := strconv.ParseBool(n.Value)
	if err != nil {
		d.Errorf(n, path, "want true or false, got %s", Describe(n))
		return false, false
	}
	return b, true
}

// StringMap reads a mapping of strings to strings (labels, facts). Each key and value is passed
// to check (when not nil), whose error is recorded at the key's line under path; the check's
// message names the key.
func (d *Decoder) StringMap(n *yaml.Node, path string, check func(key, value string) error) map[string]string {
	if n = d.node(n); n == nil {
		return nil
	}
	pairs, ok := d.pairs(n, path)
	if !ok || len(pairs) == 0 {
		return nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		v, ok := d.String(p.value, Path(path, p.key.Value))
		if !ok {
			continue
		}
		if check != nil {
			if err := check(p.key.Value, v); err != nil {
				d.Errorf(p.key, path, "%v", err)
				continue
			}
		}
		out[p.key.Value] = v
	}
	return out
}

// Unique records name in seen (name → line of its first use) and reports a repeated one.
func (d *Decoder) Unique(seen map[string]int, n *yaml.Node, path, name string) bool {
	if line, dup := seen[name]; dup {
		d.Errorf(n, path, "used twice (first at line %d)", line)
		return false
	}
	seen[name] = n.Line
	return true
}

// Lookup returns the value of key in the mapping n (following aliases and merge keys), or nil.
// It is for keys that decide how the rest of the mapping is read, such as a source's type.
func Lookup(n *yaml.Node, key string) *yaml.Node {
	// Merges of merges of aliases fan out exponentially in a crafted file; a real one finds its
	// key within a few mappings.
	budget := 1000
	return lookup(n, key, &budget)
}

func lookup(n *yaml.Node, key string, budget *int) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode || *budget <= 0 {
		return nil
	}
	*budget--
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge":
			merges = append(merges, v)
		case k.Kind == yaml.ScalarNode && k.Value == key:
			return v
		}
	}
	for _, m := range merges {
		m = Deref(m)
		from := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			from = m.Content
		}
		for _, f := range from {
			if v := lookup(f, key, budget); v != nil {
				return v
			}
		}
	}
	return nil
}

// Copy returns a deep copy of the node at path with every alias replaced by a copy of what it
// points at, so that the copy stands alone (an anchor outside it would otherwise dangle). It
// spends the budget like a walk, and returns nil once the budget is spent or when an alias
// refers to a node that contains it.
func (d *Decoder) Copy(n *yaml.Node, path string) *yaml.Node {
	if n = d.node(n); n == nil {
		return nil
	}
	if d.open[n] {
		d.Errorf(n, path, "an alias refers to a node that contains it")
		return nil
	}
	d.open[n] = true
	defer delete(d.open, n)
	c := *n
	c.Anchor = ""
	c.Alias = nil
	c.Content = nil
	if n.Kind == yaml.AliasNode {
		// A dangling alias, which the parser does not produce; keep it as null.
		c.Kind, c.Tag, c.Value = yaml.ScalarNode, "!!null", ""
		return &c
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, k := range n.Content {
			if c.Content[i] = d.Copy(k, path); c.Content[i] == nil {
				return nil
			}
		}
	}
	return &c
}

// Deref follows aliases to the node they name. An anchor is never on an alias, so this ends
// even where an alias names a node that contains it.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
