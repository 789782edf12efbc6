//go:build !unix

package main

import "time"

// processCPU is not available here: settling waits for nothing.
func processCPU() (time.Duration, bool) { return 0, false }
