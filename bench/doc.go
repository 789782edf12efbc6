// Command bench runs the standard Trove workloads against every Trove
// backend and the stores a user might pick instead, on the same data, and
// writes a report people can read.
//
//	go run ./bench                 # 100,000 events, every contender
//	go run ./bench -quick          # 2,000 events, under a minute
//	go run ./bench -events 200000 -out bench/results
//	go run ./bench -contenders storage-log,disk
//
// The output directory (-out, default bench/results) receives report.md
// (a summary table and a table per workload with each contender's ratio to
// storage-log), results.json (every number, for tools) and two PNG charts,
// ingest.png and reads.png.
//
// # Contenders
//
// A contender is one entry of the table in contenders(): a name, whether it
// keeps data across a reopen, an Available check and an Open function
// returning a Store (SaveBatch, Save, SaveFile, Close), optionally also a
// Reader (Get, Query). Event saves carry events only, the same bytes for
// every contender; the events' files go through SaveFile and are measured
// as their own workload. Only the store's calls are timed: batches and
// single-save events are generated and encoded before the clock starts. Trove backends are driven through the public API
// (trove.NewPlugin, Initialize, EventStorage, BatchSaver, FileStorage);
// a backend whose package is not linked in is reported as unavailable,
// never silently left out. The peers are driven directly with their
// best-practice settings: raw tidwall/wal, SQLite tuned by hand, NATS
// JetStream embedded, and the disk itself. A peer without reads shows the
// read workloads as n/a.
//
// # Reads at rest
//
// After ingest the runner waits until the contender's process is idle
// (-settle bounds the wait; 0 skips it), so a store's background work
// (sealing, search indexing) is finished before the read workloads, for
// every contender alike; the wait is reported as its own workload.
//
// # Processes
//
// Each contender runs in its own child process (this binary re-executed
// with -contender NAME), so its peak RSS is its own and a second child
// measures reopen time in a fresh process. -inprocess runs everything in
// one process instead (no RSS numbers).
//
// # Data
//
// Dataset generates event i as a pure function of the seed and i, so every
// process sees the same events without holding the dataset in memory. See
// README.md for its shape and for what each workload measures.
//
// Benchmarks print numbers; nothing here passes or fails on timing.
package main
