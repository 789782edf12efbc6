// Package backendtest holds test and benchmark drivers that more than one
// durable event backend runs against itself, beside the conformance kit
// (storagetest): a SIGKILL crash test of batch ingest and the ingest and
// query benchmarks.
//
// A backend's test passes a Store opener and its own names; the drivers do
// the rest.
//
// # Crash test
//
// The parent test (SurviveSIGKILL) starts the package's own test binary as
// a child running the child test (CrashChild), which saves batches of
// CrashBatch events until it is killed, printing "ack N" once batch N
// returned. The parent kills it with SIGKILL at a different point in each
// of three rounds, reopens the store and checks that every acknowledged
// batch is there in full, that no batch is there in part, and that
// positions have no gap. The child test is selected by name and finds its
// directory in an environment variable, so each backend names both
// (Crash.ChildTest, Crash.Env).
//
// # Benchmarks
//
// BenchIngestBatch1000, BenchSaveEvent and BenchQuery100k measure the same
// workload on every backend: 10 schemas, 5 producers, a payload with 7
// statuses, one createdAt per second (Event). BenchQuery100k ingests
// BenchEvents events, reopens the store (timing it) and runs
// BenchQueries: schema, producer, payload, time range and sorted queries,
// and point reads.
package backendtest
