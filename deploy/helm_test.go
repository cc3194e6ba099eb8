package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/strata-obs/strata/internal/kubetest"
)

// helm runs the chart tool of tools/go.mod (Helm v4) and returns its standard output.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	return tool(t, "helm", args...)
}

// kustomize renders a kustomization with the tool of tools/go.mod, as `kubectl kustomize` does.
func kustomize(t *testing.T, dir string) string {
	t.Helper()
	return tool(t, "kustomize", "build", dir)
}

// tool runs a tool of tools/go.mod and returns its standard output.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=../tools/go.mod", name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// objects reads a stream of YAML documents into objects by kind/name.
func objects(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(stream))
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if o == nil {
			continue
		}
		meta, _ := o["metadata"].(map[string]any)
		out[o["kind"].(string)+"/"+meta["name"].(string)] = o
	}
}

// helmOnly are the labels the chart adds to the kustomize base's: the release's and Helm's.
var helmOnly = []string{"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"}

// normalize takes away what only the chart says (its labels and selector terms, the config
// checksum that rolls the pod), and reads strata.yml of a ConfigMap as YAML, comments aside.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range helmOnly {
			delete(v, k)
		}
		delete(v, "checksum/config")
		for k, x := range v {
			if s, ok := x.(string); ok && k == "strata.yml" {
				var doc any
				if yaml.Unmarshal([]byte(s), &doc) == nil {
					v[k] = doc
				}
				continue
			}
			v[k] = normalize(x)
		}
		if a, ok := v["annotations"].(map[string]any); ok && len(a) == 0 {
			delete(v, "annotations")
		}
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	}
	return v
}

// TestHelmChart: the chart (deploy/helm/strata) lints clean, deploys with its defaults exactly
// what the kustomize base deploys (every object and field but the chart's own labels; Helm
// makes no namespace), applies on a real API server, and its ServiceAccount can do exactly
// what the Kubernetes source needs; the monitoring objects carry the shipped rules and every
// dashboard, labelled for Grafana's sidecar.
func TestHelmChart(t *testing.T) {
	if out := helm(t, "lint", "--strict", "helm/strata"); !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") || strings.Contains(out, "[WARNING]") {
		t.Errorf("helm lint --strict:\n%s", out)
	}
	rendered := helm(t, "template", "strata", "helm/strata", "--namespace", "strata")

	cluster := kubetest.Start(t)
	want, got := objects(t, kustomize(t, "kubernetes")), objects(t, rendered)
	delete(want, "Namespace/strata")
	for _, o := range []map[string]map[string]any{want, got} {
		for k := range o {
			o[k] = normalize(o[k]).(map[string]any)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the chart's defaults and the kustomize base (-kustomize +helm):\n%s", diff)
	}

	ctx := context.Background()
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "strata"}},
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the namespace: %v", err)
	}
	for _, dryRun := range []bool{true, false} {
		applied, err := cluster.Apply(ctx, rendered, dryRun)
		if err != nil {
			t.Fatalf("apply the chart (server dry run: %v): %v", dryRun, err)
		}
		if len(applied) != len(got) {
			t.Errorf("applied %d objects of the chart's %d (server dry run: %v): %v", len(applied), len(got), dryRun, applied)
		}
	}
	checkLeastPrivilege(t, cluster, "strata")

	// The monitoring objects: the shipped rules as they are, every dashboard.
	monitoring := objects(t, helm(t, "template", "strata", "helm/strata", "--namespace", "strata",
		"--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true,dashboards.enabled=true"))
	var rules map[string]any
	raw, err := os.ReadFile("../dashboards/rules/strata.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	if rule := monitoring["PrometheusRule/strata"]; rule == nil || !reflect.DeepEqual(rule["spec"], rules) {
		t.Errorf("the PrometheusRule's spec is not dashboards/rules/strata.rules.yml")
	}
	for _, sm := range []string{"ServiceMonitor/strata", "ServiceMonitor/strata-exporter"} {
		if monitoring[sm] == nil {
			t.Errorf("no %s", sm)
		}
	}
	dashboards, _ := filepath.Glob("../dashboards/json/*.json")
	if len(dashboards) == 0 {
		t.Fatal("no dashboards")
	}
	for _, d := range dashboards {
		name := filepath.Base(d)
		cm := monitoring["ConfigMap/strata-dashboard-"+strings.TrimSuffix(name, ".json")]
		if cm == nil {
			t.Errorf("no ConfigMap of %s (deploy/helm/strata/files/dashboards needs a link to it)", name)
			continue
		}
		content, _ := os.ReadFile(d)
		data, _ := cm["data"].(map[string]any)
		labels, _ := cm["metadata"].(map[string]any)["labels"].(map[string]any)
		if strings.TrimSpace(data[name].(string)) != strings.TrimSpace(string(content)) || labels["grafana_dashboard"] != "1" {
			t.Errorf("ConfigMap of %s: not the dashboard, or not labelled grafana_dashboard: \"1\"", name)
		}
	}
	if n := len(slices.Collect(func(yield func(string) bool) {
		for k := range monitoring {
			if strings.HasPrefix(k, "ConfigMap/strata-dashboard-") && !yield(k) {
				return
			}
		}
	})); n != len(dashboards) {
		t.Errorf("%d dashboard ConfigMaps for %d dashboards", n, len(dashboards))
	}
}
