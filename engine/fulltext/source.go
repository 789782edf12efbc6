package fulltext

import "errors"

// Source is the log an Index indexes: the store that owns the Index
// provides it.
type Source interface {
	// Positions returns how far the log stands now: every position
	// 1…sealed is in a sealed segment (0: none is), every position
	// 1…last is committed (sealed ≤ last). Both only grow.
	Positions() (sealed, last uint64)
	// Payloads calls fn with the payload of every position from…to, in
	// order; every one of them is committed (to is at most a last that
	// Positions returned). The payload is only valid during the call and
	// fn must not modify it. An error of fn ends the call and is
	// returned. The Index makes one call at a time.
	Payloads(from, to uint64, fn func(pos uint64, payload []byte) error) error
	// Busy reports whether the store is busy saving, when the indexer
	// leaves it the CPU (see Index). Only the background indexer calls
	// it, one call at a time.
	Busy() bool
}

// errRecord is the cause of every failure to build a document from a
// payload.
var errRecord = errors.New("fulltext: bad payload")
