package trove

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// TimeLayout is the wire form of every timestamp: UTC, millisecond precision.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// DefaultProducer is the producer of an event saved without one.
const DefaultProducer = "core"

// EventID names an event and, optionally, one of its versions. Version 0
// means "the latest version" in lookups; stored events always carry a
// version of 1 or more.
type EventID struct {
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"`
}

func (id EventID) String() string {
	if id.Version == 0 {
		return id.ID
	}
	return fmt.Sprintf("%s@%d", id.ID, id.Version)
}

// Event is the unit of storage. Its JSON form is the original Trove's:
//
//	{"id":{"id":"…","version":1},"position":42,"createdAt":"2025-04-15T08:54:58.123Z",
//	 "producer":"web-api","schema":{…},"payload":{…},"files":[…],"links":[…],"metadata":{…}}
//
// Events are immutable once saved; a new version is a new Event with the same
// ID.ID and Version = latest+1.
type Event struct {
	ID        EventID         // ID.ID is generated (UUIDv7) when empty; Version defaults to 1
	Position  uint64          // assigned by the store: strictly increasing in commit order, from 1
	CreatedAt time.Time       // UTC, millisecond precision; set to now when zero
	Producer  string          // defaults to DefaultProducer
	Schema    Schema          // a full JSON Schema document or a reference {id, version}
	Payload   json.RawMessage // a JSON object
	Files     []EventFile     // metadata only once stored
	Links     []EventLink     // outgoing links saved with the event
	Metadata  json.RawMessage // a JSON object, or nil
}

