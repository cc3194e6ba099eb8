// Package rules holds strata's shipped Prometheus rules (strata.rules.yml, tested by
// strata.rules.test.yml and ../rules_test.go), which strata evaluates itself when its
// configuration names no rule_files of its own. A package of its own, importing nothing: the
// strata binary takes the file without the dashboards' SDK.
package rules

import _ "embed"

// File is strata.rules.yml.
//
//go:embed strata.rules.yml
var File []byte

// Name is the name the shipped rules go by in /api/v1/rules.
const Name = "strata.rules.yml (built in)"
