package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
)

// TestThousandContainerHost checks, container by container, the scrape of the generated host
// with 1,000 containers that BenchmarkScrape1000Containers measures: every value follows from
// the generator (writeBenchHost), so the check is exact, not a count.
func TestThousandContainerHost(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 1,000-container host takes a few seconds to write")
	}
	dir := t.TempDir()
	if err := writeBenchHost(dir, benchContainers); err != nil {
		t.Fatal(err)
	}
	set := newFullSet(t, fixtureConfig(t, dir))
	metrics := set.Gather(t.Context(), "bench-01")
	for name, v := range collectorSuccesses(t, metrics) {
		if v != 1 {
			t.Errorf("collector %s fails on the generated host", name)
		}
	}
	type row = map[string]string
	series := map[string]map[string]row{}     // family → container_id → labels
	values := map[string]map[string]float64{} // family → container_id → value
	for _, mf := range gatherFamilies(t, metrics) {
		for _, m := range mf.GetMetric() {
			labels := row{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			id := labels["container_id"]
			if id == "" {
				continue
			}
			if series[mf.GetName()] == nil {
				series[mf.GetName()], values[mf.GetName()] = map[string]row{}, map[string]float64{}
			}
			series[mf.GetName()][id] = labels
			values[mf.GetName()][id] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for i := range benchContainers {
		sum := sha256.Sum256([]byte("bench/" + strconv.Itoa(i)))
		id := hex.EncodeToString(sum[:])
		info, ok := series[containerInfo.Name][id]
		if !ok {
			t.Errorf("container %d (%s) missing", i, id[:12])
			continue
		}
		wantRuntime, wantPod := "docker", ""
		if i%10 == 9 {
			u := hex.EncodeToString(sum[16:])
			wantRuntime, wantPod = "cri", fmt.Sprintf("%s-%s-%s-%s-%s", u[0:8], u[8:12], u[12:16], u[16:20], u[20:32])
		}
		if info["runtime"] != wantRuntime || info["pod_uid"] != wantPod {
			t.Errorf("container %d: runtime %q pod_uid %q, want %q %q", i, info["runtime"], info["pod_uid"], wantRuntime, wantPod)
		}
		checks := map[string]float64{
			containerCPU.Name:    float64(1e9+i*7919) / 1e9,
			containerMemory.Name: float64(64<<20+i*4096) - float64(8<<20+i*512),
			containerPids.Name:   float64(1 + i%17),
		}
		for fam, want := range checks {
			if got := values[fam][id]; got != want {
				t.Errorf("container %d: %s = %v, want %v", i, fam, got, want)
			}
		}
		l := series[listenerInfo.Name][id]
		if l["port"] != "8080" || l["pid"] != strconv.Itoa(10000+i) || l["comm"] != "app" || l["netns"] != strconv.Itoa(4026540000+i) {
			t.Errorf("container %d: listener %v", i, l)
		}
	}
	if n := len(series[containerInfo.Name]); n != benchContainers {
		t.Errorf("%d containers, want %d", n, benchContainers)
	}
}
