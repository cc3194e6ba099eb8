package store

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestQueryAPIReaderBoundsWarnings: a store that answers with thousands of long warnings (a
// broken or hostile one) puts at most maxWarnings of them, each cut short, into the answer that
// strata passes on with every graph it reads.
func TestQueryAPIReaderBoundsWarnings(t *testing.T) {
	long := strings.Repeat("é", 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ws []string
		for i := range 2000 {
			ws = append(ws, fmt.Sprintf("%q", fmt.Sprint("member ", i, " down: ", long)))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[]},"warnings":[%s]}`, strings.Join(ws, ","))
	}))
	defer srv.Close()
	q, err := QueryAPIReader(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	querier, err := q.Querier(0, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	set := querier.Select(context.Background(), false, &storage.SelectHints{End: time.Now().UnixMilli(), Func: "timestamp"},
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "strata_topology_host_info"))
	for set.Next() {
	}
	if set.Err() != nil {
		t.Fatal(set.Err())
	}
	var ws []string
	for _, w := range set.Warnings() {
		ws = append(ws, w.Error())
	}
	if len(ws) != maxWarnings+1 {
		t.Fatalf("%d warnings, want %d and one that counts the others", len(ws), maxWarnings+1)
	}
	for _, w := range ws {
		if !strings.HasPrefix(w, "the store: ") || len(w) > maxWarningBytes+len("the store: …") {
			t.Errorf("warning of %d bytes: %.80s", len(w), w)
		}
	}
	// One query (the times alone): its 2,000 warnings.
	if !strings.Contains(strings.Join(ws, "\n"), fmt.Sprintf("the store: %d more warnings", 2000-maxWarnings)) {
		t.Errorf("no warning counts the rest: %q", ws)
	}
}
