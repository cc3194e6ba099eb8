package promql

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// TestEncodeAsPrometheus: a float in a vector is written as Prometheus's API writes it (an
// exponent below 1e-6 and from 1e21 on), which promql's own MarshalJSON does not: the reason
// this encoder exists.
func TestEncodeAsPrometheus(t *testing.T) {
	v := promql.Vector{{Metric: labels.FromStrings("__name__", "x"), T: 1435781451781, F: 1e-7}}
	ours, err := json.Marshal(jsonValue{v})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"metric":{"__name__":"x"},"value":[1435781451.781,"1e-07"]}]`; string(ours) != want {
		t.Errorf("ours = %s, want %s", ours, want)
	}
	theirs, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(theirs), "e-07") {
		t.Errorf("promql's MarshalJSON now writes exponents (%s): encoding/json would do", theirs)
	}
}

// BenchmarkEncodeVector writes a vector of 10,000 samples with ten labels each, as
// /api/v1/query answers it, with this encoder and with encoding/json over promql's
// MarshalJSON methods.
func BenchmarkEncodeVector(b *testing.B) {
	v := make(promql.Vector, 10_000)
	for i := range v {
		ls := []string{"__name__", "strata_topology_path_info"}
		for j := range 9 {
			ls = append(ls, fmt.Sprintf("label_%d", j), fmt.Sprintf("value-%d-%d", i, j))
		}
		v[i] = promql.Sample{Metric: labels.FromStrings(ls...), T: 1435781451781, F: float64(i)}
	}
	b.Run("strata", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(jsonValue{v}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
