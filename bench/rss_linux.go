//go:build linux

package main

import (
	"os"
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
