// Package query runs compiled trove queries over the log engine's index.
//
// Compile turns a *trove.Query into a Plan: the candidate positions are
// the intersection (smallest first) of the schema, producer, link and
// payload-term postings of package index, pruned by the time column's chunk
// summaries, minus superseded versions unless the query asks for all
// versions. A payload path the index does not cover (past its
// high-cardinality guard) adds no bitmap: those candidates are verified by
// scanning. An optional Searcher (the engine's bleve index) narrows search
// clauses over the positions it has indexed.
//
// Run then verifies every candidate exactly with the query's own
// MatchDecoded — indexes only ever produce supersets — and sorts and pages
// with the query's Compare and Page, so results equal those of a
// brute-force evaluation. Without a sort, with a position sort, or with a
// createdAt sort (ordered from the time column alone), Run stops as soon as
// offset+limit matches are found instead of materialising every match.
//
// Events come from a Source; the planner never modifies them.
package query
