package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/trovedb/trove"
)

// The concurrent file-save workloads: writers goroutines saving files of
// one size, one durable SaveFile per call, into a fresh store, as the
// single-save workloads do with events.
var fileSaveShapes = []struct {
	writers int
	size    int // bytes per file
}{{1, 1 << 10}, {64, 1 << 10}, {1, 16 << 10}, {64, 16 << 10}}

// filePoolBytes caps the bytes of one workload's files, all generated
// before its clock starts.
const filePoolBytes = 256 << 20

// fileSaveWorkload returns the id of the file-save workload with w writers
// of files of size bytes. It starts with wFiles, which makes the report
// show it in files/s with a MB/s column.
func fileSaveWorkload(w, size int) string {
	return fmt.Sprintf("%s_w%d_%dk", wFiles, w, size>>10)
}

// withFileWorkloads returns ws with the concurrent file-save workloads
// inserted after the dataset's file saves.
func withFileWorkloads(ws []Workload) []Workload {
	var fw []Workload
	for _, sh := range fileSaveShapes {
		who := "1 writer"
		if sh.writers > 1 {
			who = fmt.Sprintf("%d writers", sh.writers)
		}
		fw = append(fw, Workload{ID: fileSaveWorkload(sh.writers, sh.size), Metric: throughput,
			Title: fmt.Sprintf("File saves, %d KiB, %s", sh.size>>10, who),
			About: fmt.Sprintf("%s saving files of %d KiB (random bytes, each file distinct) one per call, each durable when the call returns, "+
				"into a fresh store; files generated beforehand; files/s and MB/s", who, sh.size>>10)})
	}
	i := slices.IndexFunc(ws, func(w Workload) bool { return w.ID == wFiles })
	return slices.Insert(ws, i+1, fw...)
}

// filePool returns n files of size bytes: random, distinct, with their
// metadata (id, content type, name, size, hash) as an event would hold it.
func filePool(seed uint64, size, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], seed)
		binary.LittleEndian.PutUint64(key[8:], uint64(size))
		binary.LittleEndian.PutUint64(key[16:], uint64(i))
		data := make([]byte, size)
		_, _ = rand.NewChaCha8(key).Read(data) // never fails
		sum := sha256.Sum256(data)
		items[i] = Item{Index: i, File: data, Event: trove.Event{Files: []trove.EventFile{{
			ID: fmt.Sprintf("cf-%dk-%d", size>>10, i), ContentType: "application/octet-stream", Filename: fmt.Sprintf("blob-%d.bin", i),
			Size: int64(size), Hash: "sha256:" + hex.EncodeToString(sum[:]),
		}}}}
	}
	return items
}

// fileSaves runs every concurrent file-save workload.
func (r *runner) fileSaves(ctx context.Context) {
	for _, sh := range fileSaveShapes {
		r.set(fileSaveWorkload(sh.writers, sh.size), r.fileSave(ctx, sh.writers, sh.size))
	}
}

// fileSave opens a fresh store and has writers goroutines save one file
// per call, the pool's files in order, until SaveTime or the pool ends.
func (r *runner) fileSave(ctx context.Context, writers, size int) *Measurement {
	n := min(r.cfg.SaveMax, filePoolBytes/size)
	pool := filePool(r.cfg.Seed, size, n)
	dir := filepath.Join(r.dir, fmt.Sprintf("files-%d-%d", writers, size))
	r.removeStore(ctx, dir)
	defer r.removeStore(ctx, dir)
	st, err := r.c.Open(ctx, dir, r.log)
	if err != nil {
		return &Measurement{Error: "open: " + err.Error()}
	}
	defer st.Close(ctx)
	if err := st.SaveFile(ctx, &pool[0]); errors.Is(err, errUnsupported) {
		return &Measurement{NA: "stores no files"}
	} else if err != nil {
		return &Measurement{Error: err.Error()}
	}
	bar := r.progress(fmt.Sprintf("%s: files %d KiB, %d writers", r.c.Name, size>>10, writers), n)
	defer bar.Finish()
	// The first file opened the store's files above, untimed.
	all, el, err := r.timedWriters(writers, 1, n, bar, func(k int) error { return st.SaveFile(ctx, &pool[k]) })
	if err != nil {
		return &Measurement{Error: err.Error()}
	}
	bytes := int64(len(all)) * int64(size)
	m := &Measurement{Ops: len(all), Seconds: el.Seconds(), PerSec: float64(len(all)) / el.Seconds(),
		MBPerSec: float64(bytes) / 1e6 / el.Seconds(), Bytes: bytes}
	m.Percentiles = percentiles(all)
	return m
}
