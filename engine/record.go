package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"time"
	"unsafe"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// Record types of the engine's log (segment.Record.Type).
const (
	recEvent      byte = 1 // an event; Position and Time set
	recLink       byte = 2 // a link added with SaveLink
	recSchemaDoc  byte = 3 // an interned schema document: number + JSON
	recRegistered byte = 4 // a schema registered with the core (SchemaStore)
)

// errRecord is the cause of every record decoding failure.
var errRecord = errors.New("engine: bad record")

// appendEvent encodes e (its position and createdAt travel in the record
// header) with its schema as dictionary number schemaNum:
//
//	uvarint schemaNum | str id | uvarint version | str producer |
//	bytes payload | bytes metadata | bytes filesJSON | uvarint nlinks |
//	nlinks × (str type | str target id | uvarint target version | bytes metadata)
//
// str and bytes are a uvarint length and the bytes.
func appendEvent(dst []byte, e *trove.Event, schemaNum uint32) []byte {
	dst = binary.AppendUvarint(dst, uint64(schemaNum))
	dst = appendStr(dst, e.ID.ID)
	dst = binary.AppendUvarint(dst, uint64(e.ID.Version))
	dst = appendStr(dst, e.Producer)
	dst = appendBytes(dst, e.Payload)
	dst = appendBytes(dst, e.Metadata)
	var files []byte
	if len(e.Files) > 0 {
		files, _ = json.Marshal(e.Files)
	}
	dst = appendBytes(dst, files)
	dst = binary.AppendUvarint(dst, uint64(len(e.Links)))
	for _, l := range e.Links {
		dst = appendLink(dst, l)
	}
	return dst
}

// bodySize returns the size appendEvent gives e, exactly for events
// without files (their JSON is estimated).
func bodySize(e *trove.Event, schemaNum uint32) int {
	n := uvarintLen(uint64(schemaNum)) + strSize(len(e.ID.ID)) + uvarintLen(uint64(e.ID.Version)) +
		strSize(len(e.Producer)) + strSize(len(e.Payload)) + strSize(len(e.Metadata)) +
		uvarintLen(uint64(len(e.Links)))
	if len(e.Files) > 0 {
		n += 10 + 192*len(e.Files)
	} else {
		n++
	}
	for _, l := range e.Links {
		n += strSize(len(l.Type)) + strSize(len(l.TargetEvent.ID)) + uvarintLen(uint64(l.TargetEvent.Version)) + strSize(len(l.Metadata))
	}
	return n
}

// strSize is the encoded size of a str or bytes field of n bytes.
func strSize(n int) int { return uvarintLen(uint64(n)) + n }

// uvarintLen is the size of x as a uvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func appendLink(dst []byte, l trove.EventLink) []byte {
	dst = appendStr(dst, l.Type)
	dst = appendStr(dst, l.TargetEvent.ID)
	dst = binary.AppendUvarint(dst, uint64(l.TargetEvent.Version))
	return appendBytes(dst, l.Metadata)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errRecord
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string { return string(r.bytes()) }

// sharedStr is str without the copy: the string shares r's bytes, which
// nobody may write again.
func (r *reader) sharedStr() string {
	b := r.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (r *reader) link() trove.EventLink {
	var l trove.EventLink
	l.Type = r.str()
	l.TargetEvent.ID = r.str()
	l.TargetEvent.Version = int(r.uvarint())
	if m := r.bytes(); len(m) > 0 {
		l.Metadata = json.RawMessage(bytes.Clone(m))
	}
	return l
}

// eventHead is the part of an event record the index needs.
type eventHead struct {
	schemaNum uint32
	id        string
	version   int
	producer  string
	payload   []byte
	links     []trove.EventLink
}

// decodeEvent decodes an event record into a new event that shares no
// memory with rec. schemas resolves dictionary numbers.
//
// The event's strings and byte fields (id, producer, payload, metadata, its
// links' strings and metadata) point into one copy of the record's body,
// made first in one sequential pass over memory the reader has likely never
// touched; each byte field is capped at its own length, so appending to one
// never reaches another. An event costs one allocation, plus its links'
// slice when it has links and its files when it has files.
func decodeEvent(rec *segment.Record, schemas []trove.Schema) (trove.Event, error) {
	var e trove.Event
	body := make([]byte, len(rec.Body))
	copy(body, rec.Body)
	r := reader{b: body}
	num := r.uvarint()
	e.ID.ID = r.sharedStr()
	e.ID.Version = int(r.uvarint())
	e.Producer = r.sharedStr()
	e.Payload = r.bytes()
	if m := r.bytes(); len(m) > 0 {
		e.Metadata = m
	}
	files := r.bytes()
	n := r.uvarint()
	if r.err != nil {
		return trove.Event{}, r.err
	}
	if n > uint64(len(r.b)) {
		return trove.Event{}, errRecord
	}
	if n > 0 {
		e.Links = make([]trove.EventLink, n)
		for k := range e.Links {
			l := &e.Links[k]
			l.Type = r.sharedStr()
			l.TargetEvent.ID = r.sharedStr()
			l.TargetEvent.Version = int(r.uvarint())
			if m := r.bytes(); len(m) > 0 {
				l.Metadata = m
			}
		}
		if r.err != nil {
			return trove.Event{}, r.err
		}
	}
	if num >= uint64(len(schemas)) {
		return trove.Event{}, fmt.Errorf("%w: unknown schema number %d", errRecord, num)
	}
	if len(files) > 0 {
		// Into a variable of its own: &e.Files would move every decoded
		// event to the heap.
		var fs []trove.EventFile
		if err := json.Unmarshal(files, &fs); err != nil {
			return trove.Event{}, fmt.Errorf("%w: files: %v", errRecord, err)
		}
		e.Files = fs
	}
	e.Schema = schemas[num]
	e.Position = rec.Position
	e.CreatedAt = time.UnixMilli(rec.Time).UTC()
	return e, nil
}

// decodeHead decodes what the index needs of an event record.
func decodeHead(body []byte) (eventHead, error) {
	var h eventHead
	r := &reader{b: body}
	h.schemaNum = uint32(r.uvarint())
	h.id = r.str()
	h.version = int(r.uvarint())
	h.producer = r.str()
	h.payload = r.bytes()
	r.bytes() // metadata
	r.bytes() // files
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return h, errRecord
	}
	for range n {
		h.links = append(h.links, r.link())
	}
	return h, r.err
}

// link record: uvarint source position | link
func encodeLinkRecord(source uint64, l trove.EventLink) []byte {
	return appendLink(binary.AppendUvarint(nil, source), l)
}

func decodeLinkRecord(body []byte) (uint64, trove.EventLink, error) {
	r := &reader{b: body}
	src := r.uvarint()
	l := r.link()
	return src, l, r.err
}

// schema document record: uvarint number | bytes JSON
func encodeSchemaDoc(num uint32, s trove.Schema) []byte {
	return appendBytes(binary.AppendUvarint(nil, uint64(num)), s.Raw())
}

func decodeSchemaDoc(body []byte) (uint32, trove.Schema, error) {
	r := &reader{b: body}
	num := r.uvarint()
	raw := r.bytes()
	if r.err != nil {
		return 0, trove.Schema{}, r.err
	}
	s, err := trove.NewSchema(append(json.RawMessage(nil), raw...))
	if err != nil {
		return 0, trove.Schema{}, fmt.Errorf("%w: schema document: %v", errRecord, err)
	}
	return uint32(num), s, nil
}
