package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/trovedb/trove/internal/fsutil"
)

// Results is everything one run measured; it is written as results.json
// and rendered as the Markdown report and the charts.
type Results struct {
	Meta       Meta              `json:"meta"`
	Disk       DiskStats         `json:"disk"`
	Contenders []ContenderResult `json:"contenders"`
}

// Meta says what ran, where and how.
type Meta struct {
	Date            string  `json:"date"` // RFC 3339, UTC
	Command         string  `json:"command"`
	Commit          string  `json:"commit,omitempty"` // the source tree's git commit, when known
	GoVersion       string  `json:"goVersion"`
	OS              string  `json:"os"`
	Arch            string  `json:"arch"`
	CPU             string  `json:"cpu"`
	CPUs            int     `json:"cpus"`
	MemoryGiB       float64 `json:"memoryGiB"`
	Events          int     `json:"events"`
	Seed            uint64  `json:"seed"`
	Quick           bool    `json:"quick"`
	Isolated        bool    `json:"isolated"`      // each contender ran in its own process
	SettleSeconds   float64 `json:"settleSeconds"` // the bound on the wait for background work before the reads; 0: none
	AvgEventBytes   float64 `json:"avgEventBytes"` // mean JSON size of an event
	AvgPayloadBytes float64 `json:"avgPayloadBytes"`
	AvgFileBytes    float64 `json:"avgFileBytes,omitempty"` // mean size of an event's file, over events with one
}

// Contender statuses.
const (
	statusOK          = "ok"
	statusUnavailable = "unavailable"
	statusFailed      = "failed"
)

// ContenderResult is one contender's numbers, keyed by workload id.
type ContenderResult struct {
	Name      string                  `json:"name"`
	Kind      string                  `json:"kind"`
	About     string                  `json:"about"`
	Status    string                  `json:"status"`
	Reason    string                  `json:"reason,omitempty"` // why unavailable or failed
	Workloads map[string]*Measurement `json:"workloads"`
}

// Measurement is one workload's numbers for one contender. A workload the
// contender does not offer has NA set and nothing else.
type Measurement struct {
	NA      string  `json:"na,omitempty"`    // why the workload does not apply
	Error   string  `json:"error,omitempty"` // the workload failed
	Ops     int     `json:"ops,omitempty"`   // operations (events for ingest)
	Seconds float64 `json:"seconds,omitempty"`
	PerSec  float64 `json:"perSec,omitempty"` // events, files or operations per second
	// MBPerSec and Bytes: for file saves, the files' bytes per second
	// and in all.
	MBPerSec float64 `json:"mbPerSec,omitempty"`
	Bytes    int64   `json:"bytes,omitempty"`
	Percentiles
	Value   float64 `json:"value,omitempty"`   // for value workloads (bytes, MiB, ms)
	Results int     `json:"results,omitempty"` // events returned, summed over operations (a sanity check)
}

func (m *Measurement) ok() bool { return m != nil && m.NA == "" && m.Error == "" }

// writeJSON publishes v as indented JSON at path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileBytes(path, append(b, '\n'), 0o644)
}
