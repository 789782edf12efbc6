package main

import (
	"slices"
	"time"
)

// Percentiles summarizes latencies in milliseconds.
type Percentiles struct {
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MeanMs float64 `json:"meanMs"`
}

// percentiles returns the nearest-rank p50 and p99 and the mean of lat
// (zero for none). lat is sorted in place.
func percentiles(lat []time.Duration) Percentiles {
	if len(lat) == 0 {
		return Percentiles{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Percentiles{P50Ms: ms(rank(0.50)), P99Ms: ms(rank(0.99)), MeanMs: ms(sum) / float64(len(lat))}
}
