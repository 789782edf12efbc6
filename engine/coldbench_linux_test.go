//go:build linux

package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// evictStore asks the kernel to drop dir's files from the page cache
// (-benchcold): the reads that follow find them on the disk, as after a
// host reclaimed cold page cache. Pages mapped by a process stay.
func evictStore(b *testing.B, dir string) {
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// ioCounters are this process's bytes read from the disk and its page
// faults that waited for the disk.
type ioCounters struct{ readBytes, majorFaults int64 }

func readIOCounters() ioCounters {
	var c ioCounters
	if data, err := os.ReadFile("/proc/self/io"); err == nil {
		for _, line := range bytes.Split(data, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("read_bytes: ")); ok {
				c.readBytes, _ = strconv.ParseInt(string(v), 10, 64)
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.majorFaults = ru.Majflt
	}
	return c
}
