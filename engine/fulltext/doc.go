// Package fulltext is the engine's search index: a bleve index of event
// payloads, built in the background from a Source (the log), that narrows
// search queries and payload equalities to candidate positions. Index
// implements query.Searcher, query.RangeSearcher and query.TermSearcher.
//
// # Lifecycle
//
// Open opens (or rebuilds) the index in a directory, Start starts the
// background indexer, Notify wakes it (a segment was sealed), Close stops
// it and closes the index. The indexer indexes sealed events whenever
// woken or every second, and the unsealed committed ones once no event
// was committed for a second, in batches of 1,000 (Step takes one such
// batch). While the Source reports the store busy saving it indexes one
// batch every 5 s, and catches up at full speed once the load drops. The
// index records the last position it covers (UpTo) in the same bleve batch
// as the documents; it is rebuilt when it is ahead of the log it is opened
// with, damaged, or built with another mapping version.
//
// # Documents
//
// Documents are built straight from each payload's JSON (searchdoc.go),
// without bleve's mapping: text fields without term vectors holding
// exactly trove.Tokenize's tokens under the value's dotted path, numbers
// (float64) at a precision step of 8 from shift 24 (to within 2⁻²⁸ of
// their magnitude), booleans; no _all field (a bare clause searches every
// field). Every document carries its position (_trove_pos, on a
// 256-position grid), so position-ordered pages with a limit search window
// by window (SearchRange) instead of enumerating every hit.
//
// # Queries
//
// Search clauses become bleve queries that match a superset of the clause
// (forbidden clauses are left out; phrases become conjunctions of their
// tokens; numbers are searched as float64 ranges that keep every match),
// and payload equalities become term, range and boolean queries. Every
// answer covers positions 1…upTo: the caller verifies the candidates with
// the query's Match and scans the positions after upTo, so results are
// exact whatever the index covers.
//
// # Concurrency
//
// Searches run concurrently with each other and with indexing, each on a
// reader of the index as it stood when it began. Indexing steps are
// serialised; Pause holds them back until Resume.
package fulltext
