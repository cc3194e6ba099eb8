package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape of a /metrics endpoint, parsed.
type Families map[string]*dto.MetricFamily

// Sample is one series of a scrape or of a query's answer: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

func (s Sample) String() string { return fmt.Sprintf("%v %g", s.Labels, s.Value) }

// ParseMetrics parses Prometheus's text exposition.
func ParseMetrics(body []byte) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse the scrape: %w", err)
	}
	return fams, nil
}

// Scrape GETs a /metrics URL with client (nil: one with a 30 s timeout) and the header, wants
// 200, and parses the answer.
func Scrape(client *http.Client, url string, header http.Header) (Families, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s: %.300s", url, resp.Status, body)
	}
	return ParseMetrics(body)
}

// Samples lists the series of a family whose labels include match.
func (f Families) Samples(name string, match map[string]string) []Sample {
	var out []Sample
	for _, m := range f[name].GetMetric() {
		s := Sample{Labels: map[string]string{}}
		for _, lp := range m.GetLabel() {
			s.Labels[lp.GetName()] = lp.GetValue()
		}
		switch {
		case m.Gauge != nil:
			s.Value = m.GetGauge().GetValue()
		case m.Counter != nil:
			s.Value = m.GetCounter().GetValue()
		case m.Untyped != nil:
			s.Value = m.GetUntyped().GetValue()
		}
		if Matches(s.Labels, match) {
			out = append(out, s)
		}
	}
	return out
}

// Only is the single series of a family whose labels include match.
func (f Families) Only(name string, match map[string]string) (Sample, error) {
	got := f.Samples(name, match)
	if len(got) != 1 {
		return Sample{}, fmt.Errorf("want exactly one %s%v, got %d: %v", name, match, len(got), got)
	}
	return got[0], nil
}

// One is Only, failing the test when there is not exactly one.
func (f Families) One(t testing.TB, name string, match map[string]string) Sample {
	t.Helper()
	s, err := f.Only(name, match)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Matches tells whether labels include every pair of match.
func Matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
