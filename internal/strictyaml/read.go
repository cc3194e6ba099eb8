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
//
// Why not yaml.v3's Decoder with KnownFields, or goccy/go-yaml: both stop at the first problem
// (KnownFields) or report type mismatches with the value they could not decode ("cannot
// unmarshal !!str `hunter2` into int"), and this package's messages never show a value (see
// redact.Key), because a misplaced path can make strata read a password file. The parsing
// itself is yaml.v3's; this package adds only the strict walk and its messages.
package strictyaml

import (
	"bytes"
	"errors"
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
