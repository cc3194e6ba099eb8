package nginx

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-obs/strata/internal/safefile"
)

// Directive is one statement of an nginx config: `name args…;` or `name args… { block }`.
type Directive struct {
	Name string
	Args []string
	// Block holds the directives between braces; it is nil for a directive ending with ";"
	// and non-nil (maybe empty) for one with a block.
	Block []Directive
	File  string // the file it was read from, as given to Parse or named by an include
	Line  int    // the line of its name, from 1
}

// ConfigError is a config nginx would reject, at a file and line.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// maxDepth bounds block nesting and include depth: real configs nest a handful deep, and
// an include cycle must end with an error rather than a stack overflow.
const maxDepth = 64

// Parse reads one nginx config file (includes are left as directives). It follows
// nginx's own tokenizer (ngx_conf_read_token): words end at whitespace, ";" or "{"; "#"
// starts a comment only where a word could start; quotes and backslash escape; "${" does
// not open a block; a quoted word must be followed by whitespace, ";", "{" or ")".
func Parse(file string, src []byte) ([]Directive, error) {
	p := &parser{file: file, src: src, line: 1}
	return p.block(0)
}

type parser struct {
	file string
	src  []byte
	pos  int
	line int
}

func (p *parser) errorf(format string, args ...any) error {
	return &ConfigError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

// block reads directives up to the "}" that closes a block at depth > 0, or to the end of
// the file at depth 0.
func (p *parser) block(depth int) ([]Directive, error) {
	dirs := []Directive{}
	for {
		words, line, end, err := p.statement()
		if err != nil {
			return nil, err
		}
		switch end {
		case ';':
			dirs = append(dirs, Directive{Name: words[0], Args: words[1:], File: p.file, Line: line})
		case '{':
			if depth+1 >= maxDepth {
				return nil, p.errorf("blocks nested deeper than %d", maxDepth)
			}
			inner, err := p.block(depth + 1)
			if err != nil {
				return nil, err
			}
			dirs = append(dirs, Directive{Name: words[0], Args: words[1:], Block: inner, File: p.file, Line: line})
		case '}':
			if depth == 0 {
				return nil, p.errorf(`unexpected "}"`)
			}
			return dirs, nil
		default: // end of file
			if depth > 0 {
				return nil, p.errorf(`unexpected end of file, expecting "}"`)
			}
			return dirs, nil
		}
	}
}

// statement reads the words of one directive and what ended it: ';', '{', '}' (a block's
// end, with no words) or 0 at the end of the file.
func (p *parser) statement() (words []string, line int, end byte, err error) {
	var (
		start     int    // where the current word starts
		lastSpace = true // between words
		quote     byte   // the quote of the current word, if quoted
		escaped   bool   // the previous byte was a backslash: this one is taken as is
		variable  bool   // the previous byte was "$": a "{" is part of "${name}"
		needSpace bool   // a quoted word just ended
		comment   bool
	)
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		p.pos++
		if ch == '\n' {
			p.line++
			if comment {
				comment = false
				continue
			}
		}
		if comment {
			continue
		}
		if escaped {
			escaped = false
			continue
		}
		if needSpace {
			switch ch {
			case ' ', '\t', '\r', '\n':
				lastSpace, needSpace = true, false
				continue
			case ';', '{':
				return words, line, ch, nil
			case ')': // `if ($a = "b")`: the parenthesis starts the next word
				lastSpace, needSpace = true, false
			default:
				return nil, 0, 0, p.errorf("unexpected %q", string([]byte{ch}))
			}
		}
		if lastSpace {
			start = p.pos - 1
			switch ch {
			case ' ', '\t', '\r', '\n':
				continue
			case ';', '{':
				if len(words) == 0 {
					return nil, 0, 0, p.errorf("unexpected %q", string([]byte{ch}))
				}
				return words, line, ch, nil
			case '}':
				if len(words) > 0 {
					return nil, 0, 0, p.errorf(`unexpected "}"`)
				}
				return nil, p.line, '}', nil
			case '#':
				comment = true
				continue
			}
			if len(words) == 0 {
				line = p.line
			}
			lastSpace = false
			switch ch {
			case '\\':
				escaped = true
			case '"', '\'':
				start++
				quote = ch
			case '$':
				variable = true
			}
			continue
		}

		if ch == '{' && variable {
			continue
		}
		variable = false
		switch {
		case ch == '\\':
			escaped = true
			continue
		case ch == '$':
			variable = true
			continue
		case quote != 0:
			if ch != quote {
				continue
			}
			quote, needSpace = 0, true
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '{':
			lastSpace = true
		default:
			continue
		}
		words = append(words, unescape(p.src[start:p.pos-1]))
		if ch == ';' || ch == '{' {
			return words, line, ch, nil
		}
	}
	if len(words) > 0 || !lastSpace {
		return nil, 0, 0, p.errorf(`unexpected end of file, expecting ";" or "}"`)
	}
	return nil, p.line, 0, nil
}

