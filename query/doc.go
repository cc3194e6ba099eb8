// Package query is strata's path language: it parses a query, walks the graph (the latest one
// or the one the storage recorded at a past time), and answers with a table; Explain writes the
// same question as PromQL over the strata_topology_* series.
//
// The grammar and what each part means are in docs/query.md (TestDocsNameEveryStage keeps it
// naming every stage and kind).
//
// Limits (Limits, flags --query.max-length, --query.max-steps, --query.max-matchers,
// --query.max-columns, --query.max-stages, --query.max-visited and --query.max-results) bound
// a query by construction: its text's size and shape are refused before the walk; the entities
// it visits and the cells of its answer are counted while they grow (a row that | limit cuts is
// never made); and the walk looks at its context every few hundred units of work, so a deadline
// (--query.timeout) or a client that leaves stops it wherever it is. A refusal is an *Error
// whose Limit names the flag. Every error is an *Error with a line:column position and what was
// expected.
//
// To add a stage: its parse, apply and explain functions and one entry in stageKinds
// (stages.go), its line in the grammar of docs/query.md, and its cases in querytest/testdata.
package query
