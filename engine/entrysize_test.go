package engine

import (
	"testing"

	"github.com/trovedb/trove/segment"
)

// TestFitsEntry checks the bound SaveLink and SaveSchema apply before a
// record joins a group: a WAL entry over segment.MaxBodySize would be
// refused by the WAL after the group was accepted, failing the store.
func TestFitsEntry(t *testing.T) {
	const mib = 1 << 20
	buf := make([]byte, mib) // shared by every record: nothing big is allocated
	recs := func(n int, last int) []segment.Record {
		out := make([]segment.Record, n, n+1)
		for i := range out {
			out[i] = segment.Record{Type: recLink, Body: buf}
		}
		return append(out, segment.Record{Type: recLink, Body: buf[:last]})
	}
	full := segment.MaxBodySize/mib - 1 // whole MiB records that fit with room to spare
	if !fitsEntry(recs(full, 0)) {
		t.Fatalf("%d records of 1 MiB do not fit", full)
	}
	if fitsEntry(recs(full+1, mib)) {
		t.Fatalf("%d MiB of records fit in an entry of at most %d bytes", full+2, segment.MaxBodySize)
	}
	if !fitsEntry(nil) {
		t.Fatal("an empty entry does not fit")
	}
}
