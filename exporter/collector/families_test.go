package collector

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestCollectorsEmitTheirFamilies: each collector emits only the families its Factory
// declares (besides the host's merged facts and the exporter's own), and every family it
// declares is emitted on some fixture host: Families, and so docs/metrics.md, say who emits what.
func TestCollectorsEmitTheirFamilies(t *testing.T) {
	shared := []string{hostInfo.Name, hostHardwareInfo.Name, collectorSuccess.Name, collectorDuration.Name, containerLabelsName}
	emitted := map[string]map[string]bool{}
	for _, sc := range goldenScenarios {
		for _, f := range Factories() {
			cfg := fixtureConfig(t, filepath.Join("testdata", sc.name))
			cfg.Serials = sc.serials
			cfg.Logger = nil // the broken host fails on purpose
			set, err := NewSet(cfg, Factories(), []string{f.Name})
			if err != nil {
				t.Fatal(err)
			}
			if emitted[f.Name] == nil {
				emitted[f.Name] = map[string]bool{}
			}
			for _, mf := range gatherFamilies(t, set.Gather(t.Context(), sc.host)) {
				name := mf.GetName()
				emitted[f.Name][name] = true
				if !slices.Contains(shared, name) && !slices.ContainsFunc(f.Families, func(fam *Family) bool { return fam.Name == name }) {
					t.Errorf("%s: collector %s emits %s, which its Factory does not declare", sc.name, f.Name, name)
				}
			}
		}
	}
	// Emitted only with a container runtime's API to ask: exporter/container_test.go sees them
	// against a real podman.
	needRuntime := []string{containerAddressInfo.Name, containerPortInfo.Name, containerRuntimeUp.Name}
	for _, f := range Factories() {
		for _, fam := range f.Families {
			if !emitted[f.Name][fam.Name] && !slices.Contains(needRuntime, fam.Name) {
				t.Errorf("collector %s declares %s but emits it on no fixture host", f.Name, fam.Name)
			}
		}
	}
}
