package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
)

// objectMembers splits raw, a JSON object that trove.CheckJSON accepted
// (valid JSON, no repeated key), into its members: each key, unescaped,
// with its value's bytes (a sub-slice of raw, without surrounding white
// space). It is json.Unmarshal into map[string]json.RawMessage in one pass
// of the shared tokenizer and without copies. ok is false when raw is not
// an object of that form; the caller then decodes it with encoding/json,
// which says what is wrong.
func objectMembers(raw []byte) (map[string]json.RawMessage, bool) {
	m := make(map[string]json.RawMessage, 8)
	if !addMembers(m, raw) {
		return nil, false
	}
	return m, true
}

// addMembers is objectMembers into m, an empty map; on false m holds the
// members read before raw was found to be of another form.
func addMembers(m map[string]json.RawMessage, raw []byte) bool {
	s := jsonscan.New(raw)
	if s.Next() != jsonscan.BeginObject {
		return false
	}
	for k := s.Next(); k != jsonscan.EndObject; k = s.Next() {
		if k != jsonscan.Key {
			return false
		}
		var key string
		if s.Escaped() {
			key = string(s.AppendText(nil))
		} else {
			key = memberKey(s.RawText())
		}
		s.Next()
		start := s.Offset()
		if !s.Skip() {
			return false
		}
		end := s.Offset() + len(s.Raw())
		if _, dup := m[key]; dup {
			return false
		}
		m[key] = raw[start:end:end]
	}
	return s.Next() == jsonscan.End
}

// maxPooledMembers is the most members a map of memberMaps may hold to be
// used again: an event has eight, a map grown by an odd request is let go.
const maxPooledMembers = 32

// memberMaps recycles the maps decodeEvent splits events into: the event
// it builds holds the members' bytes, never the map.
var memberMaps = sync.Pool{New: func() any { return make(map[string]json.RawMessage, 8) }}

// putMembers empties m and gives it back to memberMaps.
func putMembers(m map[string]json.RawMessage) {
	if len(m) > maxPooledMembers {
		return
	}
	clear(m)
	memberMaps.Put(m)
}

