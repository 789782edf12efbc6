package segment

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/trovedb/trove"
)

// ScanWAL reads the entries of the WAL in dir from index from on, file by
// file, for a WAL that OpenWAL refuses (damage before the tail): nothing is
// opened through tidwall/wal, written, locked or repaired. entry gets each
// entry whose frame verifies (FORMAT.md §2.2: type, flags, length, CRC-32C)
// and whose records decode, in index order; the records' bodies alias a
// buffer owned by the caller. Damage does not stop the scan: each stretch
// of a file holding no verifiable frame goes to skip once, as a
// *trove.CorruptionError with the file and the offset where it starts, and
// the scan goes on at the next offset where a frame of a later index
// verifies (a frame names its index and carries a checksum, so a frame
// found there is one the log wrote), or at the next file. A frame whose
// index is not after the last one read is left out. An error from entry
// or skip stops the scan and is returned; so is a file that cannot be
// read.
func ScanWAL(dir string, from uint64, entry func(index uint64, recs []Record) error, skip func(*trove.CorruptionError) error) error {
	files, err := listWALFiles(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("segment: scan wal: %w", err)
	}
	var next uint64 // the least index a frame may have (0 before the first)
	for i, f := range files {
		if i+1 < len(files) && files[i+1].index <= from {
			continue // every entry of f comes before from
		}
		path := filepath.Join(dir, f.name)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("segment: scan wal: %w", err)
		}
		next = max(next, f.index)
		for off := 0; off < len(data); {
			index, recs, end, reason := walEntryAt(data, off, next)
			if reason == "" {
				if index >= from {
					if err := entry(index, recs); err != nil {
						return err
					}
				}
				next, off = index+1, end
				continue
			}
			// A damaged stretch: find the next frame that verifies.
			resume := len(data)
			for p := off + 1; p < len(data); p++ {
				if _, _, _, r := walEntryAt(data, p, next); r == "" {
					resume = p
					break
				}
			}
			c := &trove.CorruptionError{File: path, Offset: int64(off),
				Reason: fmt.Sprintf("segment: wal: %s; %d bytes without a verifiable frame skipped", reason, resume-off)}
			if err := skip(c); err != nil {
				return err
			}
			off = resume
		}
	}
	return nil
}

// walEntryAt reads the tidwall entry at data[off:] as a WAL frame whose
// index is at least next: its index, records and end offset, or the reason
// it is not one. checkFrame looks at the header before the checksum, so
// that trying every offset of a damaged stretch stays linear in practice.
func walEntryAt(data []byte, off int, next uint64) (uint64, []Record, int, string) {
	frame, end, ok := nextEntry(data, off)
	if !ok {
		return 0, nil, 0, "an entry length that runs past the file"
	}
	h, reason := checkFrame(frame)
	if reason != "" {
		return 0, nil, 0, reason
	}
	if h.index < next {
		return 0, nil, 0, fmt.Sprintf("a frame of WAL index %d, expected %d or later", h.index, next)
	}
	recs, _, err := decodeRecords(frame[frameHeaderSize:], nil)
	if err != nil {
		return 0, nil, 0, err.Error()
	}
	return h.index, recs, end, ""
}
