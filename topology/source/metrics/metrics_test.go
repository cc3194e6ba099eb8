package metrics

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/source"
)

// sourceOver appends samples to a fresh embedded TSDB.
func sourceOver(t *testing.T, at time.Time, samples map[string]float64) *Source {
	t.Helper()
	db, err := store.Open(store.Options{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := db.Appender(context.Background())
	for text, v := range samples {
		ls, err := parseSeries(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if _, err := app.Append(0, ls, at.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return New("metrics", db, 5*time.Minute)
}

func parseSeries(s string) (labels.Labels, error) { return store.ParseSeries(s) }

func TestExporterNodeExporterAndKSM(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const cid = "7ce47e9eb076f0ee2bf0143b93e8b04101fcda906a9c33d66ac2d895a43c19a6"
	src := sourceOver(t, at, map[string]float64{
		`strata_host_info{job="strata",instance="10.0.3.17:9731",host="node-17",hostname="node-17",kernel_release="6.1.0-15-amd64",os_image="Flatcar 3815.2.1",os_id="flatcar",machine_id="17171717171717171717171717171717",kernels_installed="6.1.0-15-amd64,6.1.0-18-amd64",reboot_required="true",kernel_build_date="2023-12-04"}`: 1,
		`strata_host_os_info{job="strata",instance="10.0.3.17:9731",host="node-17",id="flatcar",support_end="2025-12-31"}`:                                                                                1,
		`strata_host_reboot_required_since_timestamp_seconds{job="strata",instance="10.0.3.17:9731",host="node-17"}`:                                                                                      1.7486064e+09,
		`strata_host_hardware_info{job="strata",instance="10.0.3.17:9731",host="node-17",product_name="PowerEdge R640",virtualization="none"}`:                                                            1,
		`strata_host_address_info{job="strata",instance="10.0.3.17:9731",host="node-17",device="eno1",address="10.0.3.17"}`:                                                                               1,
		`strata_host_memory_bytes{job="strata",instance="10.0.3.17:9731",host="node-17"}`:                                                                                                                 2.7e11,
		`strata_container_info{job="strata",instance="10.0.3.17:9731",host="node-17",container_id="` + cid + `",name="web",image="nginx:1.25",runtime="podman"}`:                                          1,
		`strata_container_port_info{job="strata",instance="10.0.3.17:9731",host="node-17",container_id="` + cid + `",protocol="tcp",host_ip="0.0.0.0",host_port="8080",container_port="80"}`:              1,
		`strata_container_image_created_timestamp_seconds{job="strata",instance="10.0.3.17:9731",host="node-17",container_id="` + cid + `"}`:                                                              1.7296191e+09,
		`strata_listener_info{job="strata",instance="10.0.3.17:9731",host="node-17",address="0.0.0.0",port="22",pid="1142",comm="sshd",container_id="",netns=""}`:                                         1,
		`node_uname_info{job="node",instance="10.0.3.18:9100",nodename="node-18",release="5.15.0-91-generic",version="#101-Ubuntu",machine="x86_64",sysname="Linux"}`:                                     1,
		`node_os_info{job="node",instance="10.0.3.18:9100",id="ubuntu",version_id="22.04",pretty_name="Ubuntu 22.04.3 LTS"}`:                                                                              1,
		`kube_node_info{job="ksm",instance="ksm:8080",node="node-18",kernel_version="5.15.0-90-generic",os_image="Ubuntu 22.04.2 LTS",internal_ip="10.0.3.18",system_uuid="EC2B0E6A-1234"}`:               1,
		`kube_pod_info{job="ksm",instance="ksm:8080",namespace="shop",pod="web-0",uid="u-1",node="node-18",pod_ip="10.244.1.7",host_network="false",created_by_kind="StatefulSet",created_by_name="web"}`: 1,
		`kube_pod_status_phase{job="ksm",instance="ksm:8080",namespace="shop",pod="web-0",phase="Running"}`:                                                                                               1,
		`kube_pod_status_phase{job="ksm",instance="ksm:8080",namespace="shop",pod="web-0",phase="Pending"}`:                                                                                               0,
		`kube_pod_labels{job="ksm",instance="ksm:8080",namespace="shop",pod="web-0",label_app="web",label_team="payments"}`:                                                                               1,
		`kube_pod_container_info{job="ksm",instance="ksm:8080",namespace="shop",pod="web-0",uid="u-1",container="app",container_id="containerd://abcdef",image="web:2",image_id="sha256:1"}`:              1,
	})
	fs, err := src.ListFacts(context.Background(), at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := &source.FactSet{
		Hosts: []source.Host{
			{Origin: source.OriginExporter, Name: "node-17", Hostname: "node-17", MachineID: "17171717171717171717171717171717",
				Addresses: []string{"10.0.3.17"}, Labels: map[string]string{},
				Attrs: map[string]string{"kernel_release": "6.1.0-15-amd64", "os_image": "Flatcar 3815.2.1", "os_id": "flatcar",
					"kernels_installed": "6.1.0-15-amd64,6.1.0-18-amd64", "reboot_required": "true", "kernel_build_date": "2023-12-04",
					"support_end": "2025-12-31", "reboot_required_since": "2025-05-30T12:00:00Z",
					"product_name": "PowerEdge R640", "virtualization": "none", "memory_bytes": "270000000000"}},
			{Origin: source.OriginNodeExporter, Name: "node-18", Hostname: "node-18", Addresses: []string{"10.0.3.18"}, Labels: map[string]string{},
				Attrs: map[string]string{"kernel_release": "5.15.0-91-generic", "kernel_version": "#101-Ubuntu", "arch": "x86_64",
					"os_id": "ubuntu", "os_version_id": "22.04", "os_image": "Ubuntu 22.04.3 LTS"}},
			{Origin: source.OriginKubeStateMetrics, Name: "node-18", SystemUUID: "EC2B0E6A-1234", Addresses: []string{"10.0.3.18"}, Labels: map[string]string{},
				Attrs: map[string]string{"kernel_release": "5.15.0-90-generic", "os_image": "Ubuntu 22.04.2 LTS"}},
		},
		Containers: []source.Container{
			{Origin: source.OriginExporter, Host: "node-17", ID: cid, Name: "web", Image: "nginx:1.25", Runtime: "podman", Labels: map[string]string{},
				ImageCreated: time.Date(2024, 10, 22, 17, 45, 0, 0, time.UTC),
				Ports:        []source.Port{{Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80}}},
			{Origin: source.OriginKubeStateMetrics, Host: "node-18", ID: "abcdef", Name: "app", Image: "web:2", ImageID: "sha256:1", Runtime: "containerd",
				Pod: "web-0", Namespace: "shop", PodUID: "u-1", Labels: map[string]string{}},
		},
		Listeners: []source.Listener{{Host: "node-17", Address: "0.0.0.0", Port: 22, PID: 1142, Comm: "sshd"}},
		Pods: []source.Pod{{Origin: source.OriginKubeStateMetrics, Namespace: "shop", Name: "web-0", UID: "u-1", Node: "node-18",
			IPs: []string{"10.244.1.7"}, Phase: "Running", Owner: "StatefulSet/web", Labels: map[string]string{"app": "web", "team": "payments"}}},
	}
	// The two node-18 hosts come in origin order; sort the same way for the comparison.
	if diff := cmp.Diff(want, fs); diff != "" {
		t.Errorf("facts differ (-want +got):\n%s", diff)
	}

	// Five minutes after the last sample, nothing is alive any more.
	later, err := src.ListFacts(context.Background(), at.Add(6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(later.Hosts)+len(later.Containers)+len(later.Pods) != 0 {
		t.Errorf("facts outlived the lookback: %+v", later)
	}
}

// TestStaleMarker: a series ended by a staleness marker (its target vanished) is gone at once.
func TestStaleMarker(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	db, err := store.Open(store.Options{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ls := labels.FromStrings("__name__", "node_uname_info", "job", "node", "instance", "10.0.0.1:9100", "nodename", "gone", "release", "6.1")
	app := db.Appender(context.Background())
	if _, err := app.Append(0, ls, at.UnixMilli(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, ls, at.Add(15*time.Second).UnixMilli(), math.Float64frombits(value.StaleNaN)); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	src := New("metrics", db, 5*time.Minute)
	before, _ := src.ListFacts(context.Background(), at.Add(5*time.Second))
	after, _ := src.ListFacts(context.Background(), at.Add(20*time.Second))
	if len(before.Hosts) != 1 || len(after.Hosts) != 0 {
		t.Errorf("hosts before the marker %d (want 1), after %d (want 0)", len(before.Hosts), len(after.Hosts))
	}
}
