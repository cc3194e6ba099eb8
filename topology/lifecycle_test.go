package topology

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// TestLifecycleOfHosts: each host gets its worst lifecycle state and its OS's support end as
// attributes, from its facts merged across sources; from the LB, the hosts whose state is
// fail are exactly those the policy fails; a reloaded policy applies from the next refresh.
func TestLifecycleOfHosts(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	host := func(name, addr string, attrs map[string]string) source.Host {
		return source.Host{Origin: source.OriginExporter, Name: name, Addresses: []string{addr}, Attrs: attrs}
	}
	facts := &source.FactSet{Hosts: []source.Host{
		host("old-debian", "10.0.0.1", map[string]string{"os_id": "debian", "os_version_id": "11", "kernel_release": "5.10.0-33-amd64", "reboot_required": "false"}),
		host("noble", "10.0.0.2", map[string]string{"os_id": "ubuntu", "os_version_id": "24.04", "kernel_release": "6.8.0-51-generic", "reboot_required": "false"}),
		host("flatcar", "10.0.0.3", map[string]string{"os_id": "flatcar", "os_version_id": "3975.2.2", "kernel_release": "6.6.54-flatcar", "reboot_required": "false"}),
		host("own-end", "10.0.0.4", map[string]string{"os_id": "fedora", "os_version_id": "43", "support_end": "2030-12-01", "kernel_release": "6.17.1",
			"reboot_required": "true", "reboot_required_since": "2026-11-20T00:00:00Z"}),
		// Two sources of one host: the OS from the exporter, the kernel only from kube-state-metrics.
		host("split", "10.0.0.5", map[string]string{"os_id": "ubuntu", "os_version_id": "24.04", "reboot_required": "false"}),
		{Origin: source.OriginKubeStateMetrics, Name: "split", Attrs: map[string]string{"kernel_release": "6.8.0-13-generic"}},
	}}
	var instances []source.Instance
	for i, addr := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"} {
		instances = append(instances, source.Instance{Name: "s" + string(rune('0'+i)), Address: addr, Port: 8080, Health: source.HealthUp})
	}
	lbs := []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "c1ps", Instances: instances}}}}
	opts := RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: lbs}},
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}},
		Now:         func() time.Time { return now },
		Lifecycle: &lifecycle.Policy{Rules: []lifecycle.Rule{
			{Name: "reboot-pending", MaxPending: 7 * 24 * time.Hour},
			{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`^6\.8\.0-13-generic$`), Reason: "CVE-2024-1086"},
		}}}
	r := NewRefresher(opts, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	g, _ := r.Graph()
	want := map[string][2]string{ // host → lifecycle, support_end
		"old-debian": {"fail", "2024-08-14"}, // past its support end
		"noble":      {"ok", "2029-05-31"},
		"flatcar":    {"unknown", ""},        // no data, no SUPPORT_END
		"own-end":    {"fail", "2030-12-01"}, // os-release's own end; a reboot pending 17 days
		"split":      {"fail", "2029-05-31"}, // the banned kernel, from the weaker source
	}
	for name, w := range want {
		e, ok := g.Get(graph.Ref{Kind: graph.Host, ID: name})
		if !ok {
			t.Errorf("no host %s", name)
			continue
		}
		if got := [2]string{e.Attrs.Get("lifecycle"), e.Attrs.Get("support_end")}; got != w {
			t.Errorf("host %s: lifecycle, support_end = %q, want %q", name, got, w)
		}
	}
	if got, want := failingUnder(t, g, "edge"), []string{"old-debian", "own-end", "split"}; !slices.Equal(got, want) {
		t.Errorf("from the LB, the hosts that fail: %v, want %v", got, want)
	}
	// The series: a status per host and rule, with its reason, and each known support end.
	statuses, ends := map[string]string{}, map[string]float64{}
	for _, s := range r.Samples() {
		switch s.Labels.Get("__name__") {
		case lifecycleStatusName:
			statuses[s.Labels.Get("host")+" "+s.Labels.Get("rule")] = s.Labels.Get("state") + ": " + s.Labels.Get("reason")
		case supportEndName:
			ends[s.Labels.Get("host")] = s.Value
		}
	}
	for key, want := range map[string]string{
		"old-debian support-end": "fail: support ended 2024-08-14 (os-support.csv (built in):",
		"old-debian bad-kernel":  "ok: ",
		"flatcar support-end":    "unknown: no support end known for flatcar 3975.2.2",
		"own-end support-end":    "ok: supported until 2030-12-01 (os-release SUPPORT_END)",
		"own-end reboot-pending": "fail: a reboot has been pending since 2026-11-20, more than 1w",
		"split bad-kernel":       "fail: kernel 6.8.0-13-generic is banned: CVE-2024-1086",
		"noble reboot-pending":   "ok: ",
	} {
		if got := statuses[key]; !strings.HasPrefix(got, want) {
			t.Errorf("strata_lifecycle_status of %s: %q, want %q…", key, got, want)
		}
	}
	if len(statuses) != 5*3 {
		t.Errorf("%d statuses, want 3 rules × 5 hosts: %v", len(statuses), statuses)
	}
	if want := float64(time.Date(2029, 5, 31, 0, 0, 0, 0, time.UTC).Unix()); ends["noble"] != want || len(ends) != 4 {
		t.Errorf("support ends %v, want noble's at %v and none for flatcar", ends, want)
	}

	// A reloaded policy without the rules: only the support end counts from the next refresh.
	r.SetLifecycle(&lifecycle.Policy{})
	r.Refresh(context.Background())
	g, _ = r.Graph()
	if got, want := failingUnder(t, g, "edge"), []string{"old-debian"}; !slices.Equal(got, want) {
		t.Errorf("after the reload, the hosts that fail: %v, want %v", got, want)
	}
}

