package lifecycle

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/strata-obs/strata/internal/kernelversion"
)

// State is how a host or an image stands against a rule.
type State string

// The states, from best to worst: a rule that cannot tell (no data, no fact) is unknown, never
// a silent ok.
const (
	OK      State = "ok"
	Unknown State = "unknown"
	Warn    State = "warn"
	Fail    State = "fail"
)

// Worse tells whether a is a worse state than b.
func Worse(a, b State) bool { return rank(a) > rank(b) }

func rank(s State) int {
	switch s {
	case OK:
		return 0
	case Unknown:
		return 1
	case Warn:
		return 2
	case Fail:
		return 3
	}
	return -1
}

// SupportEndRule is the name of the rule every host is held to: its OS release's support end.
const SupportEndRule = "support-end"

// DefaultWarnBeforeEOL is how long before its support ends a host is warned of it.
const DefaultWarnBeforeEOL = 90 * 24 * time.Hour

// Policy is the lifecycle rules hosts and images are held to, beside their OS's support end.
type Policy struct {
	Data          *Data         // nil: the shipped data
	WarnBeforeEOL time.Duration // 0: DefaultWarnBeforeEOL
	Rules         []Rule
}

// Rule is one rule of the policy. Exactly one check is set: MinKernel (on the hosts OSID and
// OSVersionID select), KernelRelease (kernels that are banned), MaxKernelAge, MaxPending (a
// reboot pending), Image (image references that are not allowed) or MaxImageAge.
type Rule struct {
	Name        string
	OSID        string // selects hosts of that os-release ID; "" all
	OSVersionID string // and VERSION_ID; "" all

	MinKernel     string         // the oldest kernel release allowed
	KernelRelease *regexp.Regexp // kernels that are banned, matched whole
	MaxKernelAge  time.Duration  // the oldest a running kernel's build may be
	MaxPending    time.Duration  // the longest a reboot may be pending
	Image         *regexp.Regexp // image references that are not allowed, matched whole
	MaxImageAge   time.Duration  // the oldest an image's build may be

	Reason string // why: a CVE id, "untracked tag"
	State  State  // what failing it is: Fail (the default) or Warn
}

// Check is what a rule checks.
func (r Rule) Check() string {
	var set []string
	if r.MinKernel != "" {
		set = append(set, "min_kernel")
	}
	if r.KernelRelease != nil {
		set = append(set, "kernel_release")
	}
	if r.MaxKernelAge > 0 {
		set = append(set, "max_kernel_age")
	}
	if r.MaxPending > 0 {
		set = append(set, "max_pending")
	}
	if r.Image != nil {
		set = append(set, "image")
	}
	if r.MaxImageAge > 0 {
		set = append(set, "max_image_age")
	}
	return strings.Join(set, ", ")
}

// Validate says what is wrong with each rule, by its index; the configuration's reader adds
// the file and line.
func (p *Policy) Validate() map[int]error {
	errs := map[int]error{}
	names := map[string]int{}
	for i, r := range p.Rules {
		var err error
		switch check := r.Check(); {
		case r.Name == "":
			err = errors.New("a rule needs a name")
		case r.Name == SupportEndRule:
			err = fmt.Errorf("%s is the built-in rule of the OS's support end: name yours otherwise", SupportEndRule)
		case check == "":
			err = errors.New("the rule checks nothing: give one of min_kernel, kernel_release, max_kernel_age, max_pending, image, max_image_age")
		case strings.Contains(check, ","):
			err = fmt.Errorf("the rule checks %s: one check a rule", check)
		case r.forImages() && (r.OSID != "" || r.OSVersionID != ""):
			err = errors.New("an image rule selects no hosts: os_id and os_version_id do not apply")
		case r.OSVersionID != "" && r.OSID == "":
			err = errors.New("os_version_id without os_id")
		case r.State != "" && r.State != Fail && r.State != Warn:
			err = fmt.Errorf("state %q: want fail or warn", r.State)
		}
		if j, ok := names[r.Name]; ok && err == nil && r.Name != "" {
			err = fmt.Errorf("rule %q again (rule %d has it)", r.Name, j+1)
		}
		names[r.Name] = i
		if err != nil {
			errs[i] = err
		}
	}
	return errs
}

// Status is a host's or an image's state against one rule, and why. A reason names dates, never
// a count of days: it is a label of a series, which must not change every day.
type Status struct {
	Rule   string
	State  State
	Reason string
}

// Host is how a host stands against the support end of its OS and each rule that selects it;
// attr reads its attributes (os_id, os_version_id, support_end, kernel_release,
// kernel_build_date, reboot_required, reboot_required_since).
func (p *Policy) Host(attr func(string) string, now time.Time) []Status {
	out := []Status{p.supportEnd(attr, now)}
	osID, version := attr("os_id"), attr("os_version_id")
	for _, r := range p.Rules {
		if r.forImages() || r.OSID != "" && r.OSID != osID || r.OSVersionID != "" && r.OSVersionID != version {
			continue
		}
		out = append(out, r.host(attr, now))
	}
	return out
}

