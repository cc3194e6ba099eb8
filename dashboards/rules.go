package dashboards

import _ "embed"

// Rules is strata's shipped rules file (rules/strata.rules.yml), which strata evaluates itself
// when its configuration names no rule_files of its own.
//
//go:embed rules/strata.rules.yml
var Rules []byte

// RulesFile is the name the shipped rules go by in /api/v1/rules.
const RulesFile = "strata.rules.yml (built in)"
