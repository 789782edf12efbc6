package httpapi

import (
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// bigBatch is a batch body of n events, each with its own id, with bad
// replacing the event at index at (when at >= 0), and tail after the
// closing bracket.
func bigBatch(n, at int, bad, tail string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == at {
			b.WriteString(bad)
			continue
		}
		fmt.Fprintf(&b, `{"schema":{"$id":"note","type":"object"},"payload":{"n":%d,"t":"a\"]}{["},"producer":"p%d","id":{"id":"e%d","version":1},"links":[{"type":"t","targetEvent":{"id":"e%d"}}]}`, i, i%7, i, max(i-1, 0))
	}
	b.WriteByte(']')
	b.WriteString(tail)
	return b.String()
}

// Batches past a chunk are decoded on several goroutines: the events, their
// order and every refusal (a bad event in any chunk, an element that is
// not an object, the cap, a broken or truncated body, data after the
// array) are what encoding/json's streaming decoder gives, read whole or
// in small pieces, on one processor or several.
func TestDecodeArrayInChunks(t *testing.T) {
	n := 5*decodeChunk + 3
	bodies := []string{
		bigBatch(decodeChunk, -1, "", ""),
		bigBatch(decodeChunk+1, -1, "", ""),
		bigBatch(n, -1, "", ""),
		bigBatch(n, -1, "", " x"),
		bigBatch(n, 0, `{"a":1,"a":2}`, ""),
		bigBatch(n, decodeChunk+5, `{"a":1,"a":2}`, ""),
		bigBatch(n, n-1, `{"schema":1,"payload":{}}`, ""),
		bigBatch(n, 3*decodeChunk, `7`, ""),
		bigBatch(n, 2*decodeChunk, "{\"a\":\"\xff\"}", ""),
		bigBatch(n, -1, "", "")[:n*100],
	}
	for _, procs := range []int{1, 2, 8} {
		old := runtime.GOMAXPROCS(procs)
		for _, maxBatch := range []int{n, n - 1, 2 * decodeChunk} {
			c := caps{maxBatch: maxBatch, maxID: 1024, schemas: newSchemaCache()}
			for i, body := range bodies {
				want, werr := c.decodeArraySlow(strings.NewReader(body))
				for _, r := range []io.Reader{strings.NewReader(body), iotest.HalfReader(strings.NewReader(body)), iotest.DataErrReader(strings.NewReader(body))} {
					got, err := c.decodeArray(r)
					if fmt.Sprint(err) != fmt.Sprint(werr) {
						t.Fatalf("procs %d, cap %d, body %d: error %v, want %v", procs, maxBatch, i, err, werr)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("procs %d, cap %d, body %d: %d events differ from the %d wanted", procs, maxBatch, i, len(got), len(want))
					}
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

// A refused batch, as an accepted one, leaves no decoder running.
func TestDecodeArrayStopsItsDecoders(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	c := caps{maxBatch: 1 << 20, maxID: 1024, schemas: newSchemaCache()}
	for _, body := range []string{bigBatch(10*decodeChunk, 5*decodeChunk, `{"a":1,"a":2}`, ""), bigBatch(10*decodeChunk, -1, "", "]")} {
		if _, err := c.decodeArray(strings.NewReader(body)); err == nil {
			t.Fatal("a bad batch was accepted")
		}
		checkNoDecoders(t)
	}
	if _, err := c.decodeArray(strings.NewReader(bigBatch(10*decodeChunk, -1, "", ""))); err != nil {
		t.Fatal(err)
	}
	checkNoDecoders(t)
}

// checkNoDecoders fails when a goroutine is still in a batchDecoder's
// decode.
func checkNoDecoders(t *testing.T) {
	t.Helper()
	running := func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*batchDecoder).decode(")
	}
	// A decoder that has said it is done may still be on its way out.
	for i := 0; i < 1000 && running(); i++ {
		runtime.Gosched()
	}
	if running() {
		t.Error("a decoder is still running")
	}
}

// FuzzDecodeArrayInChunks puts an arbitrary element, and arbitrary bytes
// after the array, into a batch long enough to be decoded in chunks.
func FuzzDecodeArrayInChunks(f *testing.F) {
	f.Add(`{"a":1,"a":2}`, uint16(70), "")
	f.Add(`{"schema":{"$id":"x"},"payload":{"t":"\u2028"}}`, uint16(1), " ")
	f.Add(`7`, uint16(200), "]")
	f.Add(`{"schema":{},"payload":{}}`, uint16(129), "")
	f.Fuzz(func(t *testing.T, elem string, at uint16, tail string) {
		n := 3*decodeChunk + 1
		body := bigBatch(n, int(at)%n, elem, tail)
		c := caps{maxBatch: n, maxID: 1024, schemas: newSchemaCache()}
		want, werr := c.decodeArraySlow(strings.NewReader(body))
		got, err := c.decodeArray(iotest.HalfReader(strings.NewReader(body)))
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("error %v, want %v", err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d events differ from the %d wanted", len(got), len(want))
		}
	})
}