// failingUnder is the hosts under an LB whose lifecycle is fail, by name.
func failingUnder(t *testing.T, g *graph.Graph, lb string) []string {
	t.Helper()
	from, ok := g.Get(graph.Ref{Kind: graph.LB, ID: "haproxy/" + lb})
	if !ok {
		t.Fatalf("no LB %s", lb)
	}
	var out []string
	if err := g.Walk(from, false, func(e *graph.Entity) (bool, error) {
		if e.Kind == graph.Host && e.Attrs.Get("lifecycle") == "fail" {
			out = append(out, e.ID)
		}
		return e.Kind != graph.Host, nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestLifecycleOfImages: an image built longer ago than max_image_age, or with a tag that is
// not allowed, fails; one whose build time no source says is unknown; each image gets its
// worst state as the lifecycle attribute and a status per image rule in the series.
func TestLifecycleOfImages(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	container := func(id, image string, built time.Time) source.Container {
		return source.Container{Origin: source.OriginExporter, Host: "h1", ID: strings.Repeat(id, 64), Image: image, ImageCreated: built}
	}
	facts := &source.FactSet{
		Hosts: []source.Host{{Origin: source.OriginExporter, Name: "h1", Addresses: []string{"10.0.0.1"}}},
		Containers: []source.Container{
			container("a", "registry.local/app:1.2", now.Add(-400*24*time.Hour)),
			container("b", "registry.local/app:1.3", now.Add(-30*24*time.Hour)),
			container("c", "registry.local/app:latest", now.Add(-24*time.Hour)),
			container("d", "registry.local/tool:2", time.Time{}),
		},
	}
	r := NewRefresher(RefresherOptions{
		FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}},
		Now:         func() time.Time { return now },
		Lifecycle: &lifecycle.Policy{Rules: []lifecycle.Rule{
			{Name: "image-age", MaxImageAge: 365 * 24 * time.Hour},
			{Name: "image-tag", Image: regexp.MustCompile(`^(?:.*:latest)$`), Reason: "untracked tag"},
		}}}, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	g, _ := r.Graph()
	for ref, want := range map[string][2]string{ // image → lifecycle, created
		"registry.local/app:1.2":    {"fail", now.Add(-400 * 24 * time.Hour).Format(time.RFC3339)},
		"registry.local/app:1.3":    {"ok", now.Add(-30 * 24 * time.Hour).Format(time.RFC3339)},
		"registry.local/app:latest": {"fail", now.Add(-24 * time.Hour).Format(time.RFC3339)},
		"registry.local/tool:2":     {"unknown", ""},
	} {
		e, ok := g.Get(graph.Ref{Kind: graph.Image, ID: ref})
		if !ok {
			t.Errorf("no image %s", ref)
			continue
		}
		if got := [2]string{e.Attrs.Get("lifecycle"), e.Attrs.Get("created")}; got != want {
			t.Errorf("image %s: lifecycle, created = %q, want %q", ref, got, want)
		}
	}
	statuses := map[string]string{}
	for _, s := range r.Samples() {
		if s.Labels.Get("__name__") == lifecycleStatusName && s.Labels.Get("image") != "" {
			statuses[s.Labels.Get("image")+" "+s.Labels.Get("rule")] = s.Labels.Get("state") + ": " + s.Labels.Get("reason")
		}
	}
	for key, want := range map[string]string{
		"registry.local/app:1.2 image-age":    "fail: image registry.local/app:1.2 was built 2025-11-02, more than 1y ago",
		"registry.local/app:latest image-tag": "fail: image registry.local/app:latest is not allowed: untracked tag",
		"registry.local/app:latest image-age": "ok: ",
		"registry.local/tool:2 image-age":     "unknown: when the image was built is not known",
	} {
		if got := statuses[key]; got != want {
			t.Errorf("strata_lifecycle_status of %s: %q, want %q", key, got, want)
		}
	}
	if len(statuses) != 4*2 {
		t.Errorf("%d image statuses, want 2 rules × 4 images: %v", len(statuses), statuses)
	}
}
