package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/internal/thanostest"
	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// BenchmarkGlobalOverThanos: ten synthetic sites of 2,000 hosts each (the fleet generator's
// shapes, 200 LBs each, machines of their own) written by remote write into a real Thanos
// (three receivers, replication factor 2, a querier deduplicating them), then, side by side in
// one run: the global strata's refresh (every site's graph read through Thanos Query), and two
// questions asked both of strata's global graph and of Thanos directly in PromQL: the mission
// question for one site's service (the host, kernel and OS image under its first instance:
// through strata_topology_path_info, and as the four-family join a user without it would write)
// and the fleet's kernel mix, count by (cluster, kernel_release). The answers must agree.
func BenchmarkGlobalOverThanos(b *testing.B) {
	// A member takes seconds to start answering a family of 600,000 series here: the querier
	// must wait that long before it answers without it.
	st := thanostest.StartWith(b, 3, 2, thanostest.Options{ResponseTimeout: 2 * time.Minute})
	now := time.Now().Truncate(time.Second)
	const sites = 10
	var written int
	for site := range sites {
		facts, lbs := sourcetest.Sized(now, 2000, 200)
		for i := range facts.Hosts { // each site's machines its own (the generator numbers them alike)
			facts.Hosts[i].MachineID = fmt.Sprintf("%02d%030x", site, i+1)
		}
		cluster := fmt.Sprintf("site-%02d", site)
		r := topology.NewRefresher(topology.RefresherOptions{LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "lbs", LBs: lbs}},
			FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "facts", Set: facts}}, Now: func() time.Time { return now },
			ExternalLabels: labels.FromStrings(topology.ClusterLabel, cluster), Writer: cluster + "-strata:9730"}, slog.New(slog.DiscardHandler))
		r.Refresh(context.Background())
		series := r.Samples()
		sendSeries(b, st.Receivers[site%len(st.Receivers)].WriteURL, series, now.Add(-15*time.Second))
		written += len(series)
	}
	b.ReportMetric(float64(written), "series-written")
	b.Logf("%d series of %d sites written in %s", written, sites, time.Since(now).Round(time.Second))
	at := now.Add(time.Second)

	reader, err := store.QueryAPIReader(st.QueryURL, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	gl := &topology.Global{Store: reader, StaleAfter: 5 * time.Minute}
	r := topology.NewRefresher(topology.RefresherOptions{Global: gl.Graph, Timeout: 5 * time.Minute, Now: func() time.Time { return at }}, slog.New(slog.DiscardHandler))
	eng := &query.Engine{Graphs: graphs{r: r}, Limits: query.DefaultLimits}
	ctx := context.Background()

	const mission = `lb{cluster="site-03", name="lb-0042"} -> service{name="svc-3"} -> instance[0] -> host .name .kernel_release .os_image`
	const missionPath = `strata_topology_path_info{cluster="site-03", lb="lb-0042", service="svc-3", position="0"}`
	const missionJoin = `count by (cluster, host, kernel_release, os_image) (
	  (
	    (
	      label_replace(strata_topology_edge_info{cluster="site-03", from_kind="instance", to_kind="container"}, "container_id", "$1", "to", "(.*)")
	      * on (cluster, from) group_left ()
	      label_join(strata_topology_instance_info{cluster="site-03", lb="lb-0042", service="svc-3", position="0"}, "from", "/", "lb", "service", "server")
	    )
	    * on (cluster, container_id) group_left (host) strata_topology_container_info
	  )
	  * on (cluster, host) group_left (kernel_release, os_image) strata_topology_host_info
	)`
	const kernels = `host | count by (cluster, kernel_release)`
	const kernelsPromQL = `count by (cluster, kernel_release) (strata_topology_host_info)`

	var refreshes, missions, kernelCounts, missionPaths, missionJoins, kernelPromQLs []time.Duration
	timed := func(into *[]time.Duration, f func()) {
		start := time.Now()
		f()
		*into = append(*into, time.Since(start))
	}
	var missionRow, pathAnswer, joinAnswer []string
	var kernelRows map[string]string
	var kernelPromQL map[string]string
	b.ResetTimer()
	for range b.N {
		timed(&refreshes, func() {
			g := r.Refresh(ctx)
			if _, w := r.Graph(); g == nil || len(w) > 0 {
				b.Fatalf("global refresh: %v", w)
			}
		})
		for range 20 {
			timed(&missions, func() {
				res, err := eng.Exec(ctx, mission)
				if err != nil || len(res.Rows) != 1 {
					b.Fatalf("%s: %v %v", mission, res, err)
				}
				missionRow = res.Rows[0]
			})
		}
		for range 5 {
			timed(&kernelCounts, func() {
				res, err := eng.Exec(ctx, kernels)
				if err != nil {
					b.Fatal(err)
				}
				kernelRows = rowsByKey(res.Columns, res.Rows, "count")
			})
		}
		for range 5 {
			timed(&missionPaths, func() { pathAnswer = hostKernelOS(b, thanosQuery(b, st.QueryURL, missionPath, at)) })
			timed(&missionJoins, func() { joinAnswer = hostKernelOS(b, thanosQuery(b, st.QueryURL, missionJoin, at)) })
			timed(&kernelPromQLs, func() {
				kernelPromQL = map[string]string{}
				for _, s := range thanosQuery(b, st.QueryURL, kernelsPromQL, at) {
					kernelPromQL[string(s.Metric["cluster"])+" "+string(s.Metric["kernel_release"])] = s.Value.String()
				}
			})
		}
	}
	b.StopTimer()
	b.ReportMetric(p50(refreshes).Seconds(), "global-refresh-s")
	b.ReportMetric(float64(p50(missions).Microseconds()), "mission-strata-µs")
	b.ReportMetric(float64(p50(missionPaths).Microseconds()), "mission-thanos-path-info-µs")
	b.ReportMetric(float64(p50(missionJoins).Microseconds()), "mission-thanos-join-µs")
	b.ReportMetric(float64(p50(kernelCounts).Microseconds()), "kernels-strata-µs")
	b.ReportMetric(float64(p50(kernelPromQLs).Microseconds()), "kernels-thanos-µs")
	b.Logf("global refresh %s; mission: strata %s, Thanos path_info %s, Thanos join %s; kernel mix: strata %s, Thanos %s",
		p50(refreshes), p50(missions), p50(missionPaths), p50(missionJoins), p50(kernelCounts), p50(kernelPromQLs))
	// The global graph names a host by id, with its machine-id after a name other sites'
	// machines have too (node-00230~03000000): the name is the series' host label.
	if len(missionRow) != 5 || !slices.Equal(missionRow[2:], pathAnswer) || !slices.Equal(pathAnswer, joinAnswer) {
		b.Fatalf("strata %v, path_info on Thanos %v, the join on Thanos %v", missionRow, pathAnswer, joinAnswer)
	}
	if len(kernelRows) != 3*sites || fmt.Sprint(kernelRows) != fmt.Sprint(kernelPromQL) {
		b.Fatalf("kernel mix: strata %v, Thanos %v", kernelRows, kernelPromQL)
	}
}

