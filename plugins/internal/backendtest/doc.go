// Package backendtest holds the benchmark drivers that more than one
// durable event backend runs against itself, beside the conformance kit
// (storagetest) and the crash test (storagetest/crashtest): the ingest and
// query benchmarks.
//
// A backend's benchmark passes a Store opener; the drivers do the rest.
// BenchIngestBatch1000, BenchSaveEvent and BenchQuery100k measure the same
// workload on every backend: 10 schemas, 5 producers, a payload with 7
// statuses, one createdAt per second (Event). BenchQuery100k ingests
// BenchEvents events, reopens the store (timing it) and runs
// BenchQueries: schema, producer, payload, time range and sorted queries,
// and point reads.
package backendtest
