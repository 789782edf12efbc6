package engine

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/trovedb/trove"
)

// BenchmarkSaveFile measures durable SaveFile of new, distinct small files
// (packed, group commit) with 1 and 64 concurrent writers; ns/op is per
// file over all writers.
func BenchmarkSaveFile(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%dKiB/w%d", size>>10, writers), func(b *testing.B) {
				st := openStore(b, b.TempDir(), Options{})
				defer st.Close()
				var n atomic.Int64
				b.SetBytes(int64(size))
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				if writers == 1 {
					data := make([]byte, size)
					for b.Loop() {
						saveOne(b, st, &n, data)
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					data := make([]byte, size)
					for pb.Next() {
						saveOne(b, st, &n, data)
					}
				})
			})
		}
	}
}

func saveOne(b *testing.B, st *Store, n *atomic.Int64, data []byte) {
	i := n.Add(1)
	data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24) // distinct bytes
	if _, err := st.SaveFile(context.Background(), trove.EventFile{ID: fmt.Sprintf("f%d", i)}, bytes.NewReader(data)); err != nil {
		b.Error(err)
	}
}
