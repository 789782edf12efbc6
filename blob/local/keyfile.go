package local

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/trovedb/trove/blob"
)

// The key file of a sealed pack (FORMAT.md, section 6): the pack's
// committed put and delete records, so that Open replays them without
// reading the pack.
const (
	keysMagic   = "trovepks"
	keysVersion = 1
	keysHeader  = 36 // magic, version, pack, pack size, last commit CRC, count, header CRC
	commitFrame = frameHeader + 8
)

// keyRec is a committed put or delete record of a pack.
type keyRec struct {
	typ byte
	key string
	off int64  // the frame's offset in the pack
	n   uint32 // the frame's length
}

// packKeys is a decoded key file: what a scan of the sealed pack finds.
type packKeys struct {
	pack    uint32
	size    int64  // the pack's size in bytes
	lastCRC uint32 // the group CRC of the pack's last commit record (0 when none)
	recs    []keyRec
}

// keysName is the file name of pack n's key file.
func keysName(n uint32) string { return fmt.Sprintf("%08d.keys", n) }

// encodeKeys returns the bytes of k's key file.
func encodeKeys(k packKeys) []byte {
	b := make([]byte, keysHeader, keysHeader+len(k.recs)*24+4)
	copy(b, keysMagic)
	binary.LittleEndian.PutUint32(b[8:], keysVersion)
	binary.LittleEndian.PutUint32(b[12:], k.pack)
	binary.LittleEndian.PutUint64(b[16:], uint64(k.size))
	binary.LittleEndian.PutUint32(b[24:], k.lastCRC)
	binary.LittleEndian.PutUint32(b[28:], uint32(len(k.recs)))
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], crcTable))
	for _, r := range k.recs {
		b = append(b, r.typ, byte(len(r.key)))
		b = append(b, r.key...)
		b = binary.AppendUvarint(b, uint64(r.off))
		b = binary.AppendUvarint(b, uint64(r.n))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[keysHeader:], crcTable))
}

// decodeKeys decodes the key file b of pack n, checking every field
// (FORMAT.md, section 6). Its errors are errFrame.
func decodeKeys(b []byte, n uint32) (packKeys, error) {
	if len(b) < keysHeader+4 || string(b[:8]) != keysMagic {
		return packKeys{}, errFrame("not a key file")
	}
	if binary.LittleEndian.Uint32(b[32:]) != crc32.Checksum(b[:32], crcTable) {
		return packKeys{}, errFrame("key file header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != keysVersion {
		return packKeys{}, errFrame("key file version not read by this build")
	}
	body := b[keysHeader : len(b)-4]
	if binary.LittleEndian.Uint32(b[len(b)-4:]) != crc32.Checksum(body, crcTable) {
		return packKeys{}, errFrame("key file checksum mismatch")
	}
	k := packKeys{
		pack:    binary.LittleEndian.Uint32(b[12:]),
		size:    int64(binary.LittleEndian.Uint64(b[16:])),
		lastCRC: binary.LittleEndian.Uint32(b[24:]),
	}
	count := binary.LittleEndian.Uint32(b[28:])
	switch {
	case k.pack != n:
		return packKeys{}, errFrame("key file of another pack")
	case k.size < packHeaderSize || k.size > 1<<62:
		return packKeys{}, errFrame("key file pack size out of range")
	case uint64(count) > uint64(len(body))/4: // a record takes at least 4 bytes
		return packKeys{}, errFrame("key file record count out of range")
	}
	k.recs = make([]keyRec, 0, count)
	end := int64(packHeaderSize) // the end of the previous record's frame
	r := &bodyReader{b: body}
	for range count {
		typ := byte(r.u8())
		key := string(r.next(r.u8()))
		off, n1 := binary.Uvarint(r.b)
		if n1 <= 0 || r.bad {
			return packKeys{}, errFrame("key file record does not decode")
		}
		r.next(n1)
		fl, n2 := binary.Uvarint(r.b)
		if n2 <= 0 {
			return packKeys{}, errFrame("key file record does not decode")
		}
		r.next(n2)
		if err := checkKeyRec(typ, key, off, fl, end, k.size); err != nil {
			return packKeys{}, err
		}
		k.recs = append(k.recs, keyRec{typ: typ, key: key, off: int64(off), n: uint32(fl)})
		end = int64(off + fl)
	}
	switch {
	case len(r.b) != 0:
		return packKeys{}, errFrame("key file has bytes after its records")
	case count == 0 && (k.size != packHeaderSize || k.lastCRC != 0):
		return packKeys{}, errFrame("key file of an empty pack with records")
	case count > 0 && end+commitFrame > k.size:
		return packKeys{}, errFrame("key file record past the pack's last commit")
	}
	return k, nil
}

// checkKeyRec checks one record of a key file: a put or a delete of a
// valid key whose frame, of a length its type allows, starts at or after
// end (the previous frame's end) and lies in a pack of size bytes.
func checkKeyRec(typ byte, key string, off, n uint64, end, size int64) error {
	if typ != recPut && typ != recDelete || blob.ValidateKey(key) != nil {
		return errFrame("key file record is not a put or delete of a valid key")
	}
	least := uint64(frameHeader + 1 + len(key)) // a delete's exact length
	if typ == recPut {
		least += 32 + 2 + 2
	}
	if n < least || n > frameHeader+maxBody || typ == recDelete && n != least {
		return errFrame("key file record length out of range")
	}
	if off < uint64(end) || off > uint64(size) || n > uint64(size)-off {
		return errFrame("key file record offset out of order or past the pack")
	}
	return nil
}

// loadKeys returns the key file of sealed pack n (open as f, of size
// bytes) when it is there, decodes, and matches the pack: its size, its
// header and its last commit record. ok is false otherwise (the caller
// scans the pack); err is only a failure to read.
func loadKeys(dir string, n uint32, f *os.File, size int64) (k packKeys, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, keysName(n)))
	if errors.Is(err, os.ErrNotExist) {
		return packKeys{}, false, nil
	}
	if err != nil {
		return packKeys{}, false, fmt.Errorf("local: open: %w", err)
	}
	k, derr := decodeKeys(b, n)
	if derr != nil || k.size != size {
		return packKeys{}, false, nil
	}
	hdr := make([]byte, packHeaderSize)
	if _, err := f.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
		return packKeys{}, false, fmt.Errorf("local: open: %w", err)
	}
	if checkHeader(hdr) != nil {
		return packKeys{}, false, nil
	}
	if len(k.recs) == 0 {
		return k, true, nil
	}
	tail := make([]byte, commitFrame)
	if _, err := f.ReadAt(tail, size-commitFrame); err != nil && !errors.Is(err, io.EOF) {
		return packKeys{}, false, fmt.Errorf("local: open: %w", err)
	}
	p, _, ferr := decodeFrame(tail)
	if ferr != nil || p.typ != recCommit || p.groupCRC != k.lastCRC {
		return packKeys{}, false, nil
	}
	return k, true, nil
}

