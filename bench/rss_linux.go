//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childRSS returns a finished child's peak RSS in bytes; Linux reports
// KiB.
func childRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// peakRSS returns this process's peak resident set so far in MiB (VmHWM).
func peakRSS() (float64, bool) {
	kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/self/status", "VmHWM"), " kB"), 64)
	if err != nil || kb <= 0 {
		return 0, false
	}
	return kb / 1024, true
}
