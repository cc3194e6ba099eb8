// Package query is strata's path language: it parses a query, walks the graph (the latest one
// or the one the storage recorded at a past time), and answers with a table; Explain writes the
// same question as PromQL over the strata_topology_* series.
//
// Grammar (# starts a comment):
//
//	query     = path { "|" stage } { "@" time | "offset" duration }
//	          | "diff" "(" path "," time "," time ")"
//	path      = step { ("->" | "<-") step } { "." name }
//	step      = kind [ "{" [ matcher { "," matcher } ] "}" ] [ pick ]
//	kind      = "lb" | "service" | "instance" | "pod" | "container" | "image" | "host"
//	matcher   = name ( "=" | "!=" | "=~" | "!~" ) string          (PromQL's; regexps anchored)
//	pick      = "[" int "]" | "[" [ int ] ":" [ int ] "]"         (negative counts from the end)
//	stage     = "count" [ "by" "(" name { "," name } ")" ]
//	          | "sort" "by" name [ "asc" | "desc" ]
//	          | "limit" int
//	          | "where" matcher
//	time      = RFC 3339 (2026-11-20T10:00:00Z) | unix seconds
//	duration  = PromQL's (5m, 1h30m)
//
// Meaning:
//   - The first step selects entities of its kind from the whole graph; each next step walks
//     from every entity of the step before: "->" down toward the hardware, "<-" up toward the
//     LB, through the kinds in between (service -> host goes through instances, pods and
//     containers), never past the step's kind.
//   - Matchers test an attribute, else a label, of the entity; "name", "id" and "kind" are the
//     entity's own.
//   - A pick orders what each entity of the step before reached by position, then name, then
//     id, and takes [i], [-1] (the last) or [a:b]; on the first step it picks from the whole
//     selection. service -> instance[0] is the first instance of each service.
//   - ".attr" projects attributes into columns; without it the columns are kind, id and name.
//   - Stages run in order on the rows: where filters, sort by orders (numbers as numbers),
//     limit keeps the first n, count by groups (an entity counts once).
//   - "@ time" answers from the graph as recorded at that time; "offset d" that much earlier
//     (than now, or than @). diff(path, t1, t2) lists what changed between two times among the
//     entities the path reaches and what they run on: entities and edges added or removed,
//     attributes changed.
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
// (stages.go), its line in the grammar above, and its cases in querytest/testdata.
package query
