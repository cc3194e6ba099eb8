package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/lifecycle"
)

// TestLifecycle: the lifecycle block of docs/design.md reads into the policy it says, a data
// file replaces the shipped data, and without the block the policy is the support end alone.
func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "eol.csv")
	if err := os.WriteFile(data, []byte("os_id,version_id,name,support_end,extended_end,source,recorded\n"+
		"debian,12,Debian 12,2030-01-01,,our own,2026-12-07\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(dir, "strata.yml"), []byte(`lifecycle:
  data_file: eol.csv
  warn_before_eol: 30d
  rules:
    - {name: min-kernel, os_id: debian, os_version_id: "12", min_kernel: 6.1.0-28}
    - {name: bad-kernel, kernel_release: "=~6\\.1\\.0-(13|14)-.*", reason: CVE-2023-XXXX}
    - {name: reboot-pending, max_pending: 7d, state: warn}
    - {name: image-tag, image: "=~.*:latest", reason: untracked tag}
    - {name: exact-image, image: "nginx:1.25"}
    - {name: image-age, max_image_age: 365d}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Lifecycle
	if p.WarnBeforeEOL != 30*24*time.Hour || len(p.Rules) != 6 || p.Data == nil || p.Data.Len() != 1 {
		t.Fatalf("policy %+v", p)
	}
	r := p.Rules
	if r[0].Name != "min-kernel" || r[0].OSID != "debian" || r[0].OSVersionID != "12" || r[0].MinKernel != "6.1.0-28" {
		t.Errorf("rule 0: %+v", r[0])
	}
	if !r[1].KernelRelease.MatchString("6.1.0-13-amd64") || r[1].KernelRelease.MatchString("6.1.0-130-amd64x") || r[1].Reason != "CVE-2023-XXXX" {
		t.Errorf("rule 1 matches 6.1.0-13-amd64 and no more: %v", r[1].KernelRelease)
	}
	if r[2].MaxPending != 7*24*time.Hour || r[2].State != lifecycle.Warn {
		t.Errorf("rule 2: %+v", r[2])
	}
	if !r[3].Image.MatchString("nginx:latest") || r[3].Image.MatchString("nginx:1.25") {
		t.Errorf("rule 3: %v", r[3].Image)
	}
	if !r[4].Image.MatchString("nginx:1.25") || r[4].Image.MatchString("nginx:1x25") {
		t.Errorf("rule 4, an exact value: %v", r[4].Image)
	}
	if r[5].MaxImageAge != 365*24*time.Hour || r[5].Check() != "max_image_age" {
		t.Errorf("rule 5: %+v", r[5])
	}
	end, from := p.SupportEnd(func(name string) string { return map[string]string{"os_id": "debian", "os_version_id": "12"}[name] })
	if end.Format(time.DateOnly) != "2030-01-01" || !strings.HasPrefix(from, data+":2 (our own") {
		t.Errorf("the data file's Debian 12: %s from %s", end, from)
	}

	c, err = Parse("strata.yml", []byte("sources: []\n"), nil)
	if err != nil || c.Lifecycle == nil || len(c.Lifecycle.Rules) != 0 || c.Lifecycle.Data != nil {
		t.Errorf("without the block: %+v, %v", c.Lifecycle, err)
	}
}

// TestLifecycleErrors: every fault of the block is named with its line, and none quotes the
// data file.
func TestLifecycleErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("os_id,version_id,name,support_end,extended_end,source,recorded\ndebian,12,x,secret-date,,s,2026-12-07\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"lifecycle:\n  rules:\n    - {name: x}\n", "strata.yml:3: lifecycle.rules[0]: the rule checks nothing"},
		{"lifecycle:\n  rules:\n    - {name: x, kernel: 6.1}\n", `strata.yml:3: lifecycle.rules[0]: unknown field "kernel"`},
		{"lifecycle:\n  rules:\n    - {name: x, kernel_release: \"=~6.1.(\"}\n", "strata.yml:3: lifecycle.rules[0].kernel_release: not a regular expression"},
		{"lifecycle:\n  rules:\n    - {name: x, image: \"!~.*:latest\"}\n", "strata.yml:3: lifecycle.rules[0].image: a rule names what it refuses"},
		{"lifecycle:\n  rules:\n    - {name: x, max_pending: soon}\n", "strata.yml:3: lifecycle.rules[0].max_pending: want a positive duration"},
		{"lifecycle:\n  rules:\n    - {name: x, max_image_age: 30d, os_id: debian}\n", "strata.yml:3: lifecycle.rules[0]: an image rule selects no hosts"},
		{"lifecycle:\n  rules:\n    - {name: x, min_kernel: \"6.1\"}\n    - {name: x, max_pending: 1d}\n", `strata.yml:4: lifecycle.rules[1]: rule "x" again (rule 1 has it)`},
		{"lifecycle:\n  warn_before_eol: 3 months\n", "strata.yml:2: lifecycle.warn_before_eol: want a positive duration"},
		{"lifecycle:\n  data_file: missing.csv\n", "strata.yml:2: lifecycle.data_file: "},
		{"lifecycle:\n  data_file: bad.csv\n", "strata.yml:2: lifecycle.data_file: " + bad + ":2: support_end is not a date (YYYY-MM-DD)"},
	} {
		_, err := Parse(filepath.Join(dir, "strata.yml"), []byte(tc.in), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %s…", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-date") {
			t.Errorf("the error quotes the data file: %v", err)
		}
	}
}
