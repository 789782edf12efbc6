package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

// testBlock returns a block of the given size whose first position names
// its segment and number, so a lookup can tell whose block it got.
func testBlock(seg, idx int, size int64) *block {
	return &block{first: uint64(seg)<<32 | uint64(idx), size: size}
}

// checkCache verifies the cache's bookkeeping against its maps: every
// cached block is in its shard's map under its key, its size is counted
// once, and no map holds a block the cache has dropped.
func checkCache(t *testing.T, c *blockCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var size int64
	count := 0
	inRing := map[*block]bool{}
	for _, e := range c.mu.ring {
		if e.blk == nil {
			continue
		}
		count++
		size += e.blk.size
		inRing[e.blk] = true
		if got := c.shard(e.key).m[e.key]; got != e.blk {
			t.Fatalf("ring entry (%d, %d) is not in its map", e.key.sg.id, e.key.idx)
		}
	}
	if count != c.mu.count || size != c.mu.size || len(c.mu.ring)-len(c.mu.free) != count {
		t.Fatalf("cache counts %d blocks of %d bytes (%d ring places, %d free); ring holds %d of %d",
			c.mu.count, c.mu.size, len(c.mu.ring), len(c.mu.free), count, size)
	}
	held := 0
	for i := range c.shards {
		for k, b := range c.shards[i].m {
			held++
			if c.shard(k) != &c.shards[i] {
				t.Fatalf("block (%d, %d) in shard %d, not its own", k.sg.id, k.idx, i)
			}
			if !inRing[b] {
				t.Fatalf("map entry (%d, %d) holds a block the cache dropped", k.sg.id, k.idx)
			}
		}
	}
	if held != count {
		t.Fatalf("maps hold %d blocks, ring %d", held, count)
	}
}

// cachedOf counts the blocks of sg in the cache's maps.
func cachedOf(c *blockCache, sg *sealed) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.shards {
		for k := range c.shards[i].m {
			if k.sg == sg {
				n++
			}
		}
	}
	return n
}

func testSegs(n int) []*sealed {
	segs := make([]*sealed, n)
	for i := range segs {
		segs[i] = &sealed{id: uint64(i)}
	}
	return segs
}

func TestBlockCacheEvictsBySize(t *testing.T) {
	segs := testSegs(2)
	c := newBlockCache(1000)
	for i := range 100 {
		sg := segs[i%2]
		b := testBlock(i%2, i/2, 100)
		if got := c.put(sg, i/2, b); got != b {
			t.Fatalf("put %d returned another block", i)
		}
		if got := c.get(sg, i/2); got != b {
			t.Fatalf("block %d not cached right after put", i)
		}
		blocks, size := c.stats()
		if size > 1000 || blocks != min(i+1, 10) {
			t.Fatalf("after %d puts: %d blocks, %d bytes; want %d blocks, at most 1000 bytes", i+1, blocks, size, min(i+1, 10))
		}
		checkCache(t, c)
	}
	// Blocks of different sizes: the total stays bounded, holes are reused.
	for i := range 200 {
		c.put(segs[i%2], i%50, testBlock(i%2, i%50, int64(50+i%7*60)))
		if _, size := c.stats(); size > 1000 {
			t.Fatalf("%d bytes cached past 1000", size)
		}
		checkCache(t, c)
	}
	if len(c.mu.ring) > 20 {
		t.Fatalf("ring of %d places for at most 20 blocks", len(c.mu.ring))
	}
	// A segment no longer read loses its blocks: what the cache keeps is
	// the blocks it holds, whichever segments they come from.
	for i := range 50 {
		c.put(segs[1], i, testBlock(1, i, 100))
		checkCache(t, c)
	}
	if n := cachedOf(c, segs[0]); n != 0 {
		t.Fatalf("a segment no longer read keeps %d blocks", n)
	}
}

// TestBlockCacheKeepsWhatIsRead: a block read between insertions survives
// any number of them (CLOCK gives it a second chance each sweep), while
// blocks never read again go.
func TestBlockCacheKeepsWhatIsRead(t *testing.T) {
	segs := testSegs(1)
	sg := segs[0]
	c := newBlockCache(10 * 100)
	hot := testBlock(0, 0, 100)
	c.put(sg, 0, hot)
	for i := 1; i < 1000; i++ {
		if c.get(sg, 0) != hot {
			t.Fatalf("hot block evicted at insertion %d", i)
		}
		c.put(sg, i, testBlock(0, i, 100))
	}
	cached := 0
	for i := 1; i < 1000; i++ {
		if c.get(sg, i) != nil {
			cached++
		}
	}
	if cached != 9 {
		t.Fatalf("%d cold blocks cached, want 9", cached)
	}
	checkCache(t, c)
}