// memberKey is string(b), without a copy for the members of an event.
func memberKey(b []byte) string {
	switch string(b) {
	case "id":
		return "id"
	case "createdAt":
		return "createdAt"
	case "producer":
		return "producer"
	case "schema":
		return "schema"
	case "payload":
		return "payload"
	case "files":
		return "files"
	case "links":
		return "links"
	case "metadata":
		return "metadata"
	}
	return string(b)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Bounds of the schema cache: documents larger than maxCachedSchema are
// parsed every time, and the cache is emptied when it would hold more
// than maxCachedSchemaBytes.
const (
	maxCachedSchema      = 64 << 10
	maxCachedSchemaBytes = 8 << 20
)

// schemaCache remembers trove.NewSchema's answers by the schema's exact
// bytes. Clients send the same few schema documents with every event, and
// NewSchema (a compaction and a decode of the document) is a pure function
// of them, so a repeated document is parsed once. Only documents that
// parsed are kept.
type schemaCache struct {
	mu struct {
		sync.RWMutex
		m     map[string]trove.Schema // by the document's bytes
		bytes int                     // the keys' total length
	}
}

func newSchemaCache() *schemaCache {
	c := &schemaCache{}
	c.mu.m = map[string]trove.Schema{}
	return c
}

// parse is trove.NewSchema(raw), from the cache when raw was parsed
// before. A nil cache parses every time.
func (c *schemaCache) parse(raw json.RawMessage) (trove.Schema, error) {
	if c == nil || len(raw) > maxCachedSchema {
		return trove.NewSchema(raw)
	}
	c.mu.RLock()
	s, ok := c.mu.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err := trove.NewSchema(raw)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.bytes+len(raw) > maxCachedSchemaBytes {
		clear(c.mu.m)
		c.mu.bytes = 0
	}
	if _, ok := c.mu.m[string(raw)]; !ok {
		c.mu.m[string(raw)] = s
		c.mu.bytes += len(raw)
	}
	return s, nil
}

// answers recycles the buffers events are written into.
var answers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// answerBuf returns an empty buffer from answers; putAnswer gives it back
// unless it grew past 4 MiB (a huge answer's buffer is not kept).
func answerBuf() *bytes.Buffer {
	buf := answers.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func putAnswer(buf *bytes.Buffer) {
	if buf.Cap() <= 4<<20 {
		buf.Reset()
		answers.Put(buf)
	}
}

// appendEvent appends e's JSON as json.Marshal writes it: the event's own
// encoding (trove.Event.MarshalJSON, which is compact; appendEventJSON
// writes it without reflection) with <, >, & and U+2028, U+2029 escaped,
// as encoding/json escapes a Marshaler's output.
func appendEvent(buf *bytes.Buffer, e trove.Event) error {
	b, err := appendEventJSON(buf.AvailableBuffer(), e)
	if err != nil {
		return err
	}
	if needsHTMLEscape(b) {
		json.HTMLEscape(buf, bytes.Clone(b)) // b is buf's own free space
		return nil
	}
	buf.Write(b)
	return nil
}

// writeEvents answers {"events": events}, byte for byte what writeJSON
// answers for it, without encoding/json's second pass over each event's
// encoding.
func writeEvents(w http.ResponseWriter, status int, events []trove.Event) {
	buf := answerBuf()
	defer putAnswer(buf)
	if events == nil {
		buf.WriteString(`{"events":null}`)
	} else {
		buf.WriteString(`{"events":[`)
		for i := range events {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendEvent(buf, events[i]); err != nil {
				writeError(w, http.StatusInternalServerError, titleInternal, "")
				return
			}
		}
		buf.WriteString(`]}`)
	}
	writeBody(w, status, buf)
}

// writeEvent answers e, as writeJSON does.
func writeEvent(w http.ResponseWriter, status int, e trove.Event) {
	buf := answerBuf()
	defer putAnswer(buf)
	if err := appendEvent(buf, e); err != nil {
		writeError(w, http.StatusInternalServerError, titleInternal, "")
		return
	}
	writeBody(w, status, buf)
}

// writeBody writes buf and a newline as a JSON answer.
func writeBody(w http.ResponseWriter, status int, buf *bytes.Buffer) {
	buf.WriteByte('\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// arrayChunk is the size of the reads of decodeArray.
const arrayChunk = 64 << 10

// decodeArray is decodeBatch for a JSON array of events. It splits the
// array as it streams in, one event at a time, by following strings and
// nesting only (batchDecoder decodes them as they come): each event's
// bytes are then checked in full by decodeEvent
// (trove.CheckJSON), so the array is never validated twice. Whatever is
// not a plain array of valid events (an error of any kind, an element that
// is not an object) is handed to decodeArraySlow, replaying the bytes read
// so far and then the rest of the body, so that every refusal, its text
// and its offsets are exactly encoding/json's. Events alias the bytes
// read: they are never reused.
func (c caps) decodeArray(r io.Reader) ([]trove.Event, error) {
	a := arrayReader{r: r, buf: make([]byte, 0, arrayChunk)}
	if events, ok := a.events(c); ok {
		return events, nil
	}
	return c.decodeArraySlow(a.replay())
}

// arrayReader holds what decodeArray read of a body.
type arrayReader struct {
	r    io.Reader
	done [][]byte // the bytes of earlier buffers, in order
	buf  []byte   // the bytes read into the current buffer
	i    int      // the next byte of buf to look at
	err  error    // what ended the body (io.EOF at its end), once it ended
}

// more reads more of the body into buf, keeping buf[keep:] contiguous (the
// element being split). It returns the shift of indexes into buf, and
// false when the body has ended.
func (a *arrayReader) more(keep int) (int, bool) {
	if a.err != nil {
		return 0, false
	}
	shift := 0
	if len(a.buf) == cap(a.buf) {
		nb := make([]byte, len(a.buf)-keep, max(arrayChunk, 2*(len(a.buf)-keep)))
		copy(nb, a.buf[keep:])
		a.done = append(a.done, a.buf[:keep])
		a.buf, a.i, shift = nb, a.i-keep, keep
	}
	for {
		n, err := a.r.Read(a.buf[len(a.buf):cap(a.buf)])
		a.buf = a.buf[:len(a.buf)+n]
		if err != nil {
			a.err = err
			return shift, n > 0
		}
		if n > 0 {
			return shift, true
		}
	}
}

// next skips white space and returns the next byte, reading as needed;
// false at the end of the body.
func (a *arrayReader) next() (byte, bool) {
	for {
		a.i = skipSpace(a.buf, a.i)
		if a.i < len(a.buf) {
			return a.buf[a.i], true
		}
		if _, ok := a.more(a.i); !ok {
			return 0, false
		}
	}
}

// element returns the object starting at buf[i], reading until its
// closing brace; false when the body ends first.
func (a *arrayReader) element() ([]byte, bool) {
	start, j, depth, inString := a.i, a.i, 0, false
	for {
		for ; j < len(a.buf); j++ {
			if inString {
				// Jump to the string's next quote or backslash.
				k := quoteOrBackslash(a.buf[j:])
				if k < 0 {
					j = len(a.buf) - 1
					continue
				}
				j += k
				if a.buf[j] == '\\' {
					if j+1 == len(a.buf) {
						goto read // the escaped byte is still to come
					}
					j++
				} else {
					inString = false
				}
				continue
			}
			switch a.buf[j] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					a.i = j + 1
					return a.buf[start:a.i:a.i], true
				}
			}
		}
	read:
		shift, ok := a.more(start)
		if !ok {
			return nil, false
		}
		start, j = start-shift, j-shift
	}
}

// quoteOrBackslash returns the index of the first quote or backslash in
// b, or -1.
func quoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	if bs := bytes.IndexByte(b[:q], '\\'); bs >= 0 {
		return bs
	}
	if q == len(b) {
		return -1
	}
	return q
}

// events splits and decodes the array; false when decodeArraySlow must
// judge the body.
func (a *arrayReader) events(c caps) ([]trove.Event, bool) {
	if b, ok := a.next(); !ok || b != '[' {
		return nil, false
	}
	a.i++
	d := batchDecoder{c: c}
	defer d.stop()
	for n := 0; ; n++ {
		b, ok := a.next()
		if !ok {
			return nil, false
		}
		if b == ']' {
			a.i++
			break
		}
		if n > 0 {
			if b != ',' {
				return nil, false
			}
			a.i++
			if b, ok = a.next(); !ok {
				return nil, false
			}
		}
		if b != '{' || n == c.maxBatch {
			return nil, false
		}
		raw, ok := a.element()
		if !ok || !d.add(raw) {
			return nil, false
		}
	}
	if _, ok := a.next(); ok || a.err != io.EOF {
		return nil, false // data after the array, or a broken body
	}
	return d.finish()
}

// Parallel decoding of large batches: decodeChunk events per chunk, on up
// to maxDecoders goroutines.
const (
	decodeChunk = 64
	maxDecoders = 4
)

// batchDecoder decodes the events of a batch as decodeArray splits them.
// A batch of up to decodeChunk events is decoded in the caller's
// goroutine; a larger one in chunks of decodeChunk events, each decoded
// into its own slice on one of up to maxDecoders goroutines (no more than
// GOMAXPROCS), while the caller reads and splits the rest of the body.
// The events come out in the array's order. The first event that does
// not decode stops the decoding (the batch is then judged by
// decodeArraySlow, which says which event and why).
type batchDecoder struct {
	c       caps
	pending [][]byte      // the events split and not yet handed out
	events  []trove.Event // decoded in the caller's goroutine
	chunks  []*eventChunk // handed to the decoders, in order
	jobs    chan *eventChunk
	wg      sync.WaitGroup // the decoders
	failed  atomic.Bool
}

// eventChunk is decodeChunk events of a batch, and once decoded the
// events.
type eventChunk struct {
	raws   [][]byte
	events []trove.Event
}

// add takes the next event; false when an event did not decode.
func (d *batchDecoder) add(raw []byte) bool {
	if d.failed.Load() {
		return false
	}
	d.pending = append(d.pending, raw)
	if len(d.pending) < decodeChunk {
		return true
	}
	if d.jobs == nil && !d.start() {
		return d.decodeHere()
	}
	d.handOut()
	return true
}

// start starts the decoders; false when there is one processor only.
func (d *batchDecoder) start() bool {
	n := min(runtime.GOMAXPROCS(0), maxDecoders)
	if n < 2 {
		return false
	}
	d.jobs = make(chan *eventChunk, n)
	for range n {
		d.wg.Add(1)
		go d.decode(d.jobs)
	}
	return true
}

func (d *batchDecoder) handOut() {
	ch := &eventChunk{raws: d.pending}
	d.chunks = append(d.chunks, ch)
	d.pending = make([][]byte, 0, decodeChunk)
	d.jobs <- ch
}

// decodeHere decodes the pending events in the caller's goroutine.
func (d *batchDecoder) decodeHere() bool {
	for _, raw := range d.pending {
		e, err := d.c.decodeEvent(raw)
		if err != nil {
			d.failed.Store(true)
			return false
		}
		d.events = append(d.events, e)
	}
	d.pending = d.pending[:0]
	return true
}

// decode is a decoder's goroutine. It takes every chunk it is given, so
// that handing one out never blocks for good, and decodes them until one
// fails.
func (d *batchDecoder) decode(jobs <-chan *eventChunk) {
	defer d.wg.Done()
	for ch := range jobs {
		if !d.failed.Load() && !d.c.decodeChunk(ch) {
			d.failed.Store(true)
		}
	}
}

// decodeChunk decodes the events of ch; false when one does not decode,
// or when decoding it panics: decodeArraySlow then decodes the batch
// again in the request's goroutine, where the same panic is answered as
// every handler's panic is.
func (c caps) decodeChunk(ch *eventChunk) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ch.events = make([]trove.Event, len(ch.raws))
	for i, raw := range ch.raws {
		e, err := c.decodeEvent(raw)
		if err != nil {
			return false
		}
		ch.events[i] = e
	}
	return true
}

