package index

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// TestColumnsWiden: values that do not fit a chunk's narrow columns
// (createdAt far from the chunk's first, versions and pair numbers past
// 16 bits) widen that column mid-chunk; every value reads back exactly,
// through Columns taken before and after, and through a snapshot.
func TestColumnsWiden(t *testing.T) {
	ix := New(Options{MaxPathValues: -1})
	defer ix.Close()
	const n = 5*colChunkSize - 100
	type row struct {
		id      string
		created int64
		version int
		prod    string
		prev    uint32
	}
	rows := make([]row, n+1)
	for p := 1; p <= n; p++ {
		r := row{id: fmt.Sprintf("id-%d", p), created: 1_700_000_000_000 + int64(p)*10, version: 1, prod: "p"}
		switch {
		case p > colChunkSize+500 && p <= 2*colChunkSize: // chunk 1: times jump by years, back and forth
			r.created += int64(p%3-1) * 3_000_000_000_000
		case p > 2*colChunkSize+7 && p <= 3*colChunkSize: // chunk 2: big versions
			r.version = 70_000 + p
		}
		if p > 10_000 { // 16 bits of pair numbers run out in chunk 4
			r.prod = fmt.Sprintf("p%d", p)
		}
		if p > 3*colChunkSize+100 && p%5 == 0 { // chunk 3 from its 100th: new versions
			r.id, r.version, r.prev = rows[p-3].id, rows[p-3].version+1, uint32(p-3)
		}
		rows[p] = r
	}
	var before Columns
	for p := 1; p <= n; p++ {
		r := rows[p]
		if err := ix.Add(uint32(p), Doc{ID: r.id, Version: r.version, CreatedAt: r.created, Schema: "s", Producer: r.prod}); err != nil {
			t.Fatal(err)
		}
		if p == colChunkSize+600 || p == 2*colChunkSize+8 || p == 3*colChunkSize+200 {
			ix.Read(func(r Reader) { before = r.Columns() })
		}
	}
	verify := func(what string, c Columns, last int) {
		t.Helper()
		for p := 1; p <= last; p++ {
			r := rows[p]
			pos := uint32(p)
			if c.Created(pos) != r.created || c.Version(pos) != r.version || c.Producers[c.ProducerNum(pos)] != r.prod ||
				c.Schemas[c.SchemaNum(pos)] != "s" || c.Prev(pos) != r.prev {
				t.Fatalf("%s: position %d: %d %d %q, want %+v", what, p, c.Created(pos), c.Version(pos), c.Producers[c.ProducerNum(pos)], r)
			}
		}
	}
	var after Columns
	ix.Read(func(r Reader) { after = r.Columns() })
	verify("before", before, int(before.Last))
	verify("after", after, n)
	var buf bytes.Buffer
	if err := ix.Encode(&buf, nil); err != nil {
		t.Fatal(err)
	}
	ix2, _, err := Decode("f", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	ix2.Read(func(r Reader) { verify("decoded", r.Columns(), n) })
	// Which columns each chunk grew.
	var got []string
	for k, ch := range ix.st.cols.chunks {
		got = append(got, fmt.Sprintf("%d:%v%v%v%v%v", k, ch.created != nil, ch.version16 != nil, ch.version != nil, ch.pair != nil, ch.prev != nil))
	}
	want := []string{"0:falsefalsefalsefalsefalse", "1:truefalsefalsefalsefalse", "2:falsefalsetruefalsefalse",
		"3:falsetruefalsefalsetrue", "4:falsetruefalsetruetrue"}
	if !slices.Equal(got, want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	for p := 3*colChunkSize + 1; p <= n; p++ {
		if r := rows[p]; r.prev != 0 {
			if got, ok := ix.Lookup(r.id, r.version); !ok || got != uint32(p) {
				t.Fatalf("%s@%d: %d %v, want %d", r.id, r.version, got, ok, p)
			}
		}
	}
}
