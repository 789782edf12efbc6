//go:build !linux

package engine

import "testing"

func evictStore(b *testing.B, _ string) { b.Skip("-benchcold needs Linux") }

type ioCounters struct{ readBytes, majorFaults int64 }

func readIOCounters() ioCounters { return ioCounters{} }
