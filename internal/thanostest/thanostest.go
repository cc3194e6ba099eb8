// Package thanostest starts a real Thanos for tests: receivers in one hashring, each with its
// own TSDB and replicating what it receives to the others, and a querier in front that
// deduplicates the replicas and names a member that is down or hangs in a warning of every
// answer (strict endpoints, a response timeout), all built from the Go module proxy by
// scripts/thanos-build, on 127.0.0.1, ending with the test.
package thanostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
)

// Version is the Thanos release scripts/thanos-build builds (scripts/thanos/go.mod).
const Version = "v0.41.0"

// ReplicaLabel is the label each receiver puts on what it stores, and along which the querier
// deduplicates; SiteReplicaLabel is the one the two strata of a site's HA pair carry.
const (
	ReplicaLabel     = "receive_replica"
	SiteReplicaLabel = "replica"
)

// Bin is Thanos's path: in $STRATA_THANOS_BIN, else scripts/thanos-build's cache.
func Bin(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.Built(t, "STRATA_THANOS_BIN", "thanos-"+Version, "scripts/thanos-build", "thanos"), "thanos")
}

// Store is a running Thanos: its receivers and its querier.
type Store struct {
	Receivers []*Receiver
	QueryURL  string // the querier's HTTP API (Prometheus's query API)
	query     *testenv.Process
}

// Receiver is one member of the hashring.
type Receiver struct {
	WriteURL string // Prometheus's remote write protocol
	GRPC     string
	proc     *testenv.Process
}

// Running is nil while the receiver runs, else how it ended.
func (r *Receiver) Running() error { return r.proc.Running() }

// Stop kills the receiver: a member of the hashring down.
func (r *Receiver) Stop() { r.proc.Stop() }

// Pause stops the receiver's process without ending it (SIGSTOP): a member that is there and
// does not answer, the slow store of Thanos users' first complaint. Resume lets it go on.
func (r *Receiver) Pause() error { return syscall.Kill(r.proc.Pid(), syscall.SIGSTOP) }

// Resume continues a paused receiver (SIGCONT).
func (r *Receiver) Resume() error { return syscall.Kill(r.proc.Pid(), syscall.SIGCONT) }

// StoreResponseTimeout is how long the tests' querier waits for a member before it answers
// without it, with a warning (partial response, Thanos's default): without one, a member that
// hangs holds every query until it times out. It must exceed what a member takes to start
// answering the largest select: a large fleet's needs more (Options).
const StoreResponseTimeout = 2 * time.Second

// Options are what StartWith can change.
type Options struct {
	ResponseTimeout time.Duration // the querier's --store.response-timeout; StoreResponseTimeout if 0
}

// Start starts n receivers in one hashring replicating each write replication times, and a
// querier over them, and returns once all are ready.
func Start(t testing.TB, n, replication int) *Store {
	t.Helper()
	return StartWith(t, n, replication, Options{})
}

// StartWith is Start with opts.
func StartWith(t testing.TB, n, replication int, opts Options) *Store {
	t.Helper()
	if opts.ResponseTimeout == 0 {
		opts.ResponseTimeout = StoreResponseTimeout
	}
	bin := Bin(t)
	dir := t.TempDir()
	type endpoint struct {
		Address   string `json:"address"`
		CapNProto string `json:"capnproto_address"`
	}
	var endpoints []endpoint
	s := &Store{}
	ports := make([][4]int, n)
	for i := range n {
		for j := range ports[i] {
			ports[i][j] = testenv.FreePort(t)
		}
		grpc := "127.0.0.1:" + strconv.Itoa(ports[i][0])
		endpoints = append(endpoints, endpoint{grpc, "127.0.0.1:" + strconv.Itoa(ports[i][3])})
		s.Receivers = append(s.Receivers, &Receiver{GRPC: grpc, WriteURL: fmt.Sprintf("http://127.0.0.1:%d/api/v1/receive", ports[i][2])})
	}
	ring, err := json.Marshal([]map[string]any{{"hashring": "default", "endpoints": endpoints}})
	if err != nil {
		t.Fatal(err)
	}
	ringFile := filepath.Join(dir, "hashring.json")
	if err := os.WriteFile(ringFile, ring, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, r := range s.Receivers {
		r.proc = testenv.StartProcess(t, bin, "receive",
			"--tsdb.path="+filepath.Join(dir, "receive"+strconv.Itoa(i)),
			"--grpc-address="+r.GRPC,
			"--http-address=127.0.0.1:"+strconv.Itoa(ports[i][1]),
			"--remote-write.address=127.0.0.1:"+strconv.Itoa(ports[i][2]),
			"--receive.capnproto-address=127.0.0.1:"+strconv.Itoa(ports[i][3]),
			"--receive.local-endpoint="+r.GRPC,
			"--receive.hashrings-file="+ringFile,
			"--receive.replication-factor="+strconv.Itoa(replication),
			fmt.Sprintf("--label=%s=%q", ReplicaLabel, strconv.Itoa(i)),
			"--log.level=warn")
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, r := range s.Receivers {
				t.Logf("thanos receive %d:\n%.6000s", i, r.proc.Log())
			}
			t.Logf("thanos query:\n%.6000s", s.query.Log())
		}
	})
	for i, r := range s.Receivers {
		testenv.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/-/ready", ports[i][1]), http.StatusOK, r.proc)
	}
	qPort, qGRPC := testenv.FreePort(t), testenv.FreePort(t)
	args := []string{"query", "--http-address=127.0.0.1:" + strconv.Itoa(qPort), "--grpc-address=127.0.0.1:" + strconv.Itoa(qGRPC),
		"--query.replica-label=" + ReplicaLabel, "--query.replica-label=" + SiteReplicaLabel, "--log.level=warn",
		"--store.response-timeout=" + opts.ResponseTimeout.String()}
	// Strict endpoints: the querier keeps asking a member that fails its health checks, so that
	// a member down or hanging is a warning of every answer (partial response), not a member
	// the querier drops after a few seconds and then answers without, saying nothing.
	sd := "endpoints:\n"
	for _, r := range s.Receivers {
		sd += fmt.Sprintf("  - {address: %q, strict: true}\n", r.GRPC)
	}
	args = append(args, "--endpoint.sd-config="+sd)
	s.query = testenv.StartProcess(t, bin, args...)
	s.QueryURL = "http://127.0.0.1:" + strconv.Itoa(qPort)
	testenv.WaitHTTP(t, s.QueryURL+"/-/ready", http.StatusOK, s.query)
	return s
}