// sendSeries sends series, one sample each at t, to a Thanos receiver in Prometheus's remote
// write protocol (1.0, through Prometheus's own write client), in requests of 10,000 series.
func sendSeries(b *testing.B, rawURL string, series []store.Sample, t time.Time) {
	b.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	client, err := remote.NewWriteClient("bench", &remote.ClientConfig{URL: &config_util.URL{URL: u}, Timeout: model.Duration(time.Minute)})
	if err != nil {
		b.Fatal(err)
	}
	for chunk := range slices.Chunk(series, 10_000) {
		req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(chunk))}
		for _, s := range chunk {
			ts := prompb.TimeSeries{Samples: []prompb.Sample{{Value: s.Value, Timestamp: t.UnixMilli()}}}
			s.Labels.Range(func(l labels.Label) { ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value}) })
			req.Timeseries = append(req.Timeseries, ts)
		}
		raw, err := req.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.Store(context.Background(), snappy.Encode(nil, raw), 0); err != nil {
			b.Fatalf("remote write to %s: %v", rawURL, err)
		}
	}
}

// thanosQuery is an instant query of Thanos Query's API, which must answer a vector.
func thanosQuery(b *testing.B, url, expr string, at time.Time) model.Vector {
	b.Helper()
	client, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		b.Fatal(err)
	}
	v, warnings, _, err := v1.NewAPI(client).Query(context.Background(), expr, at)
	if err != nil || len(warnings) > 0 {
		b.Fatalf("%s: %v %v", expr, warnings, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		b.Fatalf("%s: a %s, not a vector", expr, v.Type())
	}
	return vec
}

// hostKernelOS is the host, kernel and OS image of a one-series answer.
func hostKernelOS(b *testing.B, v model.Vector) []string {
	if len(v) != 1 {
		b.Fatalf("want one series, got %v", v)
	}
	m := v[0].Metric
	return []string{string(m["host"]), string(m["kernel_release"]), string(m["os_image"])}
}

// rowsByKey maps a table's rows, by their other columns, to the column named value.
func rowsByKey(columns []string, rows [][]string, value string) map[string]string {
	vi := slices.Index(columns, value)
	out := map[string]string{}
	for _, r := range rows {
		var key []string
		for i, c := range r {
			if i != vi {
				key = append(key, c)
			}
		}
		out[strings.Join(key, " ")] = r[vi]
	}
	return out
}
