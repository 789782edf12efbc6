//go:build !unix

package main

import "os"

// childRSS is unknown here: 0.
func childRSS(*os.ProcessState) int64 { return 0 }

// peakRSS is unknown here: the whole process's peak is used instead.
func peakRSS() (float64, bool) { return 0, false }
