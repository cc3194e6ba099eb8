package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"
)

// planFlags are strata plan's: the client's, how many instances of a service may be down at
// once, and a wave to check instead of a plan to make.
type planFlags struct {
	client
	maxUnavailable, minHealthy string
	check                      string
}

func addPlan(cmd *kingpin.CmdClause, c *planFlags) {
	addClient(cmd, &c.client)
	cmd.Flag("max-unavailable", "Instances of each service that may be down at once (default 1).").PlaceHolder("N").StringVar(&c.maxUnavailable)
	cmd.Flag("min-healthy", "Share of each service's instances that stays healthy, instead of --max-unavailable, e.g. 0.66.").PlaceHolder("SHARE").StringVar(&c.minHealthy)
	cmd.Flag("check", "Instead of a plan, whether these hosts (a wave, comma-separated) may go down together now; exits 1 when not.").PlaceHolder("H1,H2").StringVar(&c.check)
}

// runPlan is strata plan ['HOST PATH']: the waves to patch the hosts in, skipped hosts after
// them; or, with --check, whether a wave may go now. The server checks the flags' values.
func runPlan(c planFlags, hosts string, stdout, stderr *os.File) int {
	params := url.Values{}
	for k, v := range map[string]string{"q": hosts, "max_unavailable": c.maxUnavailable, "min_healthy": c.minHealthy, "check": c.check, "time": c.at} {
		if v != "" {
			params.Set(k, v)
		}
	}
	if c.check != "" {
		return runCheck(c.client, params, stdout, stderr)
	}
	data, code, done := c.answer("/api/v1/topology/plan", params, stdout, stderr)
	if done {
		return code
	}
	var p struct {
		Waves []struct {
			Wave  int      `json:"wave"`
			Hosts []string `json:"hosts"`
		} `json:"waves"`
		Skipped []struct{ Host, Reason string } `json:"skipped"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		fmt.Fprintln(stderr, "error: unexpected answer:", err)
		return 1
	}
	if len(p.Waves) == 0 && len(p.Skipped) == 0 {
		fmt.Fprintln(stderr, "no hosts to plan: the path reaches none")
		return 0
	}
	var rows [][]string
	for _, w := range p.Waves {
		rows = append(rows, []string{strconv.Itoa(w.Wave), strings.Join(w.Hosts, ",")})
	}
	printTable(stdout, []string{"wave", "hosts"}, rows)
	if len(p.Skipped) > 0 {
		rows = rows[:0]
		for _, s := range p.Skipped {
			rows = append(rows, []string{s.Host, s.Reason})
		}
		fmt.Fprintln(stdout)
		printTable(stdout, []string{"skipped", "reason"}, rows)
	}
	return 0
}

// runCheck prints whether a wave may go down now, and exits 1 when it may not.
func runCheck(c client, params url.Values, stdout, stderr *os.File) int {
	data, err := c.get("/api/v1/topology/plan", params, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	var v struct {
		Safe       bool     `json:"safe"`
		Hosts      []string `json:"hosts"`
		Unknown    []string `json:"unknown"`
		Violations []struct {
			Reason string `json:"reason"`
		} `json:"violations"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		fmt.Fprintln(stderr, "error: unexpected answer:", err)
		return 1
	}
	switch {
	case c.output == "json":
		fmt.Fprintln(stdout, string(data))
	case v.Safe:
		fmt.Fprintf(stdout, "safe to take down now: %s\n", strings.Join(v.Hosts, ","))
	default:
		fmt.Fprintf(stdout, "not safe to take down now: %s\n", strings.Join(append(v.Hosts, v.Unknown...), ","))
		for _, h := range v.Unknown {
			fmt.Fprintf(stdout, "  host %s: not in the graph\n", h)
		}
		for _, x := range v.Violations {
			fmt.Fprintf(stdout, "  %s\n", x.Reason)
		}
	}
	if !v.Safe {
		return 1
	}
	return 0
}