type eventJSON struct {
	ID        EventID         `json:"id"`
	Position  uint64          `json:"position,omitempty"`
	CreatedAt string          `json:"createdAt,omitempty"`
	Producer  string          `json:"producer,omitempty"`
	Schema    Schema          `json:"schema"`
	Payload   json.RawMessage `json:"payload"`
	Files     []EventFile     `json:"files"`
	Links     []EventLink     `json:"links"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// MarshalJSON writes the original Trove shape: files and links always arrays,
// metadata omitted when unset, createdAt in TimeLayout.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		ID: e.ID, Position: e.Position, Producer: e.Producer, Schema: e.Schema,
		Payload: e.Payload, Files: e.Files, Links: e.Links, Metadata: e.Metadata,
	}
	if !e.CreatedAt.IsZero() {
		j.CreatedAt = FormatTime(e.CreatedAt)
	}
	if j.Files == nil {
		j.Files = []EventFile{}
	}
	if j.Links == nil {
		j.Links = []EventLink{}
	}
	if len(j.Payload) == 0 {
		j.Payload = json.RawMessage("null")
	}
	if isJSONNull(j.Metadata) {
		j.Metadata = nil
	}
	// No HTML escaping: "<" stays "<" in stored and served JSON.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads an event. createdAt may carry any RFC 3339 offset; it
// is converted to UTC and truncated to milliseconds.
// Stored events are read back through it too, so it is lenient; the
// strict checks of client JSON are Prepare's (and CheckJSON's, for a whole
// request body).
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return invalidf("event: %v", err)
	}
	*e = Event{
		ID: j.ID, Position: j.Position, Producer: j.Producer, Schema: j.Schema,
		Payload: j.Payload, Files: j.Files, Links: j.Links, Metadata: j.Metadata,
	}
	if isJSONNull(e.Payload) {
		e.Payload = nil
	}
	if isJSONNull(e.Metadata) {
		e.Metadata = nil
	}
	if j.CreatedAt != "" {
		t, err := ParseTime(j.CreatedAt)
		if err != nil {
			return invalidf("event: createdAt: %v", err)
		}
		e.CreatedAt = t
	}
	return nil
}

// FormatTime renders t in TimeLayout (UTC, milliseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses an RFC 3339 timestamp with any offset and returns it in
// UTC truncated to milliseconds.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// EventFile describes a file attached to an event. Once stored, an event holds
// metadata only: Size and Hash are computed by the store from the bytes.
type EventFile struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Size        int64  `json:"size"`
	Hash        string `json:"hash,omitempty"` // "sha256:<hex>"
	// IsReference files point at bytes stored elsewhere: Data holds the
	// locator (s3://…, a URL) and no bytes are stored.
	IsReference bool `json:"isReference,omitempty"`
	// Data is, for a reference, its locator; for an inline file sent as JSON,
	// the bytes in standard base64. Inline data is moved into file storage on
	// save and cleared from the stored event.
	Data string `json:"data,omitempty"`
}

// EventLink is a typed link from one event to another. Targets may dangle.
type EventLink struct {
	Type        string          `json:"type"`
	TargetEvent EventID         `json:"targetEvent"` // Version 0: the target's latest version
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	// SourceEvent is set on links returned by GetLinks: the exact event
	// version the link goes out from. It is never stored inside an event.
	SourceEvent *EventID `json:"sourceEvent,omitempty"`
}

// NewID returns a new event id: a UUIDv7 string, time-ordered.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Prepare fills the defaults of an event about to be saved and checks its
// shape; every backend calls it first so all apply the same rules. now is
// the store's clock. It returns a copy; e is not modified. Errors wrap
// ErrInvalid.
func Prepare(e Event, now time.Time) (Event, error) {
	if e.ID.ID == "" {
		e.ID.ID = NewID()
	}
	if e.ID.Version == 0 {
		e.ID.Version = 1
	}
	if e.ID.Version < 0 {
		return e, invalidf("event %s: version must be 1 or more", e.ID.ID)
	}
	if len(e.ID.ID) > 256 {
		return e, invalidf("event: id longer than 256 bytes")
	}
	e.Position = 0
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
	if e.Producer == "" {
		e.Producer = DefaultProducer
	}
	if !utf8.ValidString(e.ID.ID) || !utf8.ValidString(e.Producer) {
		return e, invalidf("event %q: id and producer must be valid UTF-8", e.ID.ID)
	}
	if e.Schema.IsZero() {
		return e, invalidf("event %s: schema is required", e.ID.ID)
	}
	p, err := compactObject(e.Payload)
	if err != nil {
		return e, invalidf("event %s: payload: %v", e.ID.ID, err)
	}
	e.Payload = p
	if isJSONNull(e.Metadata) {
		e.Metadata = nil
	} else {
		m, err := compactObject(e.Metadata)
		if err != nil {
			return e, invalidf("event %s: metadata: %v", e.ID.ID, err)
		}
		e.Metadata = m
	}
	e.Files = append([]EventFile(nil), e.Files...)
	for i := range e.Files {
		f := &e.Files[i]
		if err := ValidateFileID(f.ID); err != nil {
			return e, fmt.Errorf("event %s: files[%d]: %w", e.ID.ID, i, err)
		}
		if f.IsReference && f.Data == "" {
			return e, invalidf("event %s: files[%d]: a reference needs data (its locator)", e.ID.ID, i)
		}
	}
	e.Links = append([]EventLink(nil), e.Links...)
	for i := range e.Links {
		l := &e.Links[i]
		if l.Type == "" || l.TargetEvent.ID == "" {
			return e, invalidf("event %s: links[%d]: type and targetEvent.id are required", e.ID.ID, i)
		}
		if !utf8.ValidString(l.Type) || !utf8.ValidString(l.TargetEvent.ID) {
			return e, invalidf("event %s: links[%d]: type and targetEvent.id must be valid UTF-8", e.ID.ID, i)
		}
		if l.TargetEvent.Version < 0 {
			return e, invalidf("event %s: links[%d]: bad target version", e.ID.ID, i)
		}
		l.SourceEvent = nil
		if isJSONNull(l.Metadata) {
			l.Metadata = nil
		} else if l.Metadata != nil {
			m, err := compactObject(l.Metadata)
			if err != nil {
				return e, invalidf("event %s: links[%d].metadata: %v", e.ID.ID, i, err)
			}
			l.Metadata = m
		}
	}
	return e, nil
}

// ValidateLink checks a link given to SaveLink. Errors wrap ErrInvalid.
func ValidateLink(l EventLink) (EventLink, error) {
	if l.Type == "" || l.TargetEvent.ID == "" {
		return l, invalidf("link: type and targetEvent.id are required")
	}
	if !utf8.ValidString(l.Type) || !utf8.ValidString(l.TargetEvent.ID) {
		return l, invalidf("link: type and targetEvent.id must be valid UTF-8")
	}
	if l.TargetEvent.Version < 0 {
		return l, invalidf("link: bad target version")
	}
	l.SourceEvent = nil
	if isJSONNull(l.Metadata) {
		l.Metadata = nil
	} else if l.Metadata != nil {
		m, err := compactObject(l.Metadata)
		if err != nil {
			return l, invalidf("link: metadata: %v", err)
		}
		l.Metadata = m
	}
	return l, nil
}

// SameEvent reports whether incoming, a retried save of an (id, version)
// that exists, is the same event as stored, ignoring what the store assigns
// (position; createdAt when the retry leaves it unset; file sizes and hashes
// when the retry leaves them unset). Both must have been through Prepare;
// incomingHadTime says whether the caller set createdAt itself.
func SameEvent(stored, incoming Event, incomingHadTime bool) bool {
	if stored.ID != incoming.ID || stored.Producer != incoming.Producer {
		return false
	}
	if incomingHadTime && !stored.CreatedAt.Equal(incoming.CreatedAt) {
		return false
	}
	if !bytes.Equal(stored.Schema.raw, incoming.Schema.raw) {
		return false
	}
	if !JSONEqual(stored.Payload, incoming.Payload) || !JSONEqual(stored.Metadata, incoming.Metadata) {
		return false
	}
	if len(stored.Files) != len(incoming.Files) || len(stored.Links) != len(incoming.Links) {
		return false
	}
	for i, f := range incoming.Files {
		s := stored.Files[i]
		if f.ID != s.ID || f.ContentType != s.ContentType || f.Filename != s.Filename || f.IsReference != s.IsReference {
			return false
		}
		if f.Hash != "" && f.Hash != s.Hash {
			return false
		}
		if f.IsReference && f.Data != s.Data {
			return false
		}
	}
	for i, l := range incoming.Links {
		s := stored.Links[i]
		if l.Type != s.Type || l.TargetEvent != s.TargetEvent || !JSONEqual(l.Metadata, s.Metadata) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of e, so a store can hand events out without
// sharing its own slices.
func (e Event) Clone() Event {
	e.Payload = bytes.Clone(e.Payload)
	e.Metadata = bytes.Clone(e.Metadata)
	e.Files = append([]EventFile(nil), e.Files...)
	links := make([]EventLink, len(e.Links))
	for i, l := range e.Links {
		l.Metadata = bytes.Clone(l.Metadata)
		links[i] = l
	}
	e.Links = links
	return e
}

func isJSONNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// compactObject checks that b is one JSON object a client may send (see
// CheckJSON: valid UTF-8, no repeated key) and returns it compacted, in a
// slice of its own.
func compactObject(b json.RawMessage) (json.RawMessage, error) {
	compact, err := checkJSONObject(b)
	if err != nil {
		return nil, err
	}
	if compact {
		return bytes.Clone(b), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// JSONEqual reports whether two JSON documents are equal as values (object
// key order and number spelling ignored). Empty and null are equal.
func JSONEqual(a, b json.RawMessage) bool {
	if isJSONNull(a) || isJSONNull(b) {
		return isJSONNull(a) == isJSONNull(b)
	}
	if bytes.Equal(a, b) {
		return true
	}
	va, err1 := decodeJSON(a)
	vb, err2 := decodeJSON(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return valueEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return scalarEqual(a, b)
	}
}