// finish decodes what is pending and returns every event, in order; false
// when an event did not decode.
func (d *batchDecoder) finish() ([]trove.Event, bool) {
	if d.jobs == nil {
		if !d.decodeHere() {
			return nil, false
		}
		return d.events, true
	}
	if len(d.pending) > 0 {
		d.handOut()
	}
	d.stop()
	if d.failed.Load() {
		return nil, false
	}
	events := make([]trove.Event, 0, len(d.events)+len(d.chunks)*decodeChunk)
	events = append(events, d.events...)
	for _, ch := range d.chunks {
		events = append(events, ch.events...)
	}
	return events, true
}

// stop ends the decoders, once they have decoded what they were given.
func (d *batchDecoder) stop() {
	if d.jobs != nil {
		close(d.jobs)
		d.jobs = nil
		d.wg.Wait()
	}
}

// replay returns the body as it was: the bytes read so far, then the rest
// (or the error that ended it).
func (a *arrayReader) replay() io.Reader {
	rs := make([]io.Reader, 0, len(a.done)+2)
	for _, d := range a.done {
		rs = append(rs, bytes.NewReader(d))
	}
	rs = append(rs, bytes.NewReader(a.buf))
	switch a.err {
	case nil:
		rs = append(rs, a.r)
	case io.EOF:
	default:
		rs = append(rs, errReader{a.err})
	}
	return io.MultiReader(rs...)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
