package promql

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// Rules is what evaluates strata's alerting and recording rules (Prometheus's rules manager),
// for /api/v1/rules and /api/v1/alerts, which Grafana's alerting view and promtool ask for.
type Rules interface {
	RuleGroups() []*rules.Group
	AlertingRules() []*rules.AlertingRule
}

// SetRules tells the API what evaluates the rules; without it, there are none.
func (a *API) SetRules(r Rules) { a.rules.Store(&r) }

func (a *API) ruleSource() Rules {
	if r := a.rules.Load(); r != nil {
		return *r
	}
	return nil
}

// alertJSON, ruleGroupJSON, alertingRuleJSON and recordingRuleJSON are Prometheus's answers
// (web/api/v1), field for field.
type alertJSON struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

type ruleGroupJSON struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type alertingRuleJSON struct {
	State          string           `json:"state"`
	Name           string           `json:"name"`
	Query          string           `json:"query"`
	Duration       float64          `json:"duration"`
	KeepFiringFor  float64          `json:"keepFiringFor"`
	Labels         labels.Labels    `json:"labels"`
	Annotations    labels.Labels    `json:"annotations"`
	Alerts         []*alertJSON     `json:"alerts"`
	Health         rules.RuleHealth `json:"health"`
	LastError      string           `json:"lastError,omitempty"`
	EvaluationTime float64          `json:"evaluationTime"`
	LastEvaluation time.Time        `json:"lastEvaluation"`
	Type           string           `json:"type"`
}

type recordingRuleJSON struct {
	Name           string           `json:"name"`
	Query          string           `json:"query"`
	Labels         labels.Labels    `json:"labels"`
	Health         rules.RuleHealth `json:"health"`
	LastError      string           `json:"lastError,omitempty"`
	EvaluationTime float64          `json:"evaluationTime"`
	LastEvaluation time.Time        `json:"lastEvaluation"`
	Type           string           `json:"type"`
}

func alertsJSON(active []*rules.Alert) []*alertJSON {
	out := make([]*alertJSON, len(active))
	for i, a := range active {
		out[i] = &alertJSON{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(), ActiveAt: &a.ActiveAt,
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
		if !a.KeepFiringSince.IsZero() {
			out[i].KeepFiringSince = &a.KeepFiringSince
		}
	}
	return out
}

// alerts answers /api/v1/alerts: every pending and firing alert.
func (a *API) alerts(*http.Request) result {
	out := []*alertJSON{}
	if src := a.ruleSource(); src != nil {
		for _, r := range src.AlertingRules() {
			out = append(out, alertsJSON(r.ActiveAlerts())...)
		}
	}
	return result{data: map[string]any{"alerts": out}}
}

// rules answers /api/v1/rules with Prometheus's filters: type (alert or record),
// rule_name[], rule_group[], file[], match[] on the rules' labels, and exclude_alerts. A group
// whose every rule is filtered out is left out, as Prometheus leaves it.
func (a *API) rulesList(r *http.Request) result {
	if err := r.ParseForm(); err != nil {
		return result{err: badData("error parsing form values: %v", err)}
	}
	typ := strings.ToLower(r.Form.Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		return result{err: invalidParam("type", errors.New(`not supported value "`+typ+`"`))}
	}
	excludeAlerts := false
	if s := r.Form.Get("exclude_alerts"); s != "" {
		b, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return result{err: invalidParam("exclude_alerts", errors.New("error converting exclude_alerts: "+strconv.Quote(s)+" is not a boolean"))}
		}
		excludeAlerts = b
	}
	matcherSets, err := a.parser.ParseMetricSelectors(r.Form["match[]"])
	if err != nil {
		return result{err: invalidParam("match[]", err)}
	}
	names, groups, files := set(r.Form["rule_name[]"]), set(r.Form["rule_group[]"]), set(r.Form["file[]"])
	out := []*ruleGroupJSON{}
	src := a.ruleSource()
	if src == nil {
		return result{data: map[string]any{"groups": out}}
	}
	for _, g := range src.RuleGroups() {
		if !groups.has(g.Name()) || !files.has(g.File()) {
			continue
		}
		rg := &ruleGroupJSON{Name: g.Name(), File: g.File(), Rules: []any{}, Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation()}
		for _, rule := range g.Rules(matcherSets...) {
			if !names.has(rule.Name()) {
				continue
			}
			lastError := ""
			if err := rule.LastError(); err != nil {
				lastError = err.Error()
			}
			switch rule := rule.(type) {
			case *rules.AlertingRule:
				if typ == "record" {
					continue
				}
				var active []*alertJSON
				if !excludeAlerts {
					active = alertsJSON(rule.ActiveAlerts())
				}
				rg.Rules = append(rg.Rules, alertingRuleJSON{State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(), Labels: rule.Labels(),
					Annotations: rule.Annotations(), Alerts: active, Health: rule.Health(), LastError: lastError,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(), LastEvaluation: rule.GetEvaluationTimestamp(), Type: "alerting"})
			case *rules.RecordingRule:
				if typ == "alert" {
					continue
				}
				rg.Rules = append(rg.Rules, recordingRuleJSON{Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: rule.Health(), LastError: lastError, EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "recording"})
			}
		}
		if len(rg.Rules) > 0 {
			out = append(out, rg)
		}
	}
	return result{data: map[string]any{"groups": out}}
}

// filter is a query parameter's set of values; empty, it keeps everything.
type filter map[string]bool

func set(values []string) filter {
	f := filter{}
	for _, v := range values {
		f[v] = true
	}
	return f
}

func (f filter) has(v string) bool { return len(f) == 0 || f[v] }
