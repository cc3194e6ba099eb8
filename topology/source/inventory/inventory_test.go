package inventory

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

func TestParseValid(t *testing.T) {
	f, err := os.Open("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Parse("inventory.yml", f)
	if err != nil {
		t.Fatal(err)
	}
	want := &Inventory{
		Hosts: []source.Host{
			{
				Origin:    source.OriginInventory,
				Name:      "node-17",
				Addresses: []string{"10.0.3.17", "2001:db8::17"},
				Labels:    map[string]string{"rack": "r12", "zone": "eu-1a"},
				Attrs: map[string]string{
					"kernel_release": "6.1.0-13-amd64",
					"os_image":       "Flatcar Container Linux 3815.2.0",
					"product_name":   "PowerEdge R640",
					"cpu_cores":      "32",
					"memory_bytes":   "68719476736",
				},
			},
			{
				Origin:    source.OriginInventory,
				Name:      "node-18",
				Addresses: []string{"10.0.3.18", "10.0.3.18:22"},
				Labels:    map[string]string{"rack": "r12", "zone": "eu-1a"}, // merged from node-17's
			},
			{Origin: source.OriginInventory, Name: "bare"},
		},
		LBs: []source.LB{
			{
				Name:      "edge",
				Provider:  "aws-alb",
				Addresses: []string{"203.0.113.10:443", "edge-123.eu-west-1.elb.amazonaws.com", "[2001:db8::10]:443"},
				Labels:    map[string]string{"env": "prod"},
				Services: []source.Service{
					{
						Name:   "c1ps",
						Labels: map[string]string{"team": "payments", "owner": "manthan"},
						Instances: []source.Instance{
							{Name: "c1ps-0", Address: "10.0.3.17", Port: 8080, Position: 0, Health: source.HealthUnknown},
							{Name: "c1ps-1", Address: "10.0.3.18", Port: 8080, Position: 1, Health: source.HealthUnknown, Host: "node-18"},
							{Name: "c1ps-2", Address: "2001:db8::19", Port: 8080, Position: 2, Health: source.HealthUnknown},
							{Name: "c1ps-3", Address: "c1ps-3.internal", Port: 8080, Position: 3, Health: source.HealthUnknown},
						},
					},
					{Name: "empty"},
				},
			},
			{Name: "cmdb-pool", Provider: "inventory"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "---\n", "~\n", "hosts:\nlbs:\n", "hosts: []\nlbs: []\n"} {
		got, err := Parse("inventory.yml", strings.NewReader(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if len(got.Hosts) != 0 || len(got.LBs) != 0 {
			t.Errorf("Parse(%q) = %+v, want nothing", in, got)
		}
	}
}

// TestParseErrors has one row per problem a user can make, each with the one message, line
// included, it must produce.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "the example of the brief",
			in: `lbs:
  - name: edge
    services:
      - name: a
        instances: []
      - name: c1ps
        instances:
          - name: c1ps-0
            address: 10.0.3.17:8080
          - {name: c1ps-1, address: "10.0.3.18:8080"}
          - name: c1ps-2
            address: 10.0.3.18
`,
			want: `inventory.yml:12: lbs[0].services[1].instances[2].address: no port: want host:port`,
		},
		{
			name: "unknown top-level key",
			in:   "hosts: []\nloadbalancers: []\n",
			want: `inventory.yml:2: unknown field "loadbalancers" (want one of hosts, lbs)`,
		},
		{
			name: "unknown host key",
			in:   "hosts:\n  - name: a\n    adresses: [10.0.0.1]\n",
			want: `inventory.yml:3: hosts[0]: unknown field "adresses" (want one of name, addresses, labels, facts)`,
		},
		{
			name: "repeated key",
			in:   "hosts:\n  - name: a\n    name: b\n",
			want: `inventory.yml:3: hosts[0].name: repeated key (first at line 2)`,
		},
		{
			name: "host without a name",
			in:   "hosts:\n  - name: a\n  - addresses: [10.0.0.1]\n",
			want: `inventory.yml:3: hosts[1].name: required`,
		},
		{
			name: "host with an empty name",
			in:   "hosts:\n  - name: \"\"\n",
			want: `inventory.yml:2: hosts[0].name: must not be empty`,
		},
		{
			name: "host with a null name",
			in:   "hosts:\n  - name:\n",
			want: `inventory.yml:2: hosts[0].name: must not be empty`,
		},
		{
			name: "two hosts with one name",
			in:   "hosts:\n  - name: a\n  - name: b\n  - name: a\n",
			want: `inventory.yml:4: hosts[2].name: used twice (first at line 2)`,
		},
		{
			name: "host address not an IP",
			in:   "hosts:\n  - name: a\n    addresses:\n      - 10.0.0.1\n      - 10.0.0.300\n",
			want: `inventory.yml:5: hosts[0].addresses[1]: want an IP address or IP:port (IPv6 in brackets)`,
		},
		{
			name: "host address with port 0",
			in:   "hosts:\n  - name: a\n    addresses: [\"10.0.0.1:0\"]\n",
			want: `inventory.yml:3: hosts[0].addresses[0]: want an IP address or IP:port (IPv6 in brackets)`,
		},
		{
			name: "host address a name",
			in:   "hosts:\n  - name: a\n    addresses: [node-1.example.com]\n",
			want: `inventory.yml:3: hosts[0].addresses[0]: want an IP address or IP:port (IPv6 in brackets)`,
		},
		{
			name: "addresses not a list",
			in:   "hosts:\n  - name: a\n    addresses: 10.0.0.1\n",
			want: `inventory.yml:3: hosts[0].addresses: want a list, got a string`,
		},
		{
			name: "address a list",
			in:   "hosts:\n  - name: a\n    addresses: [[10.0.0.1]]\n",
			want: `inventory.yml:3: hosts[0].addresses[0]: want a string, got a list`,
		},
		{
			name: "invalid label name",
			in:   "hosts:\n  - name: a\n    labels:\n      rack: r1\n      cost-center: c9\n",
			want: `inventory.yml:5: hosts[0].labels: invalid label name "cost-center" (want letters, digits and _, not starting with a digit)`,
		},
		{
			name: "reserved label name",
			in:   "lbs:\n  - name: a\n    labels: {__name__: x}\n",
			want: `inventory.yml:3: lbs[0].labels: label name "__name__" is reserved (names starting with __ are Prometheus's own)`,
		},
		{
			name: "label value a mapping",
			in:   "lbs:\n  - name: a\n    services:\n      - name: s\n        labels:\n          team: {name: x}\n",
			want: `inventory.yml:6: lbs[0].services[0].labels.team: want a string, got a mapping`,
		},
		{
			name: "labels a list",
			in:   "hosts:\n  - name: a\n    labels: [rack]\n",
			want: `inventory.yml:3: hosts[0].labels: want a mapping, got a list`,
		},
		{
			name: "unknown fact",
			in:   "hosts:\n  - name: a\n    facts:\n      kernel: 6.1\n",
			want: `inventory.yml:4: hosts[0].facts: unknown fact "kernel" (want one of kernel_release, kernel_version, arch, os_id, os_version_id, os_image, image_id, image_version, system_vendor, product_name, bios_vendor, bios_version, cpu_model, cpu_cores, memory_bytes, virtualization, cloud_provider, instance_type)`,
		},
		{
			name: "cpu_cores not a number",
			in:   "hosts:\n  - name: a\n    facts: {cpu_cores: 0}\n",
			want: `inventory.yml:3: hosts[0].facts: cpu_cores: want a whole number of at least 1`,
		},
		{
			name: "memory_bytes with a unit",
			in:   "hosts:\n  - name: a\n    facts: {memory_bytes: 64Gi}\n",
			want: `inventory.yml:3: hosts[0].facts: memory_bytes: want a whole number of bytes`,
		},
		{
			name: "lb without a name",
			in:   "lbs:\n  - provider: aws-alb\n",
			want: `inventory.yml:2: lbs[0].name: required`,
		},
		{
			name: "two lbs with one name",
			in:   "lbs:\n  - name: edge\n    provider: aws-alb\n  - name: edge\n    provider: haproxy\n",
			want: `inventory.yml:4: lbs[1].name: used twice (first at line 2)`,
		},
		{
			name: "lb address",
			in:   "lbs:\n  - name: edge\n    addresses: [\"edge:https\"]\n",
			want: `inventory.yml:3: lbs[0].addresses[0]: want an IP address or host name, optionally with :port`,
		},
		{
			name: "lb provider a list",
			in:   "lbs:\n  - name: edge\n    provider: [aws]\n",
			want: `inventory.yml:3: lbs[0].provider: want a string, got a list`,
		},
		{
			name: "service without a name",
			in:   "lbs:\n  - name: edge\n    services:\n      - labels: {team: a}\n",
			want: `inventory.yml:4: lbs[0].services[0].name: required`,
		},
		{
			name: "two services with one name in an lb",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n      - name: s\n",
			want: `inventory.yml:5: lbs[0].services[1].name: used twice (first at line 4)`,
		},
		{
			name: "unknown service key",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        backends: []\n",
			want: `inventory.yml:5: lbs[0].services[0]: unknown field "backends" (want one of name, labels, instances)`,
		},
		{
			name: "instance without a name",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {address: 10.0.0.1:80}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].name: required`,
		},
		{
			name: "instance without an address",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: required`,
		},
		{
			name: "two instances with one name in a service",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: 10.0.0.1:80}\n          - {name: s-0, address: 10.0.0.2:80}\n",
			want: `inventory.yml:7: lbs[0].services[0].instances[1].name: used twice (first at line 6)`,
		},
		{
			name: "IPv6 instance without brackets",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"2001:db8::1\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: no port (an IPv6 address goes in brackets, as in [2001:db8::1]:8080)`,
		},
		{
			name: "IPv6 instance in brackets without port",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"[2001:db8::1]\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: no port: want host:port`,
		},
		{
			name: "instance port a name",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"10.0.0.1:http\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: invalid port (want 1-65535)`,
		},
		{
			name: "instance port out of range",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"10.0.0.1:65536\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: invalid port (want 1-65535)`,
		},
		{
			name: "instance address a mistyped IP",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"10.0.0.256:80\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: the host is neither an IP address nor a host name`,
		},
		{
			name: "instance address garbage",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"a:b:c\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].address: want host:port (IPv6 in brackets, as in [2001:db8::1]:8080)`,
		},
		{
			name: "instance host empty",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"10.0.0.1:80\", host: \"\"}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0].host: must not be empty (leave it out to resolve the host by address)`,
		},
		{
			name: "instance labels are not part of the format",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          - {name: s-0, address: \"10.0.0.1:80\", labels: {a: b}}\n",
			want: `inventory.yml:6: lbs[0].services[0].instances[0]: unknown field "labels" (want one of name, address, host)`,
		},
		{
			name: "instances a mapping",
			in:   "lbs:\n  - name: edge\n    services:\n      - name: s\n        instances:\n          s-0: 10.0.0.1:80\n",
			want: `inventory.yml:6: lbs[0].services[0].instances: want a list, got a mapping`,
		},
		{
			name: "hosts a mapping",
			in:   "hosts:\n  node-1: {addresses: [10.0.0.1]}\n",
			want: `inventory.yml:2: hosts: want a list, got a mapping`,
		},
		{
			name: "document a list",
			in:   "- name: a\n",
			want: `inventory.yml:1: want a mapping, got a list`,
		},
		{
			name: "malformed YAML",
			in:   "hosts:\n  - name: a\n    addresses: [10.0.0.1\n  - name: b\n",
			want: `inventory.yml:3: did not find expected ',' or ']'`,
		},
		{
			name: "tab indentation",
			in:   "hosts:\n  - name: a\n\taddresses: []\n",
			want: `inventory.yml:3: found a tab character that violates indentation`,
		},
		{
			name: "two documents",
			in:   "hosts: []\n---\nlbs: []\n",
			want: `inventory.yml:2: more than one YAML document (remove the ---)`,
		},
		{
			name: "control character",
			in:   "hosts:\n  - name: a\x01\n",
			want: `inventory.yml:2: control characters are not allowed`,
		},
		{
			name: "invalid UTF-8",
			in:   "hosts:\n  - name: a\n  - name: \xff\n",
			want: `inventory.yml:3: invalid leading UTF-8 octet`,
		},
		{
			name: "a mapping that merges itself",
			in:   "hosts:\n  - name: a\n    labels: &x {<<: *x}\n",
			want: `inventory.yml:3: hosts[0].labels: << merges the mapping into itself`,
		},
		{
			name: "merge of a scalar",
			in:   "hosts:\n  - <<: 3\n    name: a\n",
			want: `inventory.yml:2: hosts[0]: << wants a mapping or a list of mappings, got a number`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("inventory.yml", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("Parse: no error, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

// TestParseReportsEveryProblem: one run names every mistake, in line order, so that fixing a
// file is one round trip.
func TestParseReportsEveryProblem(t *testing.T) {
	in := `lbs:
  - name: edge
    services:
      - name: s
        instances:
          - {name: s-0, address: 10.0.0.1}
hosts:
  - name: a
    facts: {kernel: x}
  - name: a
`
	_, err := Parse("inventory.yml", strings.NewReader(in))
	want := []string{
		`inventory.yml:6: lbs[0].services[0].instances[0].address: no port: want host:port`,
		`inventory.yml:9: hosts[0].facts: unknown fact "kernel" (want one of kernel_release, kernel_version, arch, os_id, os_version_id, os_image, image_id, image_version, system_vendor, product_name, bios_vendor, bios_version, cpu_model, cpu_cores, memory_bytes, virtualization, cloud_provider, instance_type)`,
		`inventory.yml:10: hosts[1].name: used twice (first at line 8)`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var e *strictyaml.Error
	if !errors.As(err, &e) || e.Line != 6 || e.Path != "lbs[0].services[0].instances[0].address" {
		t.Errorf("errors.As(*strictyaml.Error) = %+v", e)
	}
}

// TestParseAliasBomb: a few lines of anchors must not expand into billions of nodes, through
// lists (polynomial: lbs × services × instances) or merge keys (exponential).
func TestParseAliasBomb(t *testing.T) {
	repeat := func(s string, n int) string { return strings.Repeat(s, n) }
	lists := "lbs:\n  - &l\n    name: edge\n    services:\n      - &s\n        name: s\n        instances:\n" +
		"          - &i {name: i, address: \"10.0.0.1:80\"}\n" + repeat("          - *i\n", 299) +
		repeat("      - *s\n", 299) + repeat("  - *l\n", 299)

	merges := "hosts:\n  - name: h0\n    labels: &m0 {a: b}\n"
	for i := 1; i <= 9; i++ {
		merges += fmt.Sprintf("  - name: h%d\n    labels: &m%d {<<: [%s]}\n", i, i,
			strings.TrimSuffix(repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", "))
	}

	for name, in := range map[string]string{"lists": lists, "merges": merges} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("inventory.yml", strings.NewReader(in))
			if err == nil || !strings.Contains(err.Error(), "aliases expand to too many nodes") {
				t.Fatalf("Parse: %v, want the alias expansion stopped", err)
			}
		})
	}
}

// TestParseAliases: anchors, aliases and merge keys are YAML a user may write; they read as if
// expanded.
func TestParseAliases(t *testing.T) {
	in := `hosts:
  - name: a
    labels: &rack {rack: r1, zone: z1}
  - name: b
    labels:
      <<: *rack
      zone: z2
`
	inv, err := Parse("inventory.yml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rack": "r1", "zone": "z2"}
	if diff := cmp.Diff(want, inv.Hosts[1].Labels); diff != "" {
		t.Errorf("merged labels (-want +got):\n%s", diff)
	}
}

func TestInstanceAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"10.0.0.1:80", "10.0.0.1", 80},
		{"[2001:DB8::1]:443", "2001:db8::1", 443},
		{"[fe80::1%eth0]:8080", "fe80::1%eth0", 8080},
		{"web-1.internal:8080", "web-1.internal", 8080},
		{"localhost:1", "localhost", 1},
		{"a_b.example.com.:65535", "a_b.example.com.", 65535},
	} {
		host, port, err := instanceAddress(tc.in)
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("instanceAddress(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
		}
	}
	for _, in := range []string{"", ":80", "10.0.0.1", "10.0.0.1:", "-a:80", "a..b:80", "1.2.3:80", "x y:80", strings.Repeat("a", 64) + ":80"} {
		if _, _, err := instanceAddress(in); err == nil {
			t.Errorf("instanceAddress(%q): no error", in)
		}
	}
}
