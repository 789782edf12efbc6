package segment

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstd encoders and the decoder are safe for concurrent EncodeAll/DecodeAll
// and costly to build, so one of each per level is built on first use and
// shared; they hold no state between calls.
var (
	encoders = newEncoders()
	decoder  = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxBodySize),
			zstd.IgnoreChecksum(true))
		if err != nil {
			panic("segment: zstd decoder: " + err.Error()) // options are constant
		}
		return d
	})
	// bufPool holds compressed-block buffers for reading and writing.
	bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
)

func newEncoders() (encoders [zstd.SpeedBestCompression + 1]func() *zstd.Encoder) {
	for l := range encoders {
		level := zstd.EncoderLevel(l)
		if level < zstd.SpeedFastest {
			continue
		}
		encoders[l] = sync.OnceValue(func() *zstd.Encoder {
			e, err := zstd.NewWriter(nil,
				zstd.WithEncoderLevel(level),
				zstd.WithEncoderCRC(false),
				zstd.WithEncoderConcurrency(2),
				zstd.WithZeroFrames(true))
			if err != nil {
				panic("segment: zstd encoder: " + err.Error()) // options are constant
			}
			return e
		})
	}
	return encoders
}

// encoderFor returns the shared encoder of a level (0 means SpeedDefault).
func encoderFor(level int) (*zstd.Encoder, bool) {
	if level == 0 {
		level = int(zstd.SpeedDefault)
	}
	if level < int(zstd.SpeedFastest) || level > int(zstd.SpeedBestCompression) {
		return nil, false
	}
	return encoders[level](), true
}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) {
	if cap(*b) <= 4<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}
