package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// model is a brute-force store: every event in a slice, queries evaluated
// by trying each one.
type model struct {
	events []trove.Event             // by position-1
	added  map[int][]trove.EventLink // by position
}

func (m *model) Event(pos uint32) (trove.Event, error) {
	if pos == 0 || int(pos) > len(m.events) {
		return trove.Event{}, fmt.Errorf("position %d: %w", pos, trove.ErrNotFound)
	}
	return m.events[pos-1].Clone(), nil
}

// prefix returns the model of its first last events.
func (m *model) prefix(last uint32) *model {
	p := &model{events: m.events[:last], added: map[int][]trove.EventLink{}}
	for src, links := range m.added {
		if src <= int(last) {
			p.added[src] = links
		}
	}
	return p
}

// rawModel is the model as a RawSource.
type rawModel struct{ *model }

func (m rawModel) Payload(pos uint32) ([]byte, error) {
	if pos == 0 || int(pos) > len(m.events) {
		return nil, fmt.Errorf("position %d: %w", pos, trove.ErrNotFound)
	}
	return m.events[pos-1].Payload, nil
}

// modelSearcher answers searches over the model's first upTo positions:
// the true matches plus every seventh position (a superset, as a real
// searcher's). It is a RangeSearcher too.
type modelSearcher struct {
	m    *model
	upTo uint32
}

func (s modelSearcher) Search(ctx context.Context, q *trove.SearchQuery) (*roaring.Bitmap, uint32, bool) {
	return s.SearchRange(ctx, q, 1, 1<<32)
}

func (s modelSearcher) SearchRange(_ context.Context, q *trove.SearchQuery, lo, hi uint64) (*roaring.Bitmap, uint32, bool) {
	bm := roaring.New()
	for pos := max(lo, 1); pos < hi && pos <= uint64(s.upTo); pos++ {
		payload, _ := trove.DecodePayload(s.m.events[pos-1].Payload)
		if q.Match(payload) || pos%7 == 0 {
			bm.Add(uint32(pos))
		}
	}
	return bm, s.upTo, true
}

func (m *model) query(q *trove.CompiledQuery) []trove.Event {
	latest := map[string]int{}
	for _, e := range m.events {
		latest[e.ID.ID] = max(latest[e.ID.ID], e.ID.Version)
	}
	var items []trove.Sortable
	for i, e := range m.events {
		if !q.AllVersions() && latest[e.ID.ID] != e.ID.Version {
			continue
		}
		links := append(slices.Clip(e.Links), m.added[i+1]...)
		payload, _ := trove.DecodePayload(e.Payload)
		if q.MatchDecoded(&e, payload, links) {
			items = append(items, trove.Sortable{Event: e, Payload: payload})
		}
	}
	q.Sort(items)
	out := make([]trove.Event, len(items))
	for i := range items {
		out[i] = items[i].Event
	}
	return q.Page(out)
}

var (
	schemas   = []string{"a+v1", "b+v1", "c+v2"}
	producers = []string{"web", "cli", "job"}
	linkTypes = []string{"parent", "ref"}
	words     = []string{"red", "green", "blue", "disk full", "Disk", "empty"}
)

func randomPayload(r *rand.Rand) []byte {
	m := map[string]any{}
	if r.IntN(4) > 0 {
		m["color"] = words[r.IntN(len(words))]
	}
	switch r.IntN(5) {
	case 0:
		m["n"] = r.IntN(5)
	case 1:
		m["n"] = float64(r.IntN(5)) + 0.5
	case 2:
		m["n"] = json.Number(fmt.Sprintf("%d.0", r.IntN(5)))
	case 3:
		m["n"] = nil
	}
	if r.IntN(3) == 0 {
		m["ok"] = r.IntN(2) == 0
	}
	if r.IntN(3) == 0 {
		m["author"] = map[string]any{"name": words[r.IntN(3)], "tags": []any{"x", r.IntN(3)}}
	}
	m["uniq"] = r.IntN(1 << 30) // high cardinality: past the guard
	b, _ := json.Marshal(m)
	return b
}

func buildModel(r *rand.Rand, n int, opts index.Options) (*model, *index.Index) {
	base := time.Date(2025, 4, 15, 8, 0, 0, 0, time.UTC)
	return buildModelAt(r, n, opts, func(int) time.Time { return base.Add(time.Duration(r.IntN(3600)) * time.Second) })
}

