// Package query runs compiled trove queries over the log engine's index.
//
// NewPlan turns a *trove.CompiledQuery into a Plan: the candidate positions are
// the intersection (smallest first) of the schema, producer, link and
// payload-term postings of package index, pruned by the time column's chunk
// summaries, minus superseded versions unless the query asks for all
// versions. A payload path the index does not cover (past its
// high-cardinality guard) adds no bitmap: those candidates are verified by
// scanning, narrowed first by a TermSearcher when the Searcher is one. An
// optional Searcher (the engine's bleve index) narrows search clauses over
// the positions it has indexed.
//
// Run then verifies every candidate exactly with the query's own
// MatchDecoded — indexes and searchers only ever produce supersets — and
// sorts and pages with the query's Compare and Page, so results equal
// those of a brute-force evaluation. With a limit, Run stops as soon as
// offset+limit matches are found instead of materialising every match:
//
//   - without a sort or with a position sort, window by window in the
//     query's order (a search through a RangeSearcher asks it for each
//     window's positions alone);
//   - with a createdAt sort, by walking the time chunks best bound first
//     into a bounded heap, which stops at the first chunk that cannot
//     improve the page (events are nearly time-ordered by position, but an
//     imported one may carry any createdAt and is still found).
//
// Verification avoids decoding what the query does not test: payload
// string equalities are checked on the raw payload without allocating,
// tests that name their fields decode only those members, and a RawSource
// lets a candidate fail its payload tests before its event is decoded.
//
// Events come from a Source; the planner never modifies them.
package query