func TestBlockCacheEdges(t *testing.T) {
	segs := testSegs(1)
	sg := segs[0]
	t.Run("first put wins", func(t *testing.T) {
		c := newBlockCache(1 << 20)
		a, b := testBlock(0, 1, 10), testBlock(0, 1, 10)
		if c.put(sg, 1, a) != a || c.put(sg, 1, b) != a || c.get(sg, 1) != a {
			t.Fatal("a second put of the same block replaced the first")
		}
		if n, size := c.stats(); n != 1 || size != 10 {
			t.Fatalf("%d blocks, %d bytes", n, size)
		}
	})
	t.Run("oversized block kept alone", func(t *testing.T) {
		segs := testSegs(1)
		sg := segs[0]
		c := newBlockCache(100)
		c.put(sg, 0, testBlock(0, 0, 60))
		big := testBlock(0, 1, 500)
		if c.put(sg, 1, big) != big || c.get(sg, 1) != big || c.get(sg, 0) != nil {
			t.Fatal("an oversized block did not replace the others")
		}
		c.put(sg, 2, testBlock(0, 2, 60))
		if c.get(sg, 1) != nil || c.get(sg, 2) == nil {
			t.Fatal("the oversized block outlived the next put")
		}
		checkCache(t, c)
	})
	t.Run("disabled", func(t *testing.T) {
		segs := testSegs(1)
		sg := segs[0]
		c := newBlockCache(-1)
		b := testBlock(0, 0, 10)
		if c.put(sg, 0, b) != b || c.get(sg, 0) != nil || cachedOf(c, sg) != 0 {
			t.Fatal("a disabled cache kept a block")
		}
	})
}

// TestBlockCacheConcurrent: readers and writers of overlapping blocks
// (run with -race) always get back the block of the key they asked for,
// and the bookkeeping holds at the end.
func TestBlockCacheConcurrent(t *testing.T) {
	segs := testSegs(3)
	c := newBlockCache(40 * 100)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 20000 {
				s, i := r.IntN(len(segs)), r.IntN(64)
				want := uint64(s)<<32 | uint64(i)
				b := c.get(segs[s], i)
				if b == nil {
					b = c.put(segs[s], i, testBlock(s, i, int64(50+r.IntN(100))))
				}
				if b.first != want {
					errs <- fmt.Errorf("block (%d, %d): got the block of %x", s, i, b.first)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, size := c.stats(); size > 40*100 {
		t.Fatalf("%d bytes cached past %d", size, 40*100)
	}
	checkCache(t, c)
}

// TestReadsThroughSmallCache: a store whose cache holds a few blocks reads
// every sealed event right, from several goroutines at once, while the
// cache evicts all the time; some blocks also hold link records, which the
// cached block leaves out.
func TestReadsThroughSmallCache(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{SegmentSize: 16 << 10, CacheSize: 4 << 10, SearchIndex: "off"})
	ctx := context.Background()
	for i := 0; i < 600; i += 50 {
		saveBatches(t, st, i, 50, 50)
		for k := i; k < i+50; k += 7 {
			link := trove.EventLink{Type: "rel", TargetEvent: trove.EventID{ID: testEvent(i).ID.ID, Version: 1}}
			if err := st.SaveLink(ctx, trove.EventID{ID: testEvent(k).ID.ID, Version: 1}, link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, Options{SegmentSize: 16 << 10, CacheSize: 4 << 10, SearchIndex: "off"})
	defer st.Close()
	if len(st.view.Load().segs) < 2 {
		t.Fatalf("%d sealed segments", len(st.view.Load().segs))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 600 {
				i := (k*7 + g*200) % 600
				e, err := st.GetEvent(ctx, trove.EventID{ID: testEvent(i).ID.ID})
				if err != nil {
					errs <- err
					return
				}
				want := testEvent(i)
				if e.Position != uint64(i+1) || string(e.Payload) != string(want.Payload) || e.Producer != want.Producer {
					errs <- fmt.Errorf("event %d: got position %d, producer %q, payload %s", i, e.Position, e.Producer, e.Payload)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, size := st.cache.stats(); size > 4<<10 && n > 1 {
		t.Fatalf("cache holds %d blocks of %d bytes, option 4 KiB", n, size)
	}
}
