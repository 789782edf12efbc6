package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/trovedb/trove"
)

// caps are the limits the decoders check as they read, and the server's
// cache of parsed schema documents (nil: every schema is parsed).
type caps struct {
	maxBatch int // events per batch
	maxID    int // bytes per identifier
	schemas  *schemaCache
}

func (s *Server) caps() caps {
	return caps{maxBatch: s.opts.MaxBatchEvents, maxID: s.opts.MaxIdentifierBytes, schemas: s.schemas}
}

// checkID refuses an identifier longer than the cap, naming its field.
func (c caps) checkID(field, v string) error {
	if len(v) > c.maxID {
		return badRequest(fmt.Sprintf("%s: must be at most %d bytes (the identifier cap), got %d", field, c.maxID, len(v)))
	}
	return nil
}

// decodeEvent reads one event of a create or batch request, checking its
// shape the way the original Trove does and with its detail texts.
func (c caps) decodeEvent(raw []byte) (trove.Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return trove.Event{}, badRequest("body is not valid JSON")
		}
		return trove.Event{}, badRequest("must be object")
	}
	if err := strictJSON(raw); err != nil {
		return trove.Event{}, err
	}
	fields := memberMaps.Get().(map[string]json.RawMessage)
	defer func() { putMembers(fields) }()
	if !addMembers(fields, raw) {
		clear(fields)
		if err := json.Unmarshal(raw, &fields); err != nil {
			return trove.Event{}, badRequest("body is not valid JSON: " + jsonErrText(err))
		}
	}
	if err := eventKeys(fields); err != nil {
		return trove.Event{}, err
	}
	return c.eventFromFields(fields)
}

// strictJSON refuses what the store never accepts from a client, before
// anything is decoded: invalid JSON, invalid UTF-8 in a string and an
// object with a repeated key (encoding/json would keep the last one and
// replace bad UTF-8 silently).
func strictJSON(raw []byte) error {
	if err := trove.CheckJSON(raw); err != nil {
		return badRequest("body is not valid JSON: " + detail(err))
	}
	return nil
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func kind(b json.RawMessage) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// eventFromFields builds an event from the top-level fields of a create
// request: schema and payload required objects, producer a string,
// metadata an object, files and links arrays, id a string or {id, version},
// createdAt an RFC 3339 timestamp. Every identifier is checked against the
// identifier cap before anything else looks at it.
func (c caps) eventFromFields(f map[string]json.RawMessage) (trove.Event, error) {
	var e trove.Event
	if isNull(f["schema"]) {
		return e, badRequest("must have required property 'schema'")
	}
	if isNull(f["payload"]) {
		return e, badRequest("must have required property 'payload'")
	}
	if kind(f["schema"]) != '{' {
		return e, badRequest("Path /schema: must be object")
	}
	s, err := c.schemas.parse(f["schema"])
	if err != nil {
		return e, badRequest("Path /schema: " + detail(err))
	}
	if err := c.checkID("Path /schema/$id", s.Identity()); err != nil {
		return e, err
	}
	if err := c.checkID("Path /schema/version", s.RefVersion()); err != nil {
		return e, err
	}
	e.Schema = s
	if kind(f["payload"]) != '{' {
		return e, badRequest("Path /payload: must be object")
	}
	e.Payload = f["payload"]
	if p, ok := f["producer"]; ok && !isNull(p) {
		if err := unmarshalString(p, &e.Producer); err != nil {
			return e, badRequest("Path /producer: must be string")
		}
		if err := c.checkID("Path /producer", e.Producer); err != nil {
			return e, err
		}
	}
	if m, ok := f["metadata"]; ok && !isNull(m) {
		if kind(m) != '{' {
			return e, badRequest("Path /metadata: must be object")
		}
		e.Metadata = m
	}
	if fs, ok := f["files"]; ok && !isNull(fs) {
		if kind(fs) != '[' {
			return e, badRequest("Path /files: must be array")
		}
		if isEmptyArray(fs) {
			e.Files = []trove.EventFile{}
		} else if err := json.Unmarshal(fs, &e.Files); err != nil {
			return e, badRequest("Path /files: " + jsonErrText(err))
		} else if err := elementKeys(fs, "/files", nil, fileMembers...); err != nil {
			return e, err
		}
		for i, fl := range e.Files {
			if err := c.checkID(fmt.Sprintf("Path /files/%d/id", i), fl.ID); err != nil {
				return e, err
			}
		}
	}
	if ls, ok := f["links"]; ok && !isNull(ls) {
		if kind(ls) != '[' {
			return e, badRequest("Path /links: must be array")
		}
		if links, ok := linksOf(ls); ok {
			e.Links = links
		} else if err := json.Unmarshal(ls, &e.Links); err != nil {
			return e, badRequest("Path /links: " + jsonErrText(err))
		} else if err := elementKeys(ls, "/links", linkIDKeys, linkMembers...); err != nil {
			return e, err
		}
		for i, l := range e.Links {
			if err := c.checkLink(fmt.Sprintf("Path /links/%d/", i), l); err != nil {
				return e, err
			}
		}
	}
	if id, ok := f["id"]; ok && !isNull(id) {
		switch kind(id) {
		case '"':
			_ = unmarshalString(id, &e.ID.ID)
		case '{':
			if v, ok := eventIDOf(id); ok {
				e.ID = v
			} else if err := onlyKeys(id, "/id", "id", "version"); err != nil {
				return e, err
			} else if err := json.Unmarshal(id, &e.ID); err != nil {
				return e, badRequest("Path /id: must be a string or {id, version}")
			}
		default:
			return e, badRequest("Path /id: must be a string or {id, version}")
		}
		if err := c.checkID("Path /id", e.ID.ID); err != nil {
			return e, err
		}
	}
	if ts, ok := f["createdAt"]; ok && !isNull(ts) {
		var str string
		if unmarshalString(ts, &str) != nil {
			return e, badRequest("Path /createdAt: must be string")
		}
		t, err := trove.ParseTime(str)
		if err != nil {
			return e, badRequest("Path /createdAt: must be an RFC 3339 timestamp")
		}
		e.CreatedAt = t
	}
	return e, nil
}

// checkLink checks the identifiers of a link: its type and its target.
func (c caps) checkLink(prefix string, l trove.EventLink) error {
	if err := c.checkID(prefix+"type", l.Type); err != nil {
		return err
	}
	return c.checkID(prefix+"targetEvent/id", l.TargetEvent.ID)
}

// batchOf collects a batch's events one at a time.
type batchOf struct {
	c      caps
	events []trove.Event
}

// add decodes the next event; the event past the batch cap and a bad event
// (as a trove.BatchError naming its index) are refused.
func (b *batchOf) add(raw []byte) error {
	if len(b.events) == b.c.maxBatch {
		return badRequest(fmt.Sprintf("a batch holds at most %d events (the batch cap)", b.c.maxBatch))
	}
	e, err := b.c.decodeEvent(raw)
	if err != nil {
		return &trove.BatchError{Index: len(b.events), Err: err}
	}
	b.events = append(b.events, e)
	return nil
}

// decodeBatch reads a batch body: a JSON array of events, or NDJSON (one
// event per line, blank lines skipped). It decodes the events as the body
// streams in (those of a large array in chunks, on several goroutines:
// batchDecoder), and refuses the batch at the first event past the cap and
// at the first bad event (for an array, once the chunk holding it is
// decoded), so that what it holds is the events decoded so far and a few
// chunks' bytes, never the whole body.
func (c caps) decodeBatch(r io.Reader, ndjson bool) ([]trove.Event, error) {
	b := batchOf{c: c}
	if ndjson {
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil && err != io.EOF {
				return nil, err
			}
			if len(bytes.TrimSpace(line)) > 0 {
				if err := b.add(line); err != nil {
					return nil, err
				}
			}
			if err == io.EOF {
				return b.events, nil
			}
		}
	}
	return c.decodeArray(r)
}

