package lifecycle

import (
	"encoding/csv"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// distroInfoEOL is the eol column of this machine's distro-info-data for a release: the truth
// the shipped data must give.
func distroInfoEOL(t *testing.T, file, version string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		testenv.Missing(t, "Debian's distro-info-data (%v)", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		if strings.TrimSuffix(row[0], " LTS") == version && len(row) > 5 {
			return row[5]
		}
	}
	t.Fatalf("%s has no %s", file, version)
	return ""
}

// TestHostStatuses: hosts of the kinds the issue names against the support end of their OS and
// a policy's rules; the states, and the dates and days in the reasons, are what the data says.
func TestHostStatuses(t *testing.T) {
	debian11 := distroInfoEOL(t, "/usr/share/distro-info/debian.csv", "11")
	ubuntu2204 := distroInfoEOL(t, "/usr/share/distro-info/ubuntu.csv", "22.04")
	p := &Policy{Rules: []Rule{
		{Name: "min-kernel", OSID: "debian", OSVersionID: "12", MinKernel: "6.1.0-28"},
		{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`^(?:6\.1\.0-(13|14)-.*)$`), Reason: "CVE-2023-XXXX"},
		{Name: "reboot-pending", MaxPending: 7 * 24 * time.Hour},
		{Name: "kernel-age", MaxKernelAge: 365 * 24 * time.Hour, State: Warn},
	}}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		now   time.Time
		attrs map[string]string
		want  map[string]string // rule → state, then ": " and what the reason starts with
	}{
		{"debian 11, past its support end", now,
			map[string]string{"os_id": "debian", "os_version_id": "11", "kernel_release": "5.10.0-33-amd64", "kernel_build_date": "2024-11-01", "reboot_required": "false"},
			map[string]string{SupportEndRule: "fail: support ended " + debian11 + " (os-support.csv (built in):",
				"bad-kernel": "ok", "reboot-pending": "ok", "kernel-age": "warn: kernel 5.10.0-33-amd64 was built 2024-11-01, more than 1y ago"}},
		{"ubuntu 22.04, inside the warning window", time.Date(2027, 4, 15, 0, 0, 0, 0, time.UTC),
			map[string]string{"os_id": "ubuntu", "os_version_id": "22.04", "kernel_release": "5.15.0-91-generic", "kernel_build_date": "2027-01-10", "reboot_required": "false"},
			map[string]string{SupportEndRule: "warn: support ends " + ubuntu2204 + ", within 90d (", "bad-kernel": "ok", "reboot-pending": "ok", "kernel-age": "ok"}},
		{"flatcar without SUPPORT_END", now,
			map[string]string{"os_id": "flatcar", "os_version_id": "3975.2.2", "kernel_release": "6.6.54-flatcar", "reboot_required": "false"},
			map[string]string{SupportEndRule: "unknown: no support end known for flatcar 3975.2.2", "bad-kernel": "ok", "reboot-pending": "ok",
				"kernel-age": "unknown: the running kernel's build date is not known"}},
		{"debian 12, a newer kernel installed, not rebooted for ten days", now,
			map[string]string{"os_id": "debian", "os_version_id": "12", "kernel_release": "6.1.0-13-amd64", "kernel_build_date": "2026-10-01",
				"reboot_required": "true", "reboot_required_since": "2026-11-27T12:00:00Z"},
			map[string]string{SupportEndRule: "fail: support ended 2026-07-11", "min-kernel": "fail: kernel 6.1.0-13-amd64 is older than 6.1.0-28",
				"bad-kernel": "fail: kernel 6.1.0-13-amd64 is banned: CVE-2023-XXXX", "reboot-pending": "fail: a reboot has been pending since 2026-11-27, more than 1w",
				"kernel-age": "ok"}},
		{"os-release's SUPPORT_END before the data", now,
			map[string]string{"os_id": "debian", "os_version_id": "12", "support_end": "2030-01-01", "kernel_release": "6.1.0-31-amd64",
				"kernel_build_date": "2026-11-01", "reboot_required": "true"},
			map[string]string{SupportEndRule: "ok: supported until 2030-01-01 (os-release SUPPORT_END)", "min-kernel": "ok", "bad-kernel": "ok",
				"reboot-pending": "unknown: a reboot is required, since when is not known", "kernel-age": "ok"}},
		{"nothing known", now, map[string]string{},
			map[string]string{SupportEndRule: "unknown: the OS is not known", "bad-kernel": "unknown: the running kernel is not known",
				"reboot-pending": "unknown: whether a reboot is required is not known", "kernel-age": "unknown"}},
	} {
		got := p.Host(func(name string) string { return c.attrs[name] }, c.now)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d statuses %v, want %d", c.name, len(got), got, len(c.want))
		}
		for _, st := range got {
			want, ok := c.want[st.Rule]
			state, reason, _ := strings.Cut(want, ": ")
			if !ok || string(st.State) != state || !strings.HasPrefix(st.Reason, reason) {
				t.Errorf("%s: rule %s: %s %q, want %q", c.name, st.Rule, st.State, st.Reason, want)
			}
		}
	}
}

