package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
)

// BenchmarkPut measures Put throughput (MB/s) against the loopback
// versitygw, without and with the digest known in advance (with it, large
// objects skip the temporary key and the server-side copy).
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, withDigest := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dMiB/digest=%v", size>>20, withDigest), func(b *testing.B) {
				s := openStore(b)
				data := blobtest.Data(1, size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
					var opts blob.PutOptions
					if withDigest {
						b.StopTimer()
						opts.SHA256 = blobtest.Digest(data)
						b.StartTimer()
					}
					if _, err := s.Put(context.Background(), fmt.Sprintf("k%d", i), bytes.NewReader(data), opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGet measures streaming Get throughput (MB/s) against the
// loopback versitygw.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s := openStore(b)
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