// buildModelAt is buildModel with event i (from 0) created at created(i).
func buildModelAt(r *rand.Rand, n int, opts index.Options, created func(i int) time.Time) (*model, *index.Index) {
	m := &model{added: map[int][]trove.EventLink{}}
	ix := index.New(opts)
	versions := map[string]int{}
	for i := range n {
		pos := i + 1
		id := fmt.Sprintf("id-%d", r.IntN(n/2+1))
		versions[id]++
		e := trove.Event{
			ID:        trove.EventID{ID: id, Version: versions[id]},
			Position:  uint64(pos),
			CreatedAt: created(i),
			Producer:  producers[r.IntN(len(producers))],
			Schema:    trove.MustSchema(fmt.Sprintf(`{"$id":%q}`, schemas[r.IntN(len(schemas))])),
			Payload:   randomPayload(r),
		}
		for range r.IntN(3) {
			e.Links = append(e.Links, trove.EventLink{Type: linkTypes[r.IntN(2)], TargetEvent: trove.EventID{ID: fmt.Sprintf("id-%d", r.IntN(n/2+1))}})
		}
		m.events = append(m.events, e)
		if err := ix.Add(uint32(pos), docOf(e)); err != nil {
			panic(err)
		}
		if r.IntN(10) == 0 && pos > 1 {
			src := 1 + r.IntN(pos)
			l := trove.EventLink{Type: linkTypes[r.IntN(2)], TargetEvent: trove.EventID{ID: fmt.Sprintf("id-%d", r.IntN(n/2+1))}}
			m.added[src] = append(m.added[src], l)
			ix.AddLink(uint32(src), l)
		}
	}
	return m, ix
}

func docOf(e trove.Event) index.Doc {
	return index.Doc{ID: e.ID.ID, Version: e.ID.Version, CreatedAt: e.CreatedAt.UnixMilli(),
		Schema: e.Schema.Identity(), Producer: e.Producer, Links: e.Links, Payload: e.Payload}
}

func randomQuery(r *rand.Rand) trove.EventQuery {
	var q trove.EventQuery
	if r.IntN(3) == 0 {
		q.Schema = []string{schemas[r.IntN(3)]}
		if r.IntN(4) == 0 {
			q.Schema = append(q.Schema, "nope")
		}
	}
	if r.IntN(3) == 0 {
		q.Producer = []string{producers[r.IntN(3)], producers[r.IntN(3)]}
	}
	if r.IntN(4) == 0 {
		start := time.Date(2025, 4, 15, 8, r.IntN(60), 0, 0, time.UTC)
		q.TimeRange = &trove.TimeRange{Start: start.Format(time.RFC3339), End: start.Add(time.Duration(r.IntN(40)) * time.Minute).Format(time.RFC3339Nano)}
	}
	if r.IntN(4) == 0 {
		var cr trove.LinkCriterion
		if r.IntN(2) == 0 {
			cr.Type = linkTypes[r.IntN(2)]
		}
		if r.IntN(2) == 0 {
			cr.TargetEvent = &trove.EventID{ID: fmt.Sprintf("id-%d", r.IntN(20))}
		}
		q.Links = []trove.LinkCriterion{cr}
	}
	if r.IntN(2) == 0 {
		q.Payload = map[string]any{}
		switch r.IntN(6) {
		case 0:
			q.Payload["color"] = words[r.IntN(len(words))]
		case 1:
			q.Payload["n"] = json.Number(fmt.Sprint(r.IntN(5)))
		case 2:
			q.Payload["n"] = 1.5
		case 3:
			q.Payload["n"] = nil
		case 4:
			q.Payload["author.name"] = words[r.IntN(3)]
		case 5:
			q.Payload["uniq"] = 7
		}
		if r.IntN(4) == 0 {
			q.Payload["ok"] = true
		}
	}
	if r.IntN(5) == 0 {
		q.Search = []string{"color:disk", "+color:red -ok:true", `"disk full"`, "n:>2", "green"}[r.IntN(5)]
	}
	q.AllVersions = r.IntN(3) == 0
	switch r.IntN(6) {
	case 1:
		q.Sort = []trove.SortField{{Field: "createdAt", Direction: []string{"asc", "desc"}[r.IntN(2)]}}
	case 2:
		q.Sort = []trove.SortField{{Field: "position", Direction: "desc"}}
	case 3:
		q.Sort = []trove.SortField{{Field: "payload.n"}, {Field: "producer", Direction: "desc"}}
	case 4:
		q.Sort = []trove.SortField{{Field: "id"}}
	}
	if r.IntN(2) == 0 {
		q.Limit = trove.Limit(r.IntN(20))
	}
	if r.IntN(3) == 0 {
		q.Offset = r.IntN(10)
	}
	return q
}

