package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/trovedb/trove"
)

// checkIDRunFile checks the id run file f, mapped as data, as
// DecodeIDRun does, reading its entries and filter with pread a chunk at
// a time instead of through the map: on a host where a page fault costs
// microseconds, faulting in a run of millions of ids (and its hashes and
// positions twice, once for their checksums and once for their order)
// took several times as long as reading it. The header and the trailer
// are decoded from the map, the only pages of it the check touches.
func checkIDRunFile(f *os.File, file string, data []byte) (*IDRun, error) {
	r, err := decodeIDRun(file, data, &IDRun{}) // header, sizes, trailer
	if err != nil {
		return nil, err
	}
	corrupt := func(off int64, format string, args ...any) error {
		return &trove.CorruptionError{File: file, Offset: off, Reason: "index: id run: " + fmt.Sprintf(format, args...)}
	}
	n := len(r.hash)
	hashOff := int64(idRunHeaderSize)
	posOff := hashOff + 8*int64(n)
	filterOff := posOff + int64(runPosBytes(uint64(n)))
	end := filterOff + 8*int64(len(r.filter))
	tr := data[len(data)-idRunTrailer:]
	const chunk = checkChunk / 8 // entries a read
	hb := make([]byte, 8*chunk)
	pb := make([]byte, 4*chunk)
	var hsum, psum uint32
	fence := make([]uint64, 0, (n+fenceStep-1)/fenceStep)
	disorder := -1 // the first entry out of order; reported once the checksums hold
	var prevH uint64
	var prevP uint32
	for i := 0; i < n; i += chunk {
		m := min(chunk, n-i)
		if _, err := f.ReadAt(hb[:8*m], hashOff+8*int64(i)); err != nil {
			return nil, fmt.Errorf("index: id run: %w", err)
		}
		if _, err := f.ReadAt(pb[:4*m], posOff+4*int64(i)); err != nil {
			return nil, fmt.Errorf("index: id run: %w", err)
		}
		hsum = crc32.Update(hsum, castagnoli, hb[:8*m])
		psum = crc32.Update(psum, castagnoli, pb[:4*m])
		for j := range m {
			h := binary.LittleEndian.Uint64(hb[8*j:])
			p := binary.LittleEndian.Uint32(pb[4*j:])
			k := i + j
			if disorder < 0 && (k == 0 && !r.inRange(p) || k > 0 && !r.follows(prevH, prevP, h, p)) {
				disorder = k
			}
			if k%fenceStep == 0 {
				fence = append(fence, h)
			}
			prevH, prevP = h, p
		}
	}
	// The positions' padding, then the filter, in the checksums of their
	// sections.
	rest := func(sum uint32, off, to int64) (uint32, error) {
		for off < to {
			m := min(int64(len(hb)), to-off)
			if _, err := f.ReadAt(hb[:m], off); err != nil {
				return 0, fmt.Errorf("index: id run: %w", err)
			}
			sum = crc32.Update(sum, castagnoli, hb[:m])
			off += m
		}
		return sum, nil
	}
	if psum, err = rest(psum, posOff+4*int64(n), filterOff); err != nil {
		return nil, err
	}
	fsum, err := rest(0, filterOff, end)
	if err != nil {
		return nil, err
	}
	for k, c := range []struct {
		sum uint32
		off int64
	}{{hsum, hashOff}, {psum, posOff}, {fsum, filterOff}} {
		if c.sum != binary.LittleEndian.Uint32(tr[4*k:]) {
			return nil, corrupt(c.off, "section %d checksum mismatch", k)
		}
	}
	if disorder >= 0 {
		return nil, corrupt(-1, "entries out of order at entry %d", disorder)
	}
	r.fence = fence
	return r, nil
}
