package index

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestLookupModel checks every lookup against a plain model of the
// log, with ids forced onto a few hashes (shared hashes, shared
// fingerprints across sub-tables), versions interleaved, Readable moving
// at random (sometimes ahead of the index), and a snapshot round trip.
func TestLookupModel(t *testing.T) {
	hashes := []func(string) uint64{
		func(id string) uint64 { return uint64(len(id) % 3) },              // 3 shared hashes
		func(id string) uint64 { return uint64(len(id)%2)<<56 | 0xabcdef }, // one fingerprint, two sub-tables
		nil,
	}
	for hi, hash := range hashes {
		rng := rand.New(rand.NewPCG(uint64(hi), 9))
		log := &idLog{}
		ix := New(Options{IDAt: log.at, MaxPathValues: -1})
		ix.st.ids.hashFn = hash
		versions := map[string]int{}
		var n uint32
		const total = 1500
		for n < total {
			id := fmt.Sprintf("id-%d", rng.IntN(60)) + string(make([]byte, rng.IntN(2)))
			if rng.IntN(4) == 0 {
				id = fmt.Sprintf("x%d", n) // a new id
			}
			versions[id]++
			n++
			log.ids = append(log.ids, id)
			if err := ix.Add(n, Doc{ID: id, Version: versions[id], Schema: "s", Producer: "p", CreatedAt: int64(n)}); err != nil {
				t.Fatalf("hash %d: add %d: %v", hi, n, err)
			}
			switch rng.IntN(10) {
			case 0:
				ix.Readable(n)
			case 1:
				ix.Readable(n - uint32(rng.IntN(5))) // lagging
			}
		}
		check := func(what string, ix *Index) {
			t.Helper()
			for _, last := range []uint32{0, 1, 7, 100, 733, total - 1, total, ^uint32(0)} {
				// The model: newest position of each id up to last, and of
				// each (id, version).
				latest := map[string]uint32{}
				at := map[string]uint32{}
				for p := uint32(1); p <= min(last, total); p++ {
					id := log.ids[p-1]
					latest[id] = p
					at[fmt.Sprintf("%s@%d", id, ix.st.version(p))] = p
				}
				for id, vmax := range versions {
					p, ok, err := ix.Find(id, 0, last)
					if err != nil || ok != (latest[id] != 0) || p != latest[id] {
						t.Fatalf("hash %d %s: %q as of %d: %d %v %v, want %d", hi, what, id, last, p, ok, err, latest[id])
					}
					for v := 1; v <= vmax+1; v++ {
						want := at[fmt.Sprintf("%s@%d", id, v)]
						p, ok, err := ix.Find(id, v, last)
						if err != nil || ok != (want != 0) || p != want {
							t.Fatalf("hash %d %s: %q@%d as of %d: %d %v %v, want %d", hi, what, id, v, last, p, ok, err, want)
						}
					}
				}
			}
			if _, ok := ix.Lookup("nope", 0); ok {
				t.Fatalf("hash %d %s: an unknown id was found", hi, what)
			}
		}
		check("live", ix)
		var buf bytes.Buffer
		if err := ix.Encode(&buf, []byte("m")); err != nil {
			t.Fatal(err)
		}
		ix2, meta, err := DecodeWith("f", buf.Bytes(), Options{IDAt: log.at})
		if err != nil || string(meta) != "m" {
			t.Fatal(meta, err)
		}
		ix2.st.ids.hashFn = hash
		ix2.Readable(total)
		check("decoded", ix2)
		ix.Close()
		ix2.Close()
	}
}

// TestReadableAhead: Readable may run ahead of the index (the log
// is committed before it is indexed); positions added after that keep no
// text, later ones do again, and every id is found either way.
func TestReadableAhead(t *testing.T) {
	log := &idLog{}
	ix := New(Options{IDAt: log.at})
	defer ix.Close()
	ix.st.ids.hashFn = func(string) uint64 { return 1 }
	for p := 1; p <= 30; p++ {
		log.ids = append(log.ids, fmt.Sprintf("id-%d", p%12))
	}
	v := map[string]int{}
	add := func(p uint32) {
		t.Helper()
		id := log.ids[p-1]
		v[id]++
		if err := ix.Add(p, Doc{ID: id, Version: v[id]}); err != nil {
			t.Fatal(err)
		}
	}
	for p := uint32(1); p <= 5; p++ {
		add(p)
	}
	ix.Readable(20)
	for p := uint32(6); p <= 30; p++ {
		add(p)
	}
	if len(ix.st.pend.ends) != 10 || ix.st.pend.start != 20 {
		t.Fatalf("pending text: start %d, %d ids; want 20, 10", ix.st.pend.start, len(ix.st.pend.ends))
	}
	for p := uint32(1); p <= 30; p++ {
		id := log.ids[p-1]
		got, ok, err := ix.Find(id, 0, p)
		if err != nil || !ok || got != p {
			t.Fatalf("%s as of %d: %d %v %v", id, p, got, ok, err)
		}
	}
}

// TestConcurrentLookups: readers look ids up (through pending text
// and IDAt) while the writer adds versions, grows the id table and moves
// Readable. Every id a reader saw at a position stays found at or after
// it. Run with -race.
func TestConcurrentLookups(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	idAt := func(pos uint32) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if pos == 0 || int(pos) > len(ids) {
			return "", fmt.Errorf("no position %d", pos)
		}
		return ids[pos-1], nil
	}
	ix := New(Options{IDAt: idAt, MaxPathValues: -1})
	defer ix.Close()
	const total = 4000
	name := func(p int) string { return fmt.Sprintf("id-%d", p%1500) }
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; ; round++ {
				last := ix.Last()
				if last == total {
					return
				}
				p := 1 + (round*7919+r)%int(max(last, 1))
				if last == 0 {
					continue
				}
				got, ok, err := ix.Find(name(p), 0, ^uint32(0))
				if err != nil || !ok || got < uint32(p) {
					errs <- fmt.Sprintf("%s (added at %d): %d %v %v", name(p), p, got, ok, err)
					return
				}
			}
		}()
	}
	v := map[string]int{}
	for p := 1; p <= total; p++ {
		id := name(p)
		v[id]++
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		if err := ix.Add(uint32(p), Doc{ID: id, Version: v[id], CreatedAt: int64(p)}); err != nil {
			t.Fatal(err)
		}
		if p%37 == 0 {
			ix.Readable(uint32(p - 5))
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
