package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/blob/local"
)

// BenchmarkPut measures durable Put throughput (MB/s, and ns/op for the
// small file) of new, distinct objects: staging, fsyncs, rename and record
// included.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{2 << 10, 1 << 20, 64 << 20} {
		name := fmt.Sprintf("%dMiB", size>>20)
		if size < 1<<20 {
			name = fmt.Sprintf("%dKiB", size>>10)
		}
		b.Run(name, func(b *testing.B) {
			s, err := local.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := blobtest.Data(1, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24) // distinct bytes: no dedup
				if _, err := s.Put(context.Background(), fmt.Sprintf("k%d", i), bytes.NewReader(data), blob.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet measures streaming Get throughput (MB/s) through a 256 KiB
// buffer, from the page cache.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s, err := local.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Put(context.Background(), "k", bytes.NewReader(blobtest.Data(1, size)), blob.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				rc, _, err := s.Get(context.Background(), "k")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}
