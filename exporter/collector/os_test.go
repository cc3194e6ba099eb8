package collector

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		wantErr  string // the error's start; its line number is part of it
	}{
		{
			name: "unquoted, double and single quotes",
			in:   "ID=ubuntu\nNAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nIMAGE_ID='node image'\n",
			want: map[string]string{"ID": "ubuntu", "NAME": "Ubuntu", "PRETTY_NAME": "Ubuntu 24.04.1 LTS", "IMAGE_ID": "node image"},
		},
		{
			name: "comments, blank lines, indentation and CRLF",
			in:   "# written by the image build\n\n   # indented comment\r\n  ID=flatcar\r\n\t\nVERSION_ID=3975.2.2\r\n",
			want: map[string]string{"ID": "flatcar", "VERSION_ID": "3975.2.2"},
		},
		{
			name: "backslash escapes in double quotes",
			in:   `NAME="say \"hi\" \\ \$HOME \` + "`" + `date\` + "`" + `"` + "\n",
			want: map[string]string{"NAME": "say \"hi\" \\ $HOME `date`"},
		},
		{
			name: "a backslash before another character stays",
			in:   `NAME="a\nb\tc"` + "\n",
			want: map[string]string{"NAME": `a\nb\tc`},
		},
		{
			name: "no escapes in single quotes",
			in:   `NAME='a\"b\'` + "\n",
			want: map[string]string{"NAME": `a\"b\`},
		},
		{
			name: "the other quote inside quotes",
			in:   `A="it's"` + "\n" + `B='say "hi"'` + "\n",
			want: map[string]string{"A": "it's", "B": `say "hi"`},
		},
		{
			name: "empty values",
			in:   "VARIANT=\nVARIANT_ID=\"\"\nBUILD_ID=''\n",
			want: map[string]string{"VARIANT": "", "VARIANT_ID": "", "BUILD_ID": ""},
		},
		{
			name: "comment after the closing quote",
			in:   `ID="rocky" # the distribution` + "\n",
			want: map[string]string{"ID": "rocky"},
		},
		{
			name: "an equals sign in the value",
			in:   `CPE_NAME="cpe:/o:a=b"` + "\nX=a=b\n",
			want: map[string]string{"CPE_NAME": "cpe:/o:a=b", "X": "a=b"},
		},
		{
			name: "the last of a repeated key wins",
			in:   "ID=one\nID=two\n",
			want: map[string]string{"ID": "two"},
		},
		{
			name: "no final newline",
			in:   "ID=debian",
			want: map[string]string{"ID": "debian"},
		},
		{name: "empty file", in: "", want: map[string]string{}},
		{
			name:    "unquoted blanks",
			in:      "ID=broken\nNAME=Broken Linux\n",
			wantErr: `line 2: NAME: unquoted value "Broken Linux" contains blanks or quotes`,
		},
		{
			name:    "no equals sign",
			in:      "ID=x\n# fine\nJUST TEXT\n",
			wantErr: `line 3: expected KEY=value, got "JUST TEXT"`,
		},
		{
			name:    "invalid key",
			in:      "MY-KEY=x\n",
			wantErr: `line 1: invalid key "MY-KEY"`,
		},
		{
			name:    "blank before the equals sign",
			in:      "ID =x\n",
			wantErr: `line 1: invalid key "ID "`,
		},
		{
			name:    "empty key",
			in:      "=x\n",
			wantErr: `line 1: invalid key ""`,
		},
		{
			name:    "missing closing quote",
			in:      "ID=a\n\nNAME=\"Rocky Linux\n",
			wantErr: "line 3: NAME: missing closing quote",
		},
		{
			name:    "an escaped closing quote does not close",
			in:      `NAME="abc\"` + "\n",
			wantErr: "line 1: NAME: missing closing quote",
		},
		{
			name:    "text after the closing quote",
			in:      `ID="rocky"linux` + "\n",
			wantErr: `line 1: ID: text after closing quote: "linux"`,
		},
		{
			name:    "a quote inside an unquoted value",
			in:      `ID=it's` + "\n",
			wantErr: `line 1: ID: unquoted value "it's" contains blanks or quotes`,
		},
		{
			name:    "a line longer than the scanner allows",
			in:      "ID=x\nNAME=\"" + strings.Repeat("a", 70*1024) + "\"\n",
			wantErr: "line 2: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting with %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("fields %v along with the error, want none", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOSReleaseLinksStayInRoot reads os-release through links that would leave the fixture
// root if the exporter's own filesystem resolved them: an absolute link, and a relative link
// with more ".." than the root is deep. Both must land on the fixture's file, never on this
// machine's /usr/lib/os-release.
func TestOSReleaseLinksStayInRoot(t *testing.T) {
	for _, tt := range []struct{ root, pretty string }{
		{"absolute", "Fixture OS behind an absolute link"},
		{"escape", "Fixture OS reached by a link that escapes"},
	} {
		t.Run(tt.root, func(t *testing.T) {
			root := filepath.Join("testdata", "os-release-links", tt.root)
			if target, err := os.Readlink(filepath.Join(root, "etc", "os-release")); err != nil || !strings.Contains(target, "usr/lib/os-release") {
				t.Fatalf("fixture etc/os-release should be a link to usr/lib/os-release: %q, %v", target, err)
			}
			c := &osCollector{cfg: Config{RootFS: root}}
			fields, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if fields["ID"] != "fixture" || fields["PRETTY_NAME"] != tt.pretty {
				t.Errorf("read ID=%q PRETTY_NAME=%q, want the fixture's %q", fields["ID"], fields["PRETTY_NAME"], tt.pretty)
			}
		})
	}
}

func TestOSReleaseFallsBackToUsrLib(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=fallback\n")
	fields, err := (&osCollector{cfg: Config{RootFS: root}}).read()
	if err != nil {
		t.Fatal(err)
	}
	if fields["ID"] != "fallback" {
		t.Errorf("ID=%q, want fallback from usr/lib/os-release", fields["ID"])
	}

	empty := t.TempDir()
	if _, err := (&osCollector{cfg: Config{RootFS: empty}}).read(); err == nil || !strings.Contains(err.Error(), "no os-release") {
		t.Errorf("error %v without any os-release, want \"no os-release\"", err)
	}
}

func TestOSCollectorSupportEnd(t *testing.T) {
	for _, tt := range []struct {
		name, supportEnd string
		wantErr          bool
		wantSample       string
	}{
		{"a date", `SUPPORT_END="2029-05-31"`, false, "strata_host_os_support_end_timestamp_seconds{host=\"h\"} 1.87488e+09\n"},
		{"none", ``, false, ""},
		{"not a date", `SUPPORT_END=someday`, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "etc/os-release"), "ID=x\n"+tt.supportEnd+"\n")
			c := &osCollector{cfg: Config{RootFS: root}}
			s := &Scrape{Host: "h", facts: newFacts()}
			err := c.Update(context.Background(), s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			got := renderMetrics(t, s.metrics)
			var samples []string
			for _, line := range strings.SplitAfter(got, "\n") {
				if strings.HasPrefix(line, "strata_host_os_support_end_timestamp_seconds") {
					samples = append(samples, line)
				}
			}
			if strings.Join(samples, "") != tt.wantSample {
				t.Errorf("support end samples %q, want %q", samples, tt.wantSample)
			}
		})
	}
}

func TestParseOSReleaseReadError(t *testing.T) {
	boom := errors.New("input/output error")
	_, err := ParseOSRelease(errReader{strings.NewReader("ID=x\n"), boom})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("error %v, want the read error at line 2", err)
	}
}

// errReader fails after its content, as a read of a vanishing file does.
type errReader struct {
	r   io.Reader
	err error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}
