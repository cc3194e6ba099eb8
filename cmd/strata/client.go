package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/strata-obs/strata/internal/redact"
	"github.com/strata-obs/strata/internal/safefile"
)

// client is the flags of strata query and strata promql: which server, at what time, how to
// print.
type client struct {
	server    string
	tokenFile string
	at        string
	output    string
	explain   string
	timeout   time.Duration
}

func addClient(cmd *kingpin.CmdClause, c *client) {
	cmd.Flag("server", "The strata server to ask.").Default("http://127.0.0.1:9730").StringVar(&c.server)
	cmd.Flag("time", "Evaluate at this time (RFC 3339 or unix seconds) instead of now.").StringVar(&c.at)
	cmd.Flag("output", "Output format: table for people, json for scripts.").Short('o').Default("table").EnumVar(&c.output, "table", "json")
	cmd.Flag("client.timeout", "How long to wait for the answer.").Default("2m").DurationVar(&c.timeout)
	cmd.Flag("token-file", "Send the bearer token in this file (a server with access control asks for one); $STRATA_TOKEN, the token itself, overrides it.").StringVar(&c.tokenFile)
}

// maxTokenFileSize bounds a token file: a token is a line.
const maxTokenFileSize = 64 << 10

// token is the bearer token to send: $STRATA_TOKEN, else --token-file's, else the one strata
// login keeps ($XDG_CONFIG_HOME/strata/token); "" for none.
func (c client) token() (string, error) {
	if t := strings.TrimSpace(os.Getenv("STRATA_TOKEN")); t != "" {
		return t, nil
	}
	file, explicit := c.tokenFile, c.tokenFile != ""
	if !explicit {
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", nil
		}
		file = filepath.Join(dir, "strata", "token")
	}
	b, err := safefile.ReadFile(file, maxTokenFileSize)
	switch {
	case err != nil && !explicit:
		return "", nil // no login kept: ask without a token
	case err != nil:
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// maxAnswerBytes bounds what the CLI reads of an answer.
const maxAnswerBytes = 512 << 20

// apiResponse is Prometheus's envelope, as strata's API answers too.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// get asks the server and returns the data of a successful answer; an error answer becomes
// the error, as the server worded it.
func (c client) get(path string, params url.Values, stderr io.Writer) (json.RawMessage, error) {
	u, err := url.Parse(strings.TrimSuffix(c.server, "/") + path)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL like http://127.0.0.1:9730", redact.URL(c.server))
	}
	u.RawQuery = params.Encode()
	token, err := c.token()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: c.timeout}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w (is strata running? start it with: make run)", u.Redacted(), err)
	}
	defer resp.Body.Close()
	var r apiResponse
	// The largest answer a server sends is --query.max-results cells: tens of megabytes.
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s answered %s, not strata's JSON API", u.Redacted(), resp.Status)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s", r.Error)
	}
	return r.Data, nil
}

// runQuery is strata query 'Q': the path query's table, its JSON, or its PromQL.
func runQuery(c client, q string, stdout, stderr *os.File) int {
	params := url.Values{"q": {q}}
	if c.at != "" {
		params.Set("time", c.at)
	}
	if c.explain != "" {
		params.Set("explain", c.explain)
	}
	data, code, done := c.answer("/api/v1/topology/query", params, stdout, stderr)
	if done {
		return code
	}
	var d struct {
		Columns     []string   `json:"columns"`
		Rows        [][]string `json:"rows"`
		PromQL      string     `json:"promql"`
		PromQLError string     `json:"promql_error"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		fmt.Fprintln(stderr, "error: unexpected answer:", err)
		return 1
	}
	if c.explain != "" {
		if d.PromQLError != "" {
			fmt.Fprintln(stderr, "no PromQL equivalent:", d.PromQLError)
			return 1
		}
		fmt.Fprintln(stdout, d.PromQL)
		return 0
	}
	printTable(stdout, d.Columns, d.Rows)
	return 0
}

// answer GETs an API path's data. done says the command has nothing left to do: the request
// failed (code 1, the error said), or -o json printed the data as it came (code 0).
func (c client) answer(path string, params url.Values, stdout, stderr *os.File) (data []byte, code int, done bool) {
	data, err := c.get(path, params, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return nil, 1, true
	}
	if c.output == "json" {
		fmt.Fprintln(stdout, string(data))
		return nil, 0, true
	}
	return data, 0, false
}

// runPromQL is strata promql 'EXPR': Prometheus's instant query against the server.
func runPromQL(c client, expr string, stdout, stderr *os.File) int {
	params := url.Values{"query": {expr}}
	if c.at != "" {
		params.Set("time", c.at)
	}
	data, code, done := c.answer("/api/v1/query", params, stdout, stderr)
	if done {
		return code
	}
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		fmt.Fprintln(stderr, "error: unexpected answer:", err)
		return 1
	}
	switch d.ResultType {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &v); err != nil {
			fmt.Fprintln(stderr, "error: unexpected answer:", err)
			return 1
		}
		var rows [][]string
		for _, s := range v {
			rows = append(rows, []string{formatMetric(s.Metric), fmt.Sprint(s.Value[1])})
		}
		printTable(stdout, []string{"series", "value"}, rows)
	case "scalar", "string":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			fmt.Fprintln(stderr, "error: unexpected answer:", err)
			return 1
		}
		fmt.Fprintln(stdout, v[1])
	default:
		fmt.Fprintln(stdout, string(d.Result))
	}
	return 0
}

// formatMetric writes a series as PromQL does: name{a="x", b="y"}.
func formatMetric(m map[string]string) string {
	name := m["__name__"]
	var parts []string
	for k, v := range m {
		if k != "__name__" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 && name != "" {
		return name
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

func printTable(w io.Writer, columns []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(columns, "\t")))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = v
			if v == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}
