package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/safefile"
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/lifecycle"
)

// lifecycle reads the lifecycle block: the data that replaces the shipped one, the warning
// window before an OS's support ends, and the rules.
//
//	lifecycle:
//	  data_file: ""                 # optional: replaces the shipped end-of-support data
//	  warn_before_eol: 90d
//	  rules:
//	    - {name: min-kernel, os_id: debian, os_version_id: "12", min_kernel: 6.1.0-28}
//	    - {name: bad-kernel, kernel_release: "=~6\\.1\\.0-(13|14)-.*", reason: CVE-2023-XXXX}
//	    - {name: reboot-pending, max_pending: 7d}
//	    - {name: image-tag, image: "=~.*:latest", reason: untracked tag}
//	    - {name: image-age, max_image_age: 365d}
func (r *reader) lifecycle(n *yaml.Node, path string) *lifecycle.Policy {
	p := &lifecycle.Policy{}
	var dataFile string
	var dataNode *yaml.Node
	ruleNodes := map[int]*yaml.Node{}
	r.d.Mapping(n, path, []strictyaml.Field{
		{Name: "data_file", Read: func(n *yaml.Node, path string) {
			dataNode = n
			r.d.PathField(&dataFile)(n, path)
		}},
		{Name: "warn_before_eol", Read: r.d.DurationField(&p.WarnBeforeEOL)},
		{Name: "rules", Read: func(n *yaml.Node, path string) {
			r.d.Sequence(n, path, func(i int, n *yaml.Node, path string) {
				ruleNodes[len(p.Rules)] = n
				p.Rules = append(p.Rules, r.lifecycleRule(n, path))
			})
		}},
	})
	if dataFile != "" {
		data, err := safefile.ReadFile(dataFile, lifecycle.MaxDataBytes)
		if err == nil {
			p.Data, err = lifecycle.ParseData(bytes.NewReader(data), dataFile)
		}
		if err != nil {
			r.d.Errorf(dataNode, path+".data_file", "%v", err)
		}
	}
	for i, err := range p.Validate() {
		r.d.Errorf(ruleNodes[i], fmt.Sprintf("%s.rules[%d]", path, i), "%v", err)
	}
	return p
}

func (r *reader) lifecycleRule(n *yaml.Node, path string) lifecycle.Rule {
	var rule lifecycle.Rule
	var state string
	matcher := func(dst **regexp.Regexp) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			s, ok := r.d.String(n, path)
			if !ok || s == "" {
				return
			}
			re, err := lifecycleMatcher(s)
			if err != nil {
				r.d.Errorf(n, path, "%v", err)
				return
			}
			*dst = re
		}
	}
	r.d.Mapping(n, path, []strictyaml.Field{
		{Name: "name", Read: r.d.StringField(&rule.Name, nil)},
		{Name: "os_id", Read: r.d.StringField(&rule.OSID, nil)},
		{Name: "os_version_id", Read: r.d.StringField(&rule.OSVersionID, nil)},
		{Name: "min_kernel", Read: r.d.StringField(&rule.MinKernel, nil)},
		{Name: "kernel_release", Read: matcher(&rule.KernelRelease)},
		{Name: "max_kernel_age", Read: r.d.DurationField(&rule.MaxKernelAge)},
		{Name: "max_pending", Read: r.d.DurationField(&rule.MaxPending)},
		{Name: "max_image_age", Read: r.d.DurationField(&rule.MaxImageAge)},
		{Name: "image", Read: matcher(&rule.Image)},
		{Name: "reason", Read: r.d.StringField(&rule.Reason, nil)},
		{Name: "state", Read: r.d.StringField(&state, nil)},
	})
	rule.State = lifecycle.State(state)
	return rule
}

// lifecycleMatcher reads a rule's value: "=~<regular expression>", matched whole as
// Prometheus's label matchers are, else the value itself.
func lifecycleMatcher(s string) (*regexp.Regexp, error) {
	if re, ok := strings.CutPrefix(s, "=~"); ok {
		compiled, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, fmt.Errorf("not a regular expression (RE2): %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return compiled, nil
	}
	if strings.HasPrefix(s, "!~") || strings.HasPrefix(s, "!=") {
		return nil, fmt.Errorf("a rule names what it refuses: =~<regular expression> or the value itself, not %s", s[:2])
	}
	return regexp.MustCompile("^" + regexp.QuoteMeta(s) + "$"), nil
}
