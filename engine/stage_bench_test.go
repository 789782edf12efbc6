package engine

import (
	"testing"

	"github.com/trovedb/trove"
)

// BenchmarkStage1000 measures staging alone (the callers' share of a save:
// checks, defaults, record bodies, version prechecks, index terms) on
// batches of 1,000 events, against an empty store.
func BenchmarkStage1000(b *testing.B) {
	st := benchOpen(b, b.TempDir())
	defer st.Close()
	const per = 1000
	evs := make([]trove.Event, per)
	for k := range evs {
		evs[k] = benchEvent(k)
	}
	for b.Loop() {
		if _, err := st.stage(evs, nil, nil, now(), true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/event")
}
