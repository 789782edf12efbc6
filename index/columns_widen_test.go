package index

import (
	"fmt"
	"sync"
	"testing"
)

// TestColumnsReaderDuringWiden: a reader holding Columns keeps
// reading them, without the lock, while the writer widens the chunk they
// end in (new versions, big versions, createdAt out of int32 range). Run
// with -race: the reader must see the same values and share no written
// memory with the writer.
func TestColumnsReaderDuringWiden(t *testing.T) {
	ix := New(Options{MaxPathValues: -1})
	defer ix.Close()
	const base = 1_700_000_000_000
	for p := uint32(1); p <= 100; p++ {
		if err := ix.Add(p, Doc{ID: fmt.Sprintf("id-%d", p), Version: 1, CreatedAt: base + int64(p), Schema: "s", Producer: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	var cols Columns
	ix.Read(func(r Reader) { cols = r.Columns() })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad string
	started := make(chan struct{})
	signal := sync.OnceFunc(func() { close(started) })
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer signal()
		for first := true; ; first = false {
			if !first {
				signal() // one full pass done: the writer may start
			}
			select {
			case <-stop:
				return
			default:
			}
			for p := uint32(1); p <= cols.Last; p++ {
				if cols.Version(p) != 1 || cols.Prev(p) != 0 || cols.Created(p) != base+int64(p) || cols.Schemas[cols.SchemaNum(p)] != "s" {
					bad = fmt.Sprintf("position %d changed", p)
					return
				}
			}
		}
	}()
	<-started
	docs := []Doc{
		{ID: "id-3", Version: 2, CreatedAt: base + 101},      // prev and version columns appear
		{ID: "new", Version: 80_000, CreatedAt: base + 102},  // 32-bit versions
		{ID: "old", Version: 1, CreatedAt: 5},                // 64-bit createdAt
		{ID: "id-4", Version: 2, CreatedAt: base + 1<<40},    // more of the same
		{ID: "id-5", Version: 2, CreatedAt: -(base + 1<<40)}, // and negative
	}
	for i, d := range docs {
		d.Schema, d.Producer = "s", "p"
		if err := ix.Add(uint32(101+i), d); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad != "" {
		t.Fatal(bad)
	}
	var now Columns
	ix.Read(func(r Reader) { now = r.Columns() })
	for i, d := range docs {
		p := uint32(101 + i)
		if now.Created(p) != d.CreatedAt || now.Version(p) != d.Version {
			t.Fatalf("position %d: %d v%d", p, now.Created(p), now.Version(p))
		}
	}
	if now.Prev(101) != 3 || now.Prev(104) != 4 {
		t.Fatal("prev", now.Prev(101), now.Prev(104))
	}
}
