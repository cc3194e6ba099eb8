package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/topology/plan"
)

// checkPlanOfFailingHosts: on the real HAProxy scene (c1ps' servers are processes of this
// host) with a policy that fails this host (TestLifecycleBansThisKernel), the default hosts of
// /api/v1/topology/plan are the failing ones: this host. Every instance of c1ps runs on it, so
// the plan skips it, and its reason holds c1ps' numbers as the graph has them (its instances,
// their health, their host, read through the entity API); the check of this host says it may
// not go down now. The expected answer is made from the graph, not written down.
func checkPlanOfFailingHosts(t *testing.T, a *app) {
	t.Helper()
	testenv.Eventually(t, pollTimeout, "the plan of the failing hosts, as the graph has them", func() error {
		var p plan.Plan
		if _, err := getAPI(a.base, "/api/v1/topology/plan", &p); err != nil {
			return err
		}
		want, err := a.expectedPlan(`host{lifecycle="fail"}`)
		if err != nil {
			return err
		}
		if fmt.Sprint(p) != fmt.Sprint(want) {
			return fmt.Errorf("plan %+v, want %+v", p, want)
		}
		if len(p.Skipped) != 1 || len(p.Waves) != 0 {
			return fmt.Errorf("plan %+v, want the mission host skipped", p)
		}
		var v plan.Verdict
		if _, err := getAPI(a.base, "/api/v1/topology/plan?check="+url.QueryEscape(p.Skipped[0].Host), &v); err != nil {
			return err
		}
		if v.Safe || len(v.Violations) != 1 || !strings.HasSuffix(v.Violations[0].Reason, "of them on these hosts") ||
			strings.TrimSuffix(v.Violations[0].Reason, "these hosts") != strings.TrimSuffix(p.Skipped[0].Reason, "this host") {
			return fmt.Errorf("check of %s: %+v, want not safe for the skip's reason %q", p.Skipped[0].Host, v, p.Skipped[0].Reason)
		}
		t.Logf("plan: %+v", p)
		return nil
	})
}

// expectedPlan is the plan the rule gives, at max unavailable 1, for the hosts q reaches when
// each of them holds every healthy instance of some service: all skipped (the scene is one
// host), each with the service it breaks as the entity API shows it.
func (a *app) expectedPlan(q string) (plan.Plan, error) {
	var hosts struct{ Rows [][]string }
	if _, err := getAPI(a.base, "/api/v1/topology/query?q="+url.QueryEscape(q), &hosts); err != nil {
		return plan.Plan{}, err
	}
	services, err := a.graph("service")
	if err != nil {
		return plan.Plan{}, err
	}
	p := plan.Plan{Waves: []plan.Wave{}, Skipped: []plan.Skip{}}
	for _, row := range hosts.Rows {
		host := row[1]
		var reasons []string
		for _, svc := range services.Nodes {
			e, err := a.entity("service", svc.ID)
			if err != nil {
				return p, err
			}
			n, healthy, here := 0, 0, 0
			for _, edge := range e.Down {
				id, ok := strings.CutPrefix(edge.To, "instance/")
				if !ok {
					continue
				}
				inst, err := a.entity("instance", id)
				if err != nil {
					return p, err
				}
				n++
				if inst.Entity.Attrs["health"] != "UP" {
					continue
				}
				healthy++
				if slices.ContainsFunc(inst.Paths, func(path map[string]string) bool { return path["host"] == host }) {
					here++
				}
			}
			if required := max(n-1, 1); here > 0 && healthy-here < required {
				reasons = append(reasons, fmt.Sprintf("service %s: %d of %d instances healthy, %d required, %d of them on this host", svc.ID, healthy, n, required, here))
			}
		}
		if len(reasons) != 1 {
			return p, fmt.Errorf("host %s breaks %q, want one service (the scene's c1ps)", host, reasons)
		}
		p.Skipped = append(p.Skipped, plan.Skip{Host: host, Reason: reasons[0]})
	}
	if len(p.Skipped) == 0 {
		return p, fmt.Errorf("%s reaches no host yet", q)
	}
	return p, nil
}