// unescape turns \" \' \\ \t \r \n into what they stand for, as nginx does in every word;
// other backslashes stay.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			switch raw[i+1] {
			case '"', '\'', '\\':
				i++
				c = raw[i]
			case 't':
				i++
				c = '\t'
			case 'r':
				i++
				c = '\r'
			case 'n':
				i++
				c = '\n'
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// files is where include directives find their files: the disk, or the sections of
// `nginx -T`'s output.
type files interface {
	// Glob returns the names matching an absolute pattern, sorted as nginx's glob(3) does.
	Glob(pattern string) ([]string, error)
	ReadFile(name string) ([]byte, error)
}

// diskFiles reads the files themselves.
type diskFiles struct{}

func (diskFiles) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (diskFiles) ReadFile(name string) ([]byte, error)  { return safefile.ReadFile(name, maxFileSize) }

// maxFileSize bounds one file of nginx's configuration, and what nginx -T prints.
const maxFileSize = 16 << 20

// dumpFiles are the files that `nginx -T` printed, by absolute name.
type dumpFiles map[string][]byte

func (d dumpFiles) Glob(pattern string) ([]string, error) {
	var names []string
	for name := range d {
		ok, err := path.Match(pattern, name)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func (d dumpFiles) ReadFile(name string) ([]byte, error) {
	b, ok := d[name]
	if !ok {
		return nil, fmt.Errorf("open %s: not in nginx -T's output: %w", name, fs.ErrNotExist)
	}
	return b, nil
}

// load parses the file main and every file it includes, each include replaced by the
// directives of its files. Relative include paths are relative to main's directory, as
// nginx resolves them against the directory of the file given with -c.
func load(fsys files, main string) ([]Directive, error) {
	src, err := fsys.ReadFile(main)
	if err != nil {
		return nil, err
	}
	dirs, err := Parse(main, src)
	if err != nil {
		return nil, err
	}
	return expandIncludes(fsys, filepath.Dir(main), dirs, 0)
}

func expandIncludes(fsys files, confDir string, dirs []Directive, depth int) ([]Directive, error) {
	out := make([]Directive, 0, len(dirs))
	for _, d := range dirs {
		if d.Block != nil {
			inner, err := expandIncludes(fsys, confDir, d.Block, depth)
			if err != nil {
				return nil, err
			}
			d.Block = inner
			out = append(out, d)
			continue
		}
		if d.Name != "include" {
			out = append(out, d)
			continue
		}
		if len(d.Args) != 1 {
			return nil, configErrorf(d, `invalid number of arguments in "include" directive`)
		}
		if depth+1 >= maxDepth {
			return nil, configErrorf(d, "includes nested deeper than %d (a cycle?)", maxDepth)
		}
		included, err := includeFiles(fsys, confDir, d.Args[0])
		if err != nil {
			return nil, configErrorf(d, "%v", err)
		}
		for _, name := range included {
			src, err := fsys.ReadFile(name)
			if err != nil {
				return nil, configErrorf(d, "include: %v", err)
			}
			inner, err := Parse(name, src)
			if err != nil {
				return nil, err
			}
			if inner, err = expandIncludes(fsys, confDir, inner, depth+1); err != nil {
				return nil, err
			}
			out = append(out, inner...)
		}
	}
	return out, nil
}

// includeFiles lists the files an include names: a pattern with wildcards may match none,
// a plain name must exist (nginx fails on it otherwise).
func includeFiles(fsys files, confDir, pattern string) ([]string, error) {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(confDir, pattern)
	}
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}, nil
	}
	names, err := fsys.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("include %s: %w", pattern, err)
	}
	return names, nil
}

// parseDump splits the output of `nginx -T` into its files: each starts with a line
// "# configuration file /path:", the first is the main file.
func parseDump(out []byte) (main string, fsys dumpFiles, err error) {
	const header, trailer = "# configuration file ", ":"
	fsys = dumpFiles{}
	var name string
	var content []byte
	flush := func() {
		if name != "" {
			if _, seen := fsys[name]; !seen {
				fsys[name] = content
			}
		}
	}
	for rest := out; len(rest) > 0; {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		rest = after
		if s := string(line); strings.HasPrefix(s, header) && strings.HasSuffix(s, trailer) && len(s) > len(header)+len(trailer) {
			flush()
			name, content = s[len(header):len(s)-len(trailer)], []byte{}
			if main == "" {
				main = name
			}
			continue
		}
		if name != "" {
			content = append(append(content, line...), '\n')
		}
	}
	flush()
	if main == "" {
		return "", nil, errors.New(`no "# configuration file" section in nginx -T's output`)
	}
	return main, fsys, nil
}
