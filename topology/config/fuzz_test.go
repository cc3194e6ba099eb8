package config

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/labelname"
)

// FuzzParse: any input gives a configuration or an error naming the file, never a panic, and a
// configuration that Parse accepts holds what strata relies on.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/design.yml", "testdata/full.yml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "~", "- a", "sources: {}", "sources: [{type: haproxy}]",
		"sources: [{type: haproxy, runtime_api: \"tcp://[::1]:9999\", timeout: 1s}, {type: caddy, <<: {name: x}}]",
		"x: &a {type: caddy}\nsources: [*a, *a]\n",
		"sources:\n  - &s {type: inventory, file: a, <<: *s}\n",
		"scrape_configs:\n  - &j {job_name: a, x: [*j]}\n",
		"scrape_configs: [{job_name: a, <<: &m {job_name: b}}, *m]\n",
		"topology: {refresh_interval: 1d, stale_after: 1w, label_allowlist: [a, b]}\n",
		"prometheus: {url: \"https://u:p@h:1/x?y#z\", remote_write: \"http://h\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse("fuzz.yml", in, providers())
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		names := map[string]bool{}
		for _, s := range c.Sources {
			if s.Name == "" || names[s.Name] || s.Spec == nil || s.Type == "" {
				t.Fatalf("bad source %+v", s)
			}
			names[s.Name] = true
		}
		tp := c.Topology
		if tp.RefreshInterval <= 0 || tp.StaleAfter < tp.RefreshInterval {
			t.Fatalf("bad topology %+v", tp)
		}
		for _, l := range tp.LabelAllowlist {
			if err := labelname.Check(l); err != nil {
				t.Fatal(err)
			}
		}
		if c.ScrapeConfigs != nil {
			// Read back as nodes: a scrape config Prometheus will reject (a mapping as a key)
			// is still handed over, for Prometheus to say what is wrong with it.
			// As the caller uses it: an entry of its own, then the list, under the key.
			text := "scrape_configs:\n" + indent("- job_name: self\n"+string(c.ScrapeConfigs))
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
				t.Fatalf("ScrapeConfigs does not read back: %v\n%s", err, text)
			}
			root := doc.Content[0]
			if root.Kind != yaml.MappingNode || len(root.Content) != 2 || root.Content[0].Value != "scrape_configs" ||
				root.Content[1].Kind != yaml.SequenceNode || len(root.Content[1].Content) < 2 {
				t.Fatalf("ScrapeConfigs is not a scrape_configs list:\n%s", text)
			}
			for _, sc := range root.Content[1].Content {
				if sc.Kind != yaml.MappingNode {
					t.Fatalf("scrape config %v is not a mapping:\n%s", sc.Value, c.ScrapeConfigs)
				}
			}
		}
	})
}
