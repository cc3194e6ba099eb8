package server_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/store/storetest"
	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/lifecycle"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/metrics"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// fixtureHosts are strata-exporter's fixture hosts (exporter/collector/testdata, what the
// exporter reports of each in its golden file) and the address an LB reaches each at.
var fixtureHosts = map[string]string{
	"docker-v1":         "203.0.113.10", // Debian 12: past its support end in 2029
	"cloudvm":           "172.31.20.5",  // Ubuntu 24.04: within 90 days of its end on 2029-04-01
	"k8s-containerd-v2": "10.0.3.23",    // Flatcar, without SUPPORT_END: unknown
	"baremetal":         "10.0.3.17",    // Rocky 10 with a newer kernel installed than it runs
	"broken":            "192.168.1.50", // an os-release strata-exporter could not read
}

// TestLifecycleOfFixtureHosts: the exporter's series of its fixture hosts, scraped as they are
// into the store, read by the metrics source and held to the shipped data and a policy on
// 2029-04-01: each host's status and reason per rule is what the data says (the golden file),
// and from the LB, the hosts whose lifecycle is fail are exactly those with a failing status.
func TestLifecycleOfFixtureHosts(t *testing.T) {
	now := time.Date(2029, 4, 1, 12, 0, 0, 0, time.UTC)
	db := storetest.Open(t, t.TempDir())
	app := db.Appender(context.Background())
	var instances []source.Instance
	for name, addr := range fixtureHosts {
		f, err := os.Open(filepath.Join("..", "exporter", "collector", "testdata", name+".metrics"))
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.metrics: %v", name, err)
		}
		for _, fam := range fams {
			for _, m := range fam.GetMetric() {
				b := labels.NewBuilder(labels.FromStrings(model.MetricNameLabel, fam.GetName(), "job", "strata", "instance", addr+":9731"))
				for _, l := range m.GetLabel() {
					b.Set(l.GetName(), l.GetValue())
				}
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
				if _, err := app.Append(0, b.Labels(), now.UnixMilli(), v); err != nil {
					t.Fatal(err)
				}
			}
		}
		instances = append(instances, source.Instance{Name: name, Address: addr, Port: 8080, Health: source.HealthUp, Position: len(instances)})
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(instances, func(i, j int) bool { return instances[i].Name < instances[j].Name })
	r := topology.NewRefresher(topology.RefresherOptions{
		LBSources:   []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: []source.LB{{Name: "edge", Provider: "haproxy", Services: []source.Service{{Name: "app", Instances: instances}}}}}},
		FactSources: []source.Facts{metrics.New("metrics", db, 5*time.Minute)},
		Now:         func() time.Time { return now },
		Lifecycle: &lifecycle.Policy{Rules: []lifecycle.Rule{
			{Name: "min-kernel", OSID: "debian", OSVersionID: "12", MinKernel: "6.1.0-28"},
			{Name: "bad-kernel", KernelRelease: regexp.MustCompile(`6\.6\.54-flatcar`), Reason: "CVE-TEST-2"},
			{Name: "reboot-pending", MaxPending: 7 * 24 * time.Hour},
			{Name: "kernel-age", MaxKernelAge: 4 * 365 * 24 * time.Hour, State: lifecycle.Warn},
		}},
	}, slog.New(slog.DiscardHandler))
	g := r.Refresh(context.Background())

	var lines []string
	failing := map[string]bool{}
	for _, s := range r.Samples() {
		if s.Labels.Get(model.MetricNameLabel) != "strata_lifecycle_status" || s.Labels.Get("host") == "" {
			continue
		}
		host, state := s.Labels.Get("host"), s.Labels.Get("state")
		lines = append(lines, host+" "+s.Labels.Get("rule")+" "+state+": "+s.Labels.Get("reason"))
		if state == "fail" {
			failing[host] = true
		}
	}
	slices.Sort(lines)
	testenv.Golden(t, filepath.Join("testdata", "lifecycle-fixture-hosts.golden"), strings.Join(lines, "\n")+"\n")
	if want := len(fixtureHosts)*4 + 1; len(lines) != want { // min-kernel holds Debian 12 alone
		t.Errorf("%d statuses, want %d: support-end and 3 rules for each host, min-kernel for Debian 12", len(lines), want)
	}

	eng := &query.Engine{Graphs: staticGraph{g}, Limits: query.DefaultLimits}
	res, err := eng.Exec(context.Background(), `lb{name="edge"} -> host{lifecycle="fail"}`)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, row := range res.Rows {
		got = append(got, row[1])
	}
	for h := range failing {
		want = append(want, h)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) == 0 || len(want) == len(fixtureHosts) {
		t.Errorf("from the LB, the failing hosts: %v; the hosts with a failing status: %v (some, not all)", got, want)
	}
}
