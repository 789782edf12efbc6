package engine

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// BenchmarkDiskBytes ingests -benchevents events in batches of 1,000 (the
// -benchwide shape gives the bench harness's), waits until the search index
// has caught up (with -benchsearch on), closes the store and reports its
// bytes per event by kind of file, beside the bytes of the events' JSON:
//
//	go test ./engine -run XXX -bench DiskBytes -benchtime 1x -benchevents 1000000 -benchwide
//
// "seg" is the sealed segments, "idx" their segment indexes, "run" the id
// runs, "search" the bleve index, "wal" what the WAL still holds and
// "other" the snapshot, the lock and the files directory.
func BenchmarkDiskBytes(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		st := benchOpen(b, dir)
		var jsonBytes int
		for i := 0; i < *benchEvents; i += 1000 {
			evs := make([]trove.Event, 0, 1000)
			for k := i; k < min(i+1000, *benchEvents); k++ {
				e := benchEvent(k)
				j, err := json.Marshal(e)
				if err != nil {
					b.Fatal(err)
				}
				jsonBytes += len(j)
				evs = append(evs, e)
			}
			if _, err := st.SaveEvents(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for st.Stats()["index_lag"] > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		kinds := map[string]int64{}
		var total int64
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			kinds[diskKind(rel)] += fi.Size()
			total += fi.Size()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		n := float64(*benchEvents)
		for _, k := range []string{"seg", "idx", "run", "search", "wal", "other"} {
			b.ReportMetric(float64(kinds[k])/n, k+"-B/event")
		}
		b.ReportMetric(float64(total)/n, "disk-B/event")
		b.ReportMetric(float64(jsonBytes)/n, "json-B/event")
		b.StartTimer()
	}
}

// diskKind names the kind of a store file by its path in the store.
func diskKind(rel string) string {
	rel = filepath.ToSlash(rel)
	switch {
	case strings.HasPrefix(rel, "segments/") && strings.HasSuffix(rel, ".seg"):
		return "seg"
	case strings.HasPrefix(rel, "segments/") && strings.HasSuffix(rel, ".idx"):
		return "idx"
	case strings.HasPrefix(rel, "segments/") && strings.HasSuffix(rel, ".run"):
		return "run"
	case strings.HasPrefix(rel, "search.bleve/"):
		return "search"
	case strings.HasPrefix(rel, "wal/"):
		return "wal"
	}
	return "other"
}