func positions(evs []trove.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// TestModel checks Run against the brute-force model on random events and
// queries, with the payload guard low enough that some paths fall back to
// scanning, again after a snapshot round trip, and again with windowed
// runs over windows of a few positions.
func TestModel(t *testing.T) {
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 99))
		maxValues := []int{3, 64, -1, 0}[seed]
		m, ix := buildModel(r, 600, index.Options{MaxPathValues: maxValues})
		var buf bytes.Buffer
		if err := ix.Encode(&buf, []byte("meta")); err != nil {
			t.Fatal(err)
		}
		ix2, meta, err := index.Decode("snap", buf.Bytes())
		if err != nil || string(meta) != "meta" {
			t.Fatalf("decode: %v %q", err, meta)
		}
		// Trimmed: segment indexes answer for a prefix, the heap for the
		// rest; after a snapshot round trip, with the same segment
		// indexes, with only the first (the rest of the trimmed prefix
		// is then all candidates), and with none.
		segs := segIndexes(t, m, r)
		trimmed := decodeIndex(t, buf.Bytes())
		trimmed.SetSegments(segs)
		var tbuf bytes.Buffer
		if err := trimmed.Encode(&tbuf, nil); err != nil {
			t.Fatal(err)
		}
		again, partial, none := decodeIndex(t, tbuf.Bytes()), decodeIndex(t, tbuf.Bytes()), decodeIndex(t, tbuf.Bytes())
		again.SetSegments(segs)
		partial.SetSegments(segs[:1])
		if trimmed.Trimmed() != segs[len(segs)-1].Last() || none.Trimmed() != trimmed.Trimmed() {
			t.Fatalf("trimmed %d and %d after a round trip, segments up to %d", trimmed.Trimmed(), none.Trimmed(), segs[len(segs)-1].Last())
		}
		for i := range 400 {
			eq := randomQuery(r)
			q, err := eq.Compile()
			if err != nil {
				t.Fatalf("compile %+v: %v", eq, err)
			}
			want := positions(m.query(q))
			// Index 2 runs position-ordered pages in tiny windows; 3 and
			// 4 with a searcher covering a prefix of the log (4 in tiny
			// windows); 1 and 3 read from a RawSource.
			for k, x := range []*index.Index{ix, ix2, ix, ix, ix, trimmed, again, partial, none} {
				opts := Options{}
				if k >= 5 && r.IntN(2) == 0 {
					k = 2 + 2*r.IntN(2) // windowed, with or without a searcher
				}
				if k == 2 || k == 4 {
					opts.window = 1 + uint64(r.IntN(40))
				}
				if k == 3 || k == 4 {
					opts.Searcher = modelSearcher{m: m, upTo: uint32(r.IntN(len(m.events) + 1))}
				}
				var src Source = m
				if k%2 == 1 {
					src = rawModel{m}
				}
				got, err := Run(context.Background(), x, src, q, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(positions(got), want) {
					js, _ := json.Marshal(eq)
					t.Fatalf("seed %d query %d (index %d): %s\n got %v\nwant %v", seed, i, k, js, positions(got), want)
				}
			}
			// Bounded: the index as it was at a random earlier position
			// (versions superseded only later still count).
			last := uint32(r.IntN(len(m.events) + 1))
			prefix := m.prefix(last)
			got, err := Run(context.Background(), ix, prefix, q, Options{Bounded: true, Last: last})
			if err != nil {
				t.Fatal(err)
			}
			if want := positions(prefix.query(q)); !slices.Equal(positions(got), want) {
				js, _ := json.Marshal(eq)
				t.Fatalf("seed %d query %d (bounded at %d): %s\n got %v\nwant %v", seed, i, last, js, positions(got), want)
			}
			// A plan counts its candidates as the bitmap it builds holds them.
			plan := NewPlan(context.Background(), ix, q, Options{Bounded: true, Last: last})
			if n := plan.Candidates(); n != plan.candidates().GetCardinality() {
				t.Fatalf("seed %d query %d (bounded at %d): %d candidates counted, %d built", seed, i, last, n, plan.candidates().GetCardinality())
			}
		}
	}
}