// Image is how an image stands against each image rule; ref is its reference, attr reads its
// attributes (created, when it was built, RFC 3339).
func (p *Policy) Image(ref string, attr func(string) string, now time.Time) []Status {
	var out []Status
	for _, r := range p.Rules {
		if !r.forImages() {
			continue
		}
		st := Status{Rule: r.Name, State: OK}
		switch {
		case r.Image != nil:
			if r.Image.MatchString(ref) {
				st.State, st.Reason = r.failing(), "image "+ref+" is not allowed"+r.because()
			}
		case r.MaxImageAge > 0:
			built, err := time.Parse(time.RFC3339, attr("created"))
			switch {
			case err != nil:
				st.State, st.Reason = Unknown, "when the image was built is not known"
			case now.Sub(built) > r.MaxImageAge:
				st.State, st.Reason = r.failing(), fmt.Sprintf("image %s was built %s, more than %s ago%s",
					ref, built.UTC().Format(time.DateOnly), durationString(r.MaxImageAge), r.because())
			}
		}
		out = append(out, st)
	}
	return out
}

// forImages tells a rule images are held to, not hosts.
func (r Rule) forImages() bool { return r.Image != nil || r.MaxImageAge > 0 }

// Worst is the worst state of statuses; OK for none.
func Worst(statuses []Status) State {
	worst := OK
	for _, s := range statuses {
		if Worse(s.State, worst) {
			worst = s.State
		}
	}
	return worst
}

// SupportEnd is the day a host's OS support ends, and where that is said: os-release's
// SUPPORT_END first (the distribution's own word: a support_end attribute without a
// support_end_source), else the data; zero when neither knows.
func (p *Policy) SupportEnd(attr func(string) string) (time.Time, string) {
	if end := attr("support_end"); end != "" && attr("support_end_source") == "" {
		if t, err := time.Parse(time.DateOnly, end); err == nil {
			return t, "os-release SUPPORT_END"
		}
	}
	rel, ok := p.data().Lookup(attr("os_id"), attr("os_version_id"))
	if !ok {
		return time.Time{}, ""
	}
	return rel.SupportEnd, rel.Where
}

func (p *Policy) data() *Data {
	if p.Data != nil {
		return p.Data
	}
	return shippedData()
}

func (p *Policy) supportEnd(attr func(string) string, now time.Time) Status {
	st := Status{Rule: SupportEndRule}
	osID, version := attr("os_id"), attr("os_version_id")
	end, from := p.SupportEnd(attr)
	switch {
	case end.IsZero() && osID == "":
		st.State, st.Reason = Unknown, "the OS is not known (no os-release ID)"
		return st
	case end.IsZero():
		st.State, st.Reason = Unknown, fmt.Sprintf("no support end known for %s %s", osID, version)
		return st
	}
	warn := p.WarnBeforeEOL
	if warn <= 0 {
		warn = DefaultWarnBeforeEOL
	}
	day := end.Format(time.DateOnly)
	last := end.Add(24 * time.Hour) // the end's day is still supported
	switch {
	case !now.Before(last):
		st.State, st.Reason = Fail, fmt.Sprintf("support ended %s (%s)", day, from)
	case now.Add(warn).After(last):
		st.State, st.Reason = Warn, fmt.Sprintf("support ends %s, within %s (%s)", day, durationString(warn), from)
	default:
		st.State, st.Reason = OK, fmt.Sprintf("supported until %s (%s)", day, from)
	}
	return st
}

func (r Rule) host(attr func(string) string, now time.Time) Status {
	st := Status{Rule: r.Name, State: OK}
	kernel := attr("kernel_release")
	switch {
	case r.MinKernel != "":
		switch {
		case kernel == "":
			st.State, st.Reason = Unknown, "the running kernel is not known"
		case kernelversion.Compare(kernel, r.MinKernel) < 0:
			st.State, st.Reason = r.failing(), fmt.Sprintf("kernel %s is older than %s%s", kernel, r.MinKernel, r.because())
		}
	case r.KernelRelease != nil:
		switch {
		case kernel == "":
			st.State, st.Reason = Unknown, "the running kernel is not known"
		case r.KernelRelease.MatchString(kernel):
			st.State, st.Reason = r.failing(), fmt.Sprintf("kernel %s is banned%s", kernel, r.because())
		}
	case r.MaxKernelAge > 0:
		built, err := time.Parse(time.DateOnly, attr("kernel_build_date"))
		switch {
		case err != nil:
			st.State, st.Reason = Unknown, "the running kernel's build date is not known"
		case now.Sub(built) > r.MaxKernelAge:
			st.State, st.Reason = r.failing(), fmt.Sprintf("kernel %s was built %s, more than %s ago%s",
				kernel, built.Format(time.DateOnly), durationString(r.MaxKernelAge), r.because())
		}
	case r.MaxPending > 0:
		required, since := attr("reboot_required"), attr("reboot_required_since")
		t, err := time.Parse(time.RFC3339, since)
		switch {
		case required == "false":
		case required == "":
			st.State, st.Reason = Unknown, "whether a reboot is required is not known"
		case err != nil:
			st.State, st.Reason = Unknown, "a reboot is required, since when is not known"
		case now.Sub(t) > r.MaxPending:
			st.State, st.Reason = r.failing(), fmt.Sprintf("a reboot has been pending since %s, more than %s%s",
				t.Format(time.DateOnly), durationString(r.MaxPending), r.because())
		}
	}
	return st
}

// failing is the state a rule's failure is.
func (r Rule) failing() State {
	if r.State == Warn {
		return Warn
	}
	return Fail
}

func (r Rule) because() string {
	if r.Reason == "" {
		return ""
	}
	return ": " + r.Reason
}

// durationString writes a duration as the configuration does: 90d, 36h, 15m.
func durationString(d time.Duration) string { return model.Duration(d).String() }