// decodeArraySlow is decodeBatch for a JSON array, with encoding/json's
// streaming decoder splitting the array: decodeArray's fallback, whose
// errors (offsets included) are the batch route's.
func (c caps) decodeArraySlow(r io.Reader) ([]trove.Event, error) {
	b := batchOf{c: c}
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonReadErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, badRequest("must be array")
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonReadErr(err)
		}
		if err := b.add(raw); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, jsonReadErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, badRequest("body is not valid JSON: data after the array")
		}
		return nil, jsonReadErr(err)
	}
	return b.events, nil
}

// jsonReadErr is an error of a streaming JSON decoder: the body's own
// reading errors (413, a broken body) as they are, anything else a 400.
func jsonReadErr(err error) error {
	var (
		mbe *http.MaxBytesError
		req *requestError
	)
	switch {
	case errors.As(err, &mbe), errors.As(err, &req):
		return err
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return badRequest("body is not valid JSON: unexpected end of input")
	}
	return badRequest("body is not valid JSON: " + jsonErrText(err))
}

// formField turns a multipart text field into the JSON the event decoder
// expects. schema and payload must be JSON (else they count as missing, as
// in the original); the others are used as JSON when valid, else as a JSON
// string.
func formField(name, value string) (json.RawMessage, error) {
	v := strings.TrimSpace(value)
	switch name {
	case "schema", "payload":
		if err := trove.CheckJSON([]byte(v)); err != nil {
			return nil, badRequest(fmt.Sprintf("form field %s is not valid JSON: %s", name, detail(err)))
		}
		return json.RawMessage(v), nil
	case "producer", "id", "createdAt":
		if kind(json.RawMessage(v)) == '"' && json.Valid([]byte(v)) {
			return json.RawMessage(v), nil
		}
		if name == "id" && kind(json.RawMessage(v)) == '{' && json.Valid([]byte(v)) {
			return json.RawMessage(v), nil
		}
	default:
		if json.Valid([]byte(v)) {
			return json.RawMessage(v), nil
		}
	}
	b, _ := json.Marshal(value)
	return b, nil
}