// writeKeys publishes k as its pack's key file: a temporary file, synced,
// then renamed. The caller makes the rename durable (an fsync of dir).
func writeKeys(dir string, k packKeys) (err error) {
	path := filepath.Join(dir, keysName(k.pack))
	tmp := filepath.Join(dir, "."+keysName(k.pack)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("local: key file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(encodeKeys(k)); err != nil {
		return fmt.Errorf("local: key file %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("local: key file %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("local: key file %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("local: key file %s: %w", path, err)
	}
	return nil
}

// sameKeys reports whether two key files say the same.
func sameKeys(a, b packKeys) bool {
	return a.pack == b.pack && a.size == b.size && a.lastCRC == b.lastCRC && slices.Equal(a.recs, b.recs)
}

// indexHint estimates how many records the packs numbered nums (in
// order) hold: the sealed ones' key files say (their headers, read
// alone), and the last pack is taken to hold records of the same mean
// size (its zeros written ahead too: at most 1 MiB's worth more). The
// index is sized by it once, instead of growing key by key.
// Files that are missing or do not look right count for nothing.
func indexHint(dir string, nums []uint32) int {
	if len(nums) == 0 {
		return 0
	}
	var recs, packed int64
	var hdr [keysHeader]byte
	for _, n := range nums[:len(nums)-1] {
		f, err := os.Open(filepath.Join(dir, keysName(n)))
		if err != nil {
			continue
		}
		st, serr := f.Stat()
		_, rerr := io.ReadFull(f, hdr[:])
		f.Close()
		if serr != nil || rerr != nil || string(hdr[:8]) != keysMagic {
			continue
		}
		count := int64(binary.LittleEndian.Uint32(hdr[28:]))
		recs += min(count, st.Size()/5) // a record takes at least 5 bytes
		packed += int64(binary.LittleEndian.Uint64(hdr[16:]))
	}
	if st, err := os.Stat(filepath.Join(dir, packName(nums[len(nums)-1]))); err == nil && recs > 0 && packed > 0 {
		recs += int64(float64(st.Size()) * float64(recs) / float64(packed))
	}
	return int(min(recs, 1<<26))
}