// TestImageStatuses: an image rule fails the references it matches, whole, and passes the others.
func TestImageStatuses(t *testing.T) {
	p := &Policy{Rules: []Rule{
		{Name: "image-tag", Image: regexp.MustCompile(`^(?:.*:latest)$`), Reason: "untracked tag"},
		{Name: "min-kernel", MinKernel: "6.1"}, // a host rule: not an image's
	}}
	for ref, want := range map[string]string{
		"nginx:latest":                "fail: image nginx:latest is not allowed: untracked tag",
		"registry.local/app:latest":   "fail: image registry.local/app:latest is not allowed: untracked tag",
		"nginx:1.25":                  "ok: ",
		"nginx:latest-alpine":         "ok: ",
		"nginx@sha256:0123456789abcd": "ok: ",
	} {
		got := p.Image(ref, func(string) string { return "" }, time.Now())
		state, reason, _ := strings.Cut(want, ": ")
		if len(got) != 1 || got[0].Rule != "image-tag" || string(got[0].State) != state || got[0].Reason != reason {
			t.Errorf("Image(%q) = %v, want %s", ref, got, want)
		}
	}

	// An image built longer ago than max_image_age fails; one whose build time is not known is
	// unknown, never a silent pass.
	aged := &Policy{Rules: []Rule{{Name: "image-age", MaxImageAge: 365 * 24 * time.Hour, State: Warn}}}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for created, want := range map[string]string{
		"2025-12-08T00:00:00Z":      "ok: ",
		"2025-12-07T11:00:00Z":      "warn: image app:1 was built 2025-12-07, more than 1y ago",
		"2019-01-01T00:00:00+02:00": "warn: image app:1 was built 2018-12-31, more than 1y ago",
		"":                          "unknown: when the image was built is not known",
		"last tuesday":              "unknown: when the image was built is not known",
	} {
		got := aged.Image("app:1", func(name string) string {
			if name == "created" {
				return created
			}
			return ""
		}, now)
		state, reason, _ := strings.Cut(want, ": ")
		if len(got) != 1 || string(got[0].State) != state || got[0].Reason != reason {
			t.Errorf("image built %q: %v, want %s", created, got, want)
		}
	}
	if got := aged.Host(func(string) string { return "" }, now); len(got) != 1 {
		t.Errorf("an image rule held a host to it: %v", got)
	}

	if w := Worst([]Status{{State: OK}, {State: Unknown}, {State: Warn}}); w != Warn {
		t.Errorf("worst of ok, unknown, warn: %s", w)
	}
	if w := Worst([]Status{{State: Fail}, {State: Warn}}); w != Fail {
		t.Errorf("worst of fail, warn: %s", w)
	}
	if w := Worst(nil); w != OK {
		t.Errorf("worst of none: %s", w)
	}
}

// TestValidate: each fault of a rule is named, by the rule's index.
func TestValidate(t *testing.T) {
	re := regexp.MustCompile(`x`)
	p := &Policy{Rules: []Rule{
		{Name: "ok", MinKernel: "6.1"},
		{MinKernel: "6.1"},
		{Name: SupportEndRule, MinKernel: "6.1"},
		{Name: "nothing"},
		{Name: "two", MinKernel: "6.1", MaxPending: time.Hour},
		{Name: "image-os", Image: re, OSID: "debian"},
		{Name: "version-alone", MinKernel: "6.1", OSVersionID: "12"},
		{Name: "state", MinKernel: "6.1", State: "error"},
		{Name: "ok", KernelRelease: re},
	}}
	want := map[int]string{
		1: "a rule needs a name",
		2: "support-end is the built-in rule",
		3: "the rule checks nothing",
		4: "the rule checks min_kernel, max_pending: one check a rule",
		5: "an image rule selects no hosts",
		6: "os_version_id without os_id",
		7: `state "error": want fail or warn`,
		8: `rule "ok" again (rule 1 has it)`,
	}
	errs := p.Validate()
	for i := range p.Rules {
		err, w := errs[i], want[i]
		if (err == nil) != (w == "") || err != nil && !strings.HasPrefix(err.Error(), w) {
			t.Errorf("rule %d: %v, want %q", i, err, w)
		}
	}
}
