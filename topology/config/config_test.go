package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/caddy"
	"github.com/strata-obs/strata/topology/source/haproxy"
	"github.com/strata-obs/strata/topology/source/inventory"
	"github.com/strata-obs/strata/topology/source/kubernetes"
	"github.com/strata-obs/strata/topology/source/nginx"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func defaultTopology() Topology {
	return Topology{RefreshInterval: 15 * time.Second, StaleAfter: 5 * time.Minute, LabelAllowlist: DefaultLabelAllowlist()}
}

func TestParseDesignExample(t *testing.T) {
	t.Setenv("HOME", "/home/sre")
	got, err := Parse("/etc/strata/strata.yml", readTestdata(t, "design.yml"), providers())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Sources: []Source{
			{Type: "haproxy", Name: "edge", Line: 3, Spec: &haproxy.Config{RuntimeAPI: "unix:///run/haproxy/admin.sock", Host: "node-1", Timeout: 5 * time.Second}},
			{Type: "caddy", Name: "web", Line: 7, Spec: &caddy.Config{AdminURL: "http://127.0.0.1:2019", Timeout: 5 * time.Second}},
			{Type: "nginx", Name: "legacy", Line: 10, Spec: &nginx.Config{ConfigFile: "/etc/nginx/nginx.conf"}},
			{Type: "kubernetes", Name: "kubernetes", Line: 13, Spec: &kubernetes.Config{Kubeconfig: "/home/sre/.kube/config"}},
			{Type: "inventory", Name: "inventory", Line: 15, Spec: &inventory.Config{File: "/etc/strata/inventory.yml"}},
		},
		Prometheus: Prometheus{URL: "http://prometheus:9090", RemoteWrite: "http://prometheus:9090/api/v1/write"},
		Topology:   defaultTopology(),
		Global:     Global{EvaluationInterval: DefaultEvaluationInterval},
		Dir:        "/etc/strata",
		Lifecycle:  &lifecycle.Policy{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseFull(t *testing.T) {
	got, err := Parse("/etc/strata/strata.yml", readTestdata(t, "full.yml"), providers())
	if err != nil {
		t.Fatal(err)
	}
	scrape := got.ScrapeConfigs
	got.ScrapeConfigs = nil
	want := &Config{
		Sources: []Source{
			{Type: "haproxy", Name: "edge", Line: 3, Spec: &haproxy.Config{StatsURL: "http://127.0.0.1:8404/stats;csv", Host: "node-1", Timeout: 2 * time.Second}},
			{Type: "haproxy", Name: "edge-tcp", Line: 8, Spec: &haproxy.Config{RuntimeAPI: "tcp://127.0.0.1:9999", Timeout: 5 * time.Second}},
			{Type: "caddy", Name: "caddy", Line: 11, Spec: &caddy.Config{AdminURL: "https://caddy.internal:2019", Host: "node-2", Timeout: 1500 * time.Millisecond}},
			{Type: "nginx", Name: "nginx", Line: 15, Spec: &nginx.Config{ConfigFile: "/etc/strata/nginx/nginx.conf", UseNginxT: true, Host: "node-3"}},
			{Type: "kubernetes", Name: "prod", Line: 19, Spec: &kubernetes.Config{Kubeconfig: "/etc/kube/config"}},
			{Type: "inventory", Name: "cmdb", Line: 22, Spec: &inventory.Config{File: "/srv/cmdb/inventory.yml"}},
		},
		Prometheus: Prometheus{URL: "https://prometheus.internal:9090/", RemoteWrite: "https://prometheus.internal:9090/api/v1/write", RemoteWriteExporters: true},
		Topology:   Topology{RefreshInterval: 30 * time.Second, StaleAfter: 10 * time.Minute, LabelAllowlist: []string{"app", "team", "cost_center"}},
		Global:     Global{EvaluationInterval: DefaultEvaluationInterval},
		Dir:        "/etc/strata",
		Lifecycle:  &lifecycle.Policy{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}

	// The scrape configs stand alone, aliases expanded, ready to go under a scrape_configs key.
	var doc map[string]any
	if err := yaml.Unmarshal([]byte("scrape_configs:\n"+indent(string(scrape))), &doc); err != nil {
		t.Fatalf("ScrapeConfigs is not YAML: %v\n%s", err, scrape)
	}
	wantDoc := map[string]any{"scrape_configs": []any{
		map[string]any{
			"job_name": "strata-exporter", "scrape_interval": "15s",
			"static_configs": []any{map[string]any{"targets": []any{"node-1:9731", "node-2:9731"}, "labels": map[string]any{"env": "prod"}}},
		},
		map[string]any{
			"job_name": "node", "scrape_interval": "15s",
			"static_configs": []any{map[string]any{"targets": []any{"node-1:9100"}, "labels": map[string]any{"env": "prod"}}},
		},
	}}
	if diff := cmp.Diff(wantDoc, doc); diff != "" {
		t.Errorf("ScrapeConfigs (-want +got):\n%s", diff)
	}
	if strings.Contains(string(scrape), "&") || strings.Contains(string(scrape), "*") {
		t.Errorf("ScrapeConfigs keeps anchors or aliases:\n%s", scrape)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// TestScrapeConfigsBlock: a flow list comes out as a block list, so that the caller can put
// its own entries (strata up's scrape of its exporter) in front.
func TestScrapeConfigsBlock(t *testing.T) {
	c, err := Parse("strata.yml", []byte("scrape_configs: [{job_name: node, static_configs: [{targets: [\"a:9100\"]}]}]\n"), providers())
	if err != nil {
		t.Fatal(err)
	}
	want := "- {job_name: node, static_configs: [{targets: [\"a:9100\"]}]}\n"
	if string(c.ScrapeConfigs) != want {
		t.Errorf("ScrapeConfigs =\n%s\nwant\n%s", c.ScrapeConfigs, want)
	}
}

func TestDefaults(t *testing.T) {
	for _, in := range []string{"", "# strata up needs no configuration\n", "topology:\n", "topology: {label_allowlist: }\n", "scrape_configs: []\n"} {
		got, err := Parse("strata.yml", []byte(in), providers())
		if err != nil {
			t.Errorf("Parse(%q, providers()): %v", in, err)
			continue
		}
		if diff := cmp.Diff(&Config{Topology: defaultTopology(), Global: Global{EvaluationInterval: DefaultEvaluationInterval}, Dir: ".",
			Lifecycle: &lifecycle.Policy{}}, got); diff != "" {
			t.Errorf("Parse(%q, providers()) (-want +got):\n%s", in, diff)
		}
	}

	got, err := Parse("strata.yml", []byte("sources: [{type: haproxy, runtime_api: \"unix:///s\"}, {type: caddy}, {type: nginx}, {type: kubernetes}]\n"), providers())
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Type: "haproxy", Name: "haproxy", Line: 1, Spec: &haproxy.Config{RuntimeAPI: "unix:///s", Timeout: 5 * time.Second}},
		{Type: "caddy", Name: "caddy", Line: 1, Spec: &caddy.Config{AdminURL: "http://localhost:2019", Timeout: 5 * time.Second}},
		{Type: "nginx", Name: "nginx", Line: 1, Spec: &nginx.Config{ConfigFile: "/etc/nginx/nginx.conf"}},
		{Type: "kubernetes", Name: "kubernetes", Line: 1, Spec: &kubernetes.Config{}},
	}
	if diff := cmp.Diff(want, got.Sources); diff != "" {
		t.Errorf("defaults of the sources (-want +got):\n%s", diff)
	}

	// An explicit empty allow-list copies no labels; it is not the default.
	got, err = Parse("strata.yml", []byte("topology: {label_allowlist: []}\n"), providers())
	if err != nil {
		t.Fatal(err)
	}
	if got.Topology.LabelAllowlist == nil || len(got.Topology.LabelAllowlist) != 0 {
		t.Errorf("label_allowlist: [] = %#v, want an empty list", got.Topology.LabelAllowlist)
	}
}

func TestRelativePaths(t *testing.T) {
	t.Setenv("HOME", "/home/sre")
	in := []byte(`sources:
  - {type: inventory, name: a, file: inventory.yml}
  - {type: inventory, name: b, file: ./sub/../inv.yml}
  - {type: inventory, name: c, file: ../shared/inventory.yml}
  - {type: inventory, name: d, file: /abs/inventory.yml}
  - {type: inventory, name: e, file: ~/inventory.yml}
  - {type: inventory, name: f, file: "~"}
  - {type: nginx, config: conf/nginx.conf}
  - {type: kubernetes, kubeconfig: kube.yml}
`)
	files := func(c *Config) []string {
		var out []string
		for _, s := range c.Sources {
			switch spec := s.Spec.(type) {
			case *inventory.Config:
				out = append(out, spec.File)
			case *nginx.Config:
				out = append(out, spec.ConfigFile)
			case *kubernetes.Config:
				out = append(out, spec.Kubeconfig)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"/etc/strata/strata.yml", []string{
			"/etc/strata/inventory.yml", "/etc/strata/inv.yml", "/etc/shared/inventory.yml", "/abs/inventory.yml",
			"/home/sre/inventory.yml", "/home/sre", "/etc/strata/conf/nginx.conf", "/etc/strata/kube.yml",
		}},
		{"strata.yml", []string{
			"inventory.yml", "inv.yml", "../shared/inventory.yml", "/abs/inventory.yml",
			"/home/sre/inventory.yml", "/home/sre", "conf/nginx.conf", "kube.yml",
		}},
		{"deploy/strata.yml", []string{
			"deploy/inventory.yml", "deploy/inv.yml", "shared/inventory.yml", "/abs/inventory.yml",
			"/home/sre/inventory.yml", "/home/sre", "deploy/conf/nginx.conf", "deploy/kube.yml",
		}},
	} {
		c, err := Parse(tc.name, in, providers())
		if err != nil {
			t.Fatalf("Parse(%s, providers()): %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, files(c)); diff != "" {
			t.Errorf("Parse(%s, providers()) paths (-want +got):\n%s", tc.name, diff)
		}
	}

	// Load makes them absolute, so that they stay right whatever the working directory.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "strata.yml"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	c, err := Load("etc/strata.yml", providers())
	if err != nil {
		t.Fatal(err)
	}
	if got := files(c)[0]; got != filepath.Join(dir, "etc", "inventory.yml") {
		t.Errorf("Load: inventory file %q, want %q", got, filepath.Join(dir, "etc", "inventory.yml"))
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yml"), providers()); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing, providers()) = %v, want a not-exist error", err)
	}
	path := filepath.Join(t.TempDir(), "strata.yml")
	if err := os.WriteFile(path, []byte("sources:\n  - type: nginix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + `:2: sources[0].type: unknown source type (want one of haproxy, caddy, nginx, kubernetes, inventory)`
	if _, err := Load(path, providers()); err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
}

// TestLoadBadRemoteWrite: a remote_write that is no http(s) URL stops strata check config and
// strata serve (both go through Load) at the file's line, before anything starts.
func TestLoadBadRemoteWrite(t *testing.T) {
	for _, tc := range []struct{ value, reason string }{
		{"prometheus:9090/api/v1/write", `want an http:// or https:// URL with a host`},
		{"ftp://prometheus:9090/api/v1/write", `want an http:// or https:// URL with a host`},
		{"http:///api/v1/write", `want an http:// or https:// URL with a host`},
		{"http://prometheus:99999/api/v1/write", `invalid port (want 1-65535)`},
	} {
		path := filepath.Join(t.TempDir(), "strata.yml")
		data := "# strata serve\nprometheus:\n  url: http://prometheus:9090\n  remote_write: " + tc.value + "\n"
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		want := path + ":4: prometheus.remote_write: " + tc.reason
		if _, err := Load(path, providers()); err == nil || err.Error() != want {
			t.Errorf("Load(remote_write: %s, providers()) = %v, want %s", tc.value, err, want)
		}
	}
}

// TestParseErrors has one row per mistake, each with the one message, line included, that it
// must produce.
func TestParseErrors(t *testing.T) {
	t.Setenv("HOME", "/home/sre")
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "the example of the brief",
			in: `sources:
  - type: caddy
    name: web

  - type: haproxy
    name: edge
    runtime_api: foo
`,
			want: `strata.yml:7: sources[1].runtime_api: want unix:///path or tcp://host:port`,
		},
		{
			name: "unknown top-level key",
			in:   "sources: []\nglobals: {}\n",
			want: `strata.yml:2: unknown field "globals" (want one of sources, scrape_configs, prometheus, topology, global, federation, auth, rule_files, alerting, lifecycle)`,
		},
		{
			name: "Prometheus's global block pasted",
			in:   "sources: []\nglobal: {scrape_interval: 15s}\n",
			want: `strata.yml:2: global: unknown field "scrape_interval" (want one of external_labels, evaluation_interval)`,
		},
		{
			name: "a rule file glob that is no glob",
			in:   "rule_files: ['rules/[a-']\n",
			want: `strata.yml:1: rule_files[0]: not a file glob: syntax error in pattern`,
		},
		{
			name: "alerting that is no mapping",
			in:   "alerting: [alertmanagers]\n",
			want: `strata.yml:1: alerting: want a mapping, in Prometheus's format, got a list`,
		},
		{
			name: "rules beside an external Prometheus",
			in:   "prometheus: {url: 'http://prometheus:9090'}\nrule_files: [a.yml]\n",
			want: `strata.yml:2: rule_files: strata evaluates rules over its embedded TSDB, which prometheus.url replaces for queries: load the rules into that Prometheus (its rule_files and alerting)`,
		},
		{
			name: "an evaluation interval below a second",
			in:   "global: {evaluation_interval: 100ms}\n",
			want: `strata.yml:1: global.evaluation_interval: at least 1s`,
		},
		{
			name: "an external label that is no label name",
			in:   "global:\n  external_labels:\n    cluster: eu-1\n    2region: eu\n",
			want: `strata.yml:4: global.external_labels: invalid label name "2region" (want letters, digits and _, not starting with a digit)`,
		},
		{
			name: "a global strata without a store",
			in:   "federation: {enabled: true}\n",
			want: `strata.yml:1: federation.enabled: a global strata reads every site from a shared store: set prometheus.url to its query API`,
		},
		{
			name: "a global strata with sources",
			in:   "prometheus: {url: 'http://thanos:10902'}\nsources: [{type: inventory, file: i.yml}]\nfederation: {enabled: true}\n",
			want: `strata.yml:3: federation.enabled: a global strata has no sources or scrape_configs of its own: they would be a site, give them to a site's strata`,
		},
		{
			name: "an external label without a value",
			in:   "global:\n  external_labels: {cluster: ''}\n",
			want: `strata.yml:2: global.external_labels: external label "cluster" has no value`,
		},
		{
			name: "an external label of Prometheus's own",
			in:   "global:\n  external_labels: {__name__: x}\n",
			want: `strata.yml:2: global.external_labels: label name "__name__" is reserved (names starting with __ are Prometheus's own)`,
		},
		{
			name: "document a list",
			in:   "- type: haproxy\n",
			want: `strata.yml:1: want a mapping, got a list`,
		},
		{
			name: "sources a mapping",
			in:   "sources:\n  edge: {type: haproxy}\n",
			want: `strata.yml:2: sources: want a list, got a mapping`,
		},
		{
			name: "source a string",
			in:   "sources:\n  - haproxy\n",
			want: `strata.yml:2: sources[0]: want a mapping with a type (one of haproxy, caddy, nginx, kubernetes, inventory), got a string`,
		},
		{
			name: "source empty",
			in:   "sources:\n  -\n",
			want: `strata.yml:2: sources[0]: want a mapping with a type (one of haproxy, caddy, nginx, kubernetes, inventory), got nothing`,
		},
		{
			name: "source without type",
			in:   "sources:\n  - name: edge\n    runtime_api: unix:///s\n",
			want: `strata.yml:2: sources[0].type: required (one of haproxy, caddy, nginx, kubernetes, inventory)`,
		},
		{
			name: "unknown source type",
			in:   "sources:\n  - name: edge\n    type: traefik\n    entrypoint: x\n",
			want: `strata.yml:3: sources[0].type: unknown source type (want one of haproxy, caddy, nginx, kubernetes, inventory)`,
		},
		{
			name: "source type a list",
			in:   "sources:\n  - type: [haproxy]\n",
			want: `strata.yml:2: sources[0].type: want a string, got a list`,
		},
		{
			name: "field of another type",
			in:   "sources:\n  - type: caddy\n    runtime_api: unix:///s\n",
			want: `strata.yml:3: sources[0]: unknown field "runtime_api" (want one of type, name, admin_url, host, timeout)`,
		},
		{
			name: "repeated key",
			in:   "sources:\n  - type: caddy\n    host: a\n    host: b\n",
			want: `strata.yml:4: sources[0].host: repeated key (first at line 3)`,
		},
		{
			name: "empty name",
			in:   "sources:\n  - type: caddy\n    name: \"\"\n",
			want: `strata.yml:3: sources[0].name: must not be empty (leave it out for the default)`,
		},
		{
			name: "two sources with one name",
			in:   "sources:\n  - {type: caddy, name: web}\n  - {type: nginx, name: web}\n",
			want: `strata.yml:3: sources[1].name: used twice (first at line 2)`,
		},
		{
			name: "a default name taken",
			in:   "sources:\n  - {type: caddy, name: nginx}\n  - {type: nginx}\n",
			want: `strata.yml:3: sources[1].name: required: the default, "nginx", is used at line 2`,
		},
		{
			name: "several of a type without names",
			in:   "sources:\n  - type: inventory\n    file: a.yml\n  - type: inventory\n    name: b\n    file: b.yml\n",
			want: `strata.yml:2: sources[0].name: required when there are several inventory sources`,
		},
		{
			name: "haproxy without an address",
			in:   "sources:\n  - type: haproxy\n    host: node-1\n",
			want: `strata.yml:2: sources[0]: want runtime_api (unix:///path or tcp://host:port) or stats_url`,
		},
		{
			name: "haproxy with both addresses",
			in:   "sources:\n  - type: haproxy\n    runtime_api: unix:///s\n    stats_url: http://127.0.0.1:8404/stats\n",
			want: `strata.yml:4: sources[0].stats_url: set runtime_api or stats_url, not both`,
		},
		{
			name: "runtime API relative socket",
			in:   "sources:\n  - type: haproxy\n    runtime_api: unix://admin.sock\n",
			want: `strata.yml:3: sources[0].runtime_api: want unix:///path or tcp://host:port`,
		},
		{
			name: "runtime API without port",
			in:   "sources:\n  - type: haproxy\n    runtime_api: tcp://127.0.0.1\n",
			want: `strata.yml:3: sources[0].runtime_api: want unix:///path or tcp://host:port`,
		},
		{
			name: "runtime API port out of range",
			in:   "sources:\n  - type: haproxy\n    runtime_api: tcp://127.0.0.1:70000\n",
			want: `strata.yml:3: sources[0].runtime_api: invalid port (want 1-65535)`,
		},
		{
			name: "stats URL without scheme",
			in:   "sources:\n  - type: haproxy\n    stats_url: 127.0.0.1:8404/stats\n",
			want: `strata.yml:3: sources[0].stats_url: want an http:// or https:// URL with a host`,
		},
		{
			name: "caddy admin URL",
			in:   "sources:\n  - type: caddy\n    admin_url: unix//run/caddy.sock\n",
			want: `strata.yml:3: sources[0].admin_url: want an http:// or https:// URL with a host`,
		},
		{
			name: "timeout without unit",
			in:   "sources:\n  - type: caddy\n    timeout: 5\n",
			want: `strata.yml:3: sources[0].timeout: want a positive duration such as 15s, 5m or 1h`,
		},
		{
			name: "timeout zero",
			in:   "sources:\n  - type: caddy\n    timeout: 0s\n",
			want: `strata.yml:3: sources[0].timeout: want a positive duration such as 15s, 5m or 1h`,
		},
		{
			name: "timeout longer than the refresh interval",
			in:   "sources:\n  - type: caddy\n    timeout: 20s\ntopology:\n  refresh_interval: 10s\n",
			want: `strata.yml:3: sources[0].timeout: 20s is longer than topology.refresh_interval (10s)`,
		},
		{
			name: "use_nginx_t not a bool",
			in:   "sources:\n  - type: nginx\n    use_nginx_t: yes\n",
			want: `strata.yml:3: sources[0].use_nginx_t: want true or false, got a string`,
		},
		{
			name: "nginx config a list",
			in:   "sources:\n  - type: nginx\n    config: [a, b]\n",
			want: `strata.yml:3: sources[0].config: want a string, got a list`,
		},
		{
			name: "inventory without file",
			in:   "sources:\n  - type: inventory\n    name: cmdb\n",
			want: `strata.yml:2: sources[0].file: required`,
		},
		{
			name: "~user",
			in:   "sources:\n  - type: kubernetes\n    kubeconfig: ~sre/.kube/config\n",
			want: `strata.yml:3: sources[0].kubeconfig: only ~ and ~/… are expanded, not ~user; write the full path`,
		},
		{
			name: "scrape_configs a mapping",
			in:   "scrape_configs:\n  job_name: node\n",
			want: `strata.yml:2: scrape_configs: want a list, got a mapping`,
		},
		{
			name: "scrape config a string",
			in:   "scrape_configs:\n  - node\n",
			want: `strata.yml:2: scrape_configs[0]: want a mapping (a Prometheus scrape config), got a string`,
		},
		{
			name: "scrape config without job_name",
			in:   "scrape_configs:\n  - job_name: a\n  - static_configs: [{targets: [\"a:9100\"]}]\n",
			want: `strata.yml:3: scrape_configs[1].job_name: required`,
		},
		{
			name: "scrape config with an empty job_name",
			in:   "scrape_configs:\n  - job_name: \"\"\n",
			want: `strata.yml:2: scrape_configs[0].job_name: must not be empty`,
		},
		{
			name: "two scrape configs with one job_name",
			in:   "scrape_configs:\n  - job_name: node\n  - job_name: node\n",
			want: `strata.yml:3: scrape_configs[1].job_name: used twice (first at line 2)`,
		},
		{
			name: "prometheus URL without scheme",
			in:   "prometheus:\n  url: prometheus:9090\n",
			want: `strata.yml:2: prometheus.url: want an http:// or https:// URL with a host`,
		},
		{
			name: "remote_write not a URL",
			in:   "prometheus:\n  remote_write: \"http://[::1\"\n",
			want: `strata.yml:2: prometheus.remote_write: want an http:// or https:// URL with a host`,
		},
		{
			name: "remote_write port",
			in:   "prometheus:\n  remote_write: http://p:0/api/v1/write\n",
			want: `strata.yml:2: prometheus.remote_write: invalid port (want 1-65535)`,
		},
		{
			name: "unknown prometheus key",
			in:   "prometheus:\n  remote_read: http://p:9090\n",
			want: `strata.yml:2: prometheus: unknown field "remote_read" (want one of url, remote_write, remote_write_exporters)`,
		},
		{
			name: "remote_write_exporters without remote_write",
			in:   "prometheus:\n  url: http://p:9090\n  remote_write_exporters: true\n",
			want: `strata.yml:2: prometheus.remote_write_exporters: sends the exporters' series by remote write: set prometheus.remote_write too`,
		},
		{
			name: "remote_write_exporters not a bool",
			in:   "prometheus:\n  remote_write: http://p:9090/api/v1/write\n  remote_write_exporters: yes please\n",
			want: `strata.yml:3: prometheus.remote_write_exporters: want true or false, got a string`,
		},
		{
			name: "refresh_interval a number",
			in:   "topology:\n  refresh_interval: 15\n",
			want: `strata.yml:2: topology.refresh_interval: want a positive duration such as 15s, 5m or 1h`,
		},
		{
			name: "stale_after shorter than refresh_interval",
			in:   "topology:\n  refresh_interval: 1m\n  stale_after: 30s\n",
			want: `strata.yml:3: topology.stale_after: stale_after (30s) must not be shorter than refresh_interval (1m)`,
		},
		{
			name: "refresh_interval longer than the default stale_after",
			in:   "topology:\n  refresh_interval: 10m\n",
			want: `strata.yml:2: topology.refresh_interval: stale_after (5m) must not be shorter than refresh_interval (10m)`,
		},
		{
			name: "label_allowlist a string",
			in:   "topology:\n  label_allowlist: app,team\n",
			want: `strata.yml:2: topology.label_allowlist: want a list, got a string`,
		},
		{
			name: "invalid label name",
			in:   "topology:\n  label_allowlist:\n    - app\n    - app.kubernetes.io/name\n",
			want: `strata.yml:4: topology.label_allowlist[1]: invalid label name "app.kubernetes.io/name" (want letters, digits and _, not starting with a digit)`,
		},
		{
			name: "reserved label name",
			in:   "topology:\n  label_allowlist: [__meta_x]\n",
			want: `strata.yml:2: topology.label_allowlist[0]: label name "__meta_x" is reserved (names starting with __ are Prometheus's own)`,
		},
		{
			name: "a label the scraper owns",
			in:   "topology:\n  label_allowlist: [instance]\n",
			want: `strata.yml:2: topology.label_allowlist[0]: "instance" cannot be copied into series: the scraper owns it`,
		},
		{
			name: "a label twice",
			in:   "topology:\n  label_allowlist:\n    - app\n    - app\n",
			want: `strata.yml:4: topology.label_allowlist[1]: used twice (first at line 3)`,
		},
		{
			name: "unknown topology key",
			in:   "topology:\n  refresh: 15s\n",
			want: `strata.yml:2: topology: unknown field "refresh" (want one of refresh_interval, stale_after, label_allowlist)`,
		},
		{
			name: "malformed YAML",
			in:   "sources:\n  - type: caddy\n   name: web\n",
			want: `strata.yml:2: did not find expected '-' indicator`, // where the list at fault starts
		},
		{
			name: "two documents",
			in:   "sources: []\n---\nsources: []\n",
			want: `strata.yml:2: more than one YAML document (remove the ---)`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("strata.yml", []byte(tc.in), providers())
			if err == nil {
				t.Fatalf("Parse: no error, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

// TestParseReportsEveryProblem: one run names every mistake, in line order, including those
// found once the whole file is read.
func TestParseReportsEveryProblem(t *testing.T) {
	in := `topology:
  refresh_interval: 10s
sources:
  - type: haproxy
    runtime_api: foo
    timeout: 1m
  - type: nginix
prometheus:
  url: prometheus:9090
`
	_, err := Parse("strata.yml", []byte(in), providers())
	want := []string{
		`strata.yml:5: sources[0].runtime_api: want unix:///path or tcp://host:port`,
		`strata.yml:6: sources[0].timeout: 1m is longer than topology.refresh_interval (10s)`,
		`strata.yml:7: sources[1].type: unknown source type (want one of haproxy, caddy, nginx, kubernetes, inventory)`,
		`strata.yml:9: prometheus.url: want an http:// or https:// URL with a host`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var e *strictyaml.Error
	if !errors.As(err, &e) || e.Line != 5 || e.Path != "sources[0].runtime_api" {
		t.Errorf("errors.As(*strictyaml.Error) = %+v", e)
	}
}

// providers are the source types these tests read: the server's.
func providers() []source.Provider {
	return []source.Provider{haproxy.Provider(), caddy.Provider(), nginx.Provider(), kubernetes.Provider(), inventory.Provider()}
}

// TestGlobal: global.external_labels, as Prometheus has it.
// TestRuleFiles: rule_files are globs resolved against the file's directory; without the key
// the shipped rules are meant, with an empty list none; alerting is kept as YAML for
// Prometheus's parser; the evaluation interval is Prometheus's unless set.
func TestRuleFiles(t *testing.T) {
	c, err := Parse("/etc/strata/strata.yml", []byte("rule_files: ['rules/*.yml', /srv/a.yml]\nglobal: {evaluation_interval: 30s}\n"+
		"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['am:9093']\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/etc/strata/rules/*.yml", "/srv/a.yml"}; !c.RuleFilesSet || !slices.Equal(c.RuleFiles, want) {
		t.Errorf("rule files %q (set %v), want %q", c.RuleFiles, c.RuleFilesSet, want)
	}
	if c.Global.EvaluationInterval != 30*time.Second {
		t.Errorf("evaluation interval %v", c.Global.EvaluationInterval)
	}
	if want := "alertmanagers:\n  - static_configs:\n      - targets: ['am:9093']\n"; string(c.Alerting) != want {
		t.Errorf("alerting %q, want %q", c.Alerting, want)
	}
	none, err := Parse("strata.yml", []byte("rule_files: []\n"), nil)
	if err != nil || !none.RuleFilesSet || len(none.RuleFiles) != 0 {
		t.Errorf("rule_files: [] → %q set %v, %v: want none, set", none.RuleFiles, none.RuleFilesSet, err)
	}
	def, err := Parse("strata.yml", []byte("sources: []\n"), nil)
	if err != nil || def.RuleFilesSet || def.Global.EvaluationInterval != time.Minute || def.Alerting != nil {
		t.Errorf("no rule_files: set %v, interval %v, alerting %q, %v", def.RuleFilesSet, def.Global.EvaluationInterval, def.Alerting, err)
	}
}

func TestGlobal(t *testing.T) {
	c, err := Parse("strata.yml", []byte("global:\n  external_labels: {cluster: eu-1, region: eu}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"cluster": "eu-1", "region": "eu"}; !maps.Equal(c.Global.ExternalLabels, want) {
		t.Errorf("external labels %v, want %v", c.Global.ExternalLabels, want)
	}
}
