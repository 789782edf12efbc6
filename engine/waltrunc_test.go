package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSealDropsWholeWALFiles: seals take the sealed entries out of the WAL
// a whole file at a time, so the WAL holds the unsealed entries and less
// than a file of sealed ones more; after a reopen every event is there.
func TestSealDropsWholeWALFiles(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off", walFileSize: 16 << 10}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 3000, 10)
	if err := st.Close(); err != nil { // waits for the running seal
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	// Unsealed: at most about two segments' worth (backpressure), in
	// files of 16 KiB, plus one file holding sealed entries.
	if len(ents) > 2*(8<<10)/(16<<10)+3 || len(ents) == 0 || ents[0].Name() == "00000000000000000001" {
		t.Fatalf("WAL files %v: the seals truncated too little", ents)
	}
	st = openStore(t, dir, o)
	defer st.Close()
	checkEvents(t, st, 3000)
}