// segIndexes builds the segment indexes of a prefix of the model's log
// (about two thirds of it), in segments of random sizes.
func segIndexes(t *testing.T, m *model, r *rand.Rand) []*index.SegIndex {
	t.Helper()
	latest := map[string]uint32{}
	var segs []*index.SegIndex
	end := uint32(len(m.events) * 2 / 3)
	for first := uint32(1); first <= end; {
		last := min(end, first+uint32(1+r.IntN(150)))
		b := index.NewSegIndexBuilder(first)
		for pos := first; pos <= last; pos++ {
			e := m.events[pos-1]
			if err := b.Add(pos, latest[e.ID.ID], docOf(e)); err != nil {
				t.Fatal(err)
			}
			latest[e.ID.ID] = pos
		}
		var buf bytes.Buffer
		if err := b.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		si, err := index.DecodeSegIndex("seg.idx", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, si)
		first = last + 1
	}
	return segs
}

func decodeIndex(t *testing.T, snap []byte) *index.Index {
	t.Helper()
	ix, _, err := index.Decode("snap", snap)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestCreatedOrder checks createdAt-sorted pages against the model on a log
// long enough to have many time chunks, mostly in time order but with ties
// and with imported events of any createdAt, including ones newer and
// older than everything else, so that the chunk walk must find them through
// their chunks' bounds.
//
// The third case is long enough for groups of chunks (index.GroupChunks),
// with imported events rare enough that most groups' bounds rule them out
// whole and a few groups must be walked chunk by chunk.
func TestCreatedOrder(t *testing.T) {
	cases := []struct {
		n, queries, importOneIn int
	}{
		{4*index.ChunkSize + 300, 150, 50},
		{4*index.ChunkSize + 300, 150, 50},
		{2*index.GroupChunks*index.ChunkSize + 5*index.ChunkSize + 300, 12, 20000},
	}
	if testing.Short() {
		cases = cases[:2]
	}
	for seed, tc := range cases {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		base := time.Date(2025, 4, 15, 8, 0, 0, 0, time.UTC)
		n := tc.n
		m, ix := buildModelAt(r, n, index.Options{MaxPathValues: []int{3, 64, 64}[seed]}, func(i int) time.Time {
			if r.IntN(tc.importOneIn) == 0 { // imported: anywhere, before or after the rest
				return base.Add(time.Duration(r.IntN(3*n)-n) * time.Second)
			}
			if r.IntN(50) == 1 { // a burst sharing one millisecond
				return base.Add(time.Duration(i/2) * time.Second)
			}
			return base.Add(time.Duration(i/3) * time.Second)
		})
		var groups int
		ix.Read(func(r index.Reader) { groups = r.Columns().Groups() })
		if groups != n/index.ChunkSize/index.GroupChunks {
			t.Fatalf("seed %d: %d groups of chunks for %d positions", seed, groups, n)
		}
		for i := range tc.queries {
			eq := randomQuery(r)
			eq.Search = ""
			eq.Sort = []trove.SortField{{Field: "createdAt", Direction: []string{"asc", "desc"}[r.IntN(2)]}}
			eq.Limit = trove.Limit([]int{1, 5, 20, 100, 3000}[r.IntN(5)])
			if r.IntN(4) == 0 {
				eq.Offset = r.IntN(50)
			}
			q, err := eq.Compile()
			if err != nil {
				t.Fatalf("compile %+v: %v", eq, err)
			}
			want := positions(m.query(q))
			got, err := Run(context.Background(), ix, rawModel{m}, q, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(positions(got), want) {
				js, _ := json.Marshal(eq)
				t.Fatalf("seed %d query %d: %s\n got %v\nwant %v", seed, i, js, positions(got), want)
			}
		}
	}
}
