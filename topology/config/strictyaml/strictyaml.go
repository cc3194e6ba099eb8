// Package strictyaml reads the YAML files people write by hand for strata (its configuration
// file, the inventory) strictly: one document, no unknown or repeated keys, no wrong types, and
// every problem reported as "file:line: field.path: reason" so that the user can go straight to
// the line.
//
// It decodes into yaml.Node rather than into structs because only nodes keep line numbers. A
// caller walks the tree with a Decoder, whose methods each read one shape (mapping, sequence,
// scalar, map of strings) and record a problem instead of stopping, so that one
// run reports every mistake rather than the first. To read a new kind of file: one function per
// mapping of the format, listing its Fields.
package strictyaml

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a file.
type Error struct {
	File string
	Line int    // from 1; 0 when the YAML parser could not tell
	Path string // field path such as lbs[0].services[1].name; empty for the document itself
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds what one file reports: past a screenful, the rest are usually the same
// mistake repeated, and a garbage file should not print a million lines.
const maxErrors = 20

// Read parses data as a single YAML document and returns its root node, or nil when the
// document is empty (no content, only comments, or a bare null).
func Read(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(file, data, err)
	default:
		// A second document would be silently ignored by a lenient reader: the user would
		// wonder why half the file has no effect.
		return nil, &Error{File: file, Line: max(next.Line, 1), Msg: "more than one YAML document (remove the ---)"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of the YAML library's parser (as opposed to its scanner).
// The library prints their lines counted from 0, and none for the first line, while it counts
// the scanner's from 1; they are corrected here so that every line is the editor's.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// syntaxError turns the YAML library's "yaml: line 3: …" into "file:3: …", where the line is
// where the construct at fault starts (an unclosed [ for instance). Some of its errors (bad
// UTF-8, control characters) carry no line; the offending byte is then found here.
func syntaxError(file string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case slices.Contains(parserProblems, msg):
		line++
	case strings.HasPrefix(msg, "found a tab character"):
		// The library names the line of the value being read; the tab may be lines below.
		line = tabLine(data, line)
	case line > 0:
	case unknownAnchor.MatchString(msg):
		line = aliasLine(data, unknownAnchor.FindStringSubmatch(msg)[1])
	default:
		// No line is printed for the first line, nor for bytes the reader rejects.
		line = max(badByteLine(data), 1)
	}
	return &Error{File: file, Line: line, Msg: msg}
}

// tabLine is the first line from line on whose indentation holds a tab, or line.
func tabLine(data []byte, line int) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 < line {
			continue
		}
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i + 1
		}
	}
	return line
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// aliasLine is the line of the first *name in data, 1 when not found.
func aliasLine(data []byte, name string) int {
	alias := []byte("*" + name)
	for i := 0; ; {
		j := bytes.Index(data[i:], alias)
		if j < 0 {
			return 1
		}
		end := i + j + len(alias)
		// *name ends where an anchor name may not go on (YAML 1.2: space, flow indicators).
		if end == len(data) || bytes.IndexByte([]byte(" \t\r\n,[]{}"), data[end]) >= 0 {
			return 1 + bytes.Count(data[:i+j], []byte("\n"))
		}
		i = end
	}
}

// badByteLine is the line of the first byte YAML does not accept (invalid UTF-8, a control
// character other than tab, newline and carriage return), or 0.
func badByteLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line
		case r == '\n':
			line++
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f:
			return line
		}
		i += size
	}
	return 0
}

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
		return Key(field)
	}
	return parent + "." + Key(field)
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

// Key names a key of a file in a message or a field path. Messages never show a value from a
// file: the file may not be what it was meant to be (a password file, a .env with a cloud key
// behind a symlink), and the messages reach logs and an unauthenticated API. A key that is a
// name, as keys people write are (a field, a label, a fact), is shown, quoted where it stands
// alone; any other key is shown as "…". The line and the path point at the value.
func Key(k string) string {
	if isName(k) {
		return k
	}
	return "…"
}

// QuoteKey is Key, quoted when it is shown.
func QuoteKey(k string) string {
	if isName(k) {
		return strconv.Quote(k)
	}
	return "…"
}

// isName: letters, digits and _ . - /, up to 64, as a field, label or fact name is written.
func isName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '.' || r == '-' || r == '/' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
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
			d.Errorf(p.key, path, "unknown field %s (want one of %s)", QuoteKey(p.key.Value), strings.Join(names, ", "))
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
