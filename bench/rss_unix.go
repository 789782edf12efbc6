//go:build unix && !linux

package main

import (
	"os"
	"syscall"
)

// childRSS returns a finished child's peak RSS in bytes; the BSDs and
// macOS report bytes.
func childRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}

// peakRSS is not read mid-run here: the whole process's peak is used
// instead.
func peakRSS() (float64, bool) { return 0, false }
