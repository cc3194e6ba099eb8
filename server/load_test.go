package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/sourcetest"
)

// TestLoadFleet is the load test of the hardening issue: 50 clients ask the mission question,
// PromQL and UI pages of a synthetic fleet over HTTP, as fast as they are answered, while
// one more client sends the worst queries of the probe; it stops by itself. Every healthy
// request must succeed; each worst query must be refused as its limit says. make test runs it
// on 2,000 hosts for 15 s; make bench on the 10,000 hosts of the design's targets for a minute
// (STRATA_LOAD_HOSTS, STRATA_LOAD_SECONDS) and reports the latencies.
func TestLoadFleet(t *testing.T) {
	hosts := envInt(t, "STRATA_LOAD_HOSTS", 2000)
	duration := time.Duration(envInt(t, "STRATA_LOAD_SECONDS", 15)) * time.Second
	const clients = 50
	lbs := max(1, hosts/10)

	now := time.Now()
	facts, lbList := sourcetest.Sized(now, hosts, lbs)
	addr := testenv.FreeAddr(t)
	addrs, systemd, webConfig := []string{addr}, false, ""
	a, err := New(context.Background(), Options{
		WebConfig:   &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig},
		StoragePath: t.TempDir(), RefreshInterval: 15 * time.Second,
		LBSources: []source.LoadBalancers{sourcetest.Static{SourceName: "fleet-lbs", LBs: lbList}}, FactSources: []source.Facts{sourcetest.StaticFacts{SourceName: "fleet-facts", Set: facts}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + addr
	testenv.Eventually(t, 5*time.Minute, "the fleet's first refresh", func() error {
		_, err := testenv.CheckHTTP(base+"/-/ready", http.StatusOK)
		return err
	})

	someLB := func(r *rand.Rand) string { return fmt.Sprintf("lb-%04d", r.IntN(lbs)) }
	type request struct {
		kind, path string
	}
	healthy := func(r *rand.Rand) request {
		lb, svc := someLB(r), fmt.Sprintf("svc-%d", r.IntN(sourcetest.ServicesPerLB))
		mission := fmt.Sprintf(`service{id="%s/%s"} -> instance[0] -> host .kernel_release .os_image`, lb, svc)
		switch n := r.IntN(100); {
		case n < 40:
			return request{"mission", "/api/v1/topology/query?q=" + url.QueryEscape(mission)}
		case n < 45:
			return request{"mission explained", "/api/v1/topology/query?explain=promql&q=" + url.QueryEscape(mission)}
		case n < 55:
			return request{"promql", "/api/v1/query?query=" + url.QueryEscape(fmt.Sprintf(`strata_topology_path_info{lb="%s", service="%s", position="0"}`, lb, svc))}
		case n < 62:
			return request{"promql", "/api/v1/query?query=" + url.QueryEscape(`count by (kernel_release) (strata_topology_host_info)`)}
		case n < 67:
			return request{"promql range", "/api/v1/query_range?step=15&start=" + strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10) +
				"&end=" + strconv.FormatInt(time.Now().Unix(), 10) + "&query=" + url.QueryEscape(`count(strata_topology_instance_info{health="UP"})`)}
		case n < 77:
			return request{"ui lb page", "/lb/haproxy/" + lb}
		case n < 85:
			return request{"ui entity page", fmt.Sprintf("/entity/host/node-%05d", r.IntN(hosts))}
		case n < 92:
			return request{"ui search", "/search?q=" + url.QueryEscape(mission)}
		case n < 95:
			return request{"ui fleet page", "/fleet"}
		default:
			return request{"graph", "/api/v1/topology/graph?q=" + url.QueryEscape(fmt.Sprintf(`lb{id="%s"} -> instance`, lb))}
		}
	}
	worst := []struct {
		name   string
		form   url.Values
		path   string
		status int
	}{
		{"600 KB projection", url.Values{"q": {testenv.WideProjection(200_000)}}, "/api/v1/topology/query", 422},
		{"20,000 matchers", url.Values{"q": {testenv.ManyMatchers("instance", 20_000)}}, "/api/v1/topology/query", 422},
		{"subquery of a day at 1 ms", url.Values{"query": {"max_over_time(vector(1)[1d:1ms])"}}, "/api/v1/query", 422},
		{"11,000 steps over every path", url.Values{"query": {"strata_topology_path_info"}, "step": {"0.001"},
			"start": {strconv.FormatFloat(float64(time.Now().Add(-11*time.Second).UnixMilli())/1000, 'f', 3, 64)},
			"end":   {strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64)}}, "/api/v1/query_range", 422},
		{"the whole graph", url.Values{}, "/api/v1/topology/graph", 422},
		{"2 MB form", url.Values{"query": {strings.Repeat("1+", 1_000_000) + "1"}}, "/api/v1/query", 400},
	}
	if hosts < 5000 {
		worst = slices.DeleteFunc(worst, func(w struct {
			name   string
			form   url.Values
			path   string
			status int
		}) bool {
			return w.name == "the whole graph" // fits the cell limit on a small fleet
		})
	}

	client := &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients + 1,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}}
	var (
		mu        sync.Mutex
		latencies = map[string][]time.Duration{}
		failures  []string
		worstGot  = map[string]map[int]int{}
	)
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 42))
			for time.Now().Before(deadline) {
				req := healthy(r)
				start := time.Now()
				resp, err := client.Get(base + req.path)
				took := time.Since(start)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, fmt.Sprintf("%s %s: %v", req.kind, req.path, err))
				case resp.StatusCode != http.StatusOK || (strings.HasPrefix(req.path, "/api/") && !strings.Contains(string(body), `"status":"success"`)):
					failures = append(failures, fmt.Sprintf("%s %s: %s %.200s", req.kind, req.path, resp.Status, body))
				default:
					latencies[req.kind] = append(latencies[req.kind], took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := 0; time.Now().Before(deadline); i++ {
			w := worst[i%len(worst)]
			resp, err := client.PostForm(base+w.path, w.form)
			mu.Lock()
			if worstGot[w.name] == nil {
				worstGot[w.name] = map[int]int{}
			}
			if err != nil {
				failures = append(failures, fmt.Sprintf("worst query %s: %v", w.name, err))
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				worstGot[w.name][resp.StatusCode]++
			}
			mu.Unlock()
		}
	})
	wg.Wait()

	total := 0
	kinds := make([]string, 0, len(latencies))
	for k, l := range latencies {
		kinds = append(kinds, k)
		total += len(l)
		slices.Sort(l)
	}
	slices.Sort(kinds)
	pct := func(l []time.Duration, p float64) time.Duration { return l[min(len(l)-1, int(float64(len(l))*p))] }
	t.Logf("load: %d hosts, %d instances, %d clients for %s: %d healthy requests answered (%.0f/s), %d failed",
		hosts, lbs*sourcetest.ServicesPerLB*sourcetest.InstancesPerService, clients, duration, total, float64(total)/duration.Seconds(), len(failures))
	for _, k := range kinds {
		l := latencies[k]
		t.Logf("load: %-18s %6d  p50 %8s  p99 %8s  max %8s", k, len(l), pct(l, .5).Round(100*time.Microsecond),
			pct(l, .99).Round(100*time.Microsecond), l[len(l)-1].Round(time.Millisecond))
	}
	for _, w := range worst {
		t.Logf("load: worst query %-28s answered %v", w.name, worstGot[w.name])
		for status := range worstGot[w.name] {
			if status != w.status {
				t.Errorf("worst query %s: answered %d, want %d", w.name, status, w.status)
			}
		}
	}
	for _, f := range failures[:min(len(failures), 20)] {
		t.Errorf("failed: %s", f)
	}
	if len(latencies["mission"]) == 0 {
		t.Error("no mission question answered")
	}
}

func envInt(t *testing.T, name string, otherwise int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return otherwise
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}
