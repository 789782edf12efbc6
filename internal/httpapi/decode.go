package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trovedb/trove"
)

// decodeEvent reads one event of a create or batch request, checking its
// shape the way the original Trove does and with its detail texts.
func decodeEvent(raw []byte) (trove.Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return trove.Event{}, badRequest("body is not valid JSON")
		}
		return trove.Event{}, badRequest("must be object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return trove.Event{}, badRequest("body is not valid JSON: " + jsonErrText(err))
	}
	return eventFromFields(fields)
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
// createdAt an RFC 3339 timestamp.
func eventFromFields(f map[string]json.RawMessage) (trove.Event, error) {
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
	s, err := trove.NewSchema(f["schema"])
	if err != nil {
		return e, badRequest("Path /schema: " + detail(err))
	}
	e.Schema = s
	if kind(f["payload"]) != '{' {
		return e, badRequest("Path /payload: must be object")
	}
	e.Payload = f["payload"]
	if p, ok := f["producer"]; ok && !isNull(p) {
		if err := json.Unmarshal(p, &e.Producer); err != nil {
			return e, badRequest("Path /producer: must be string")
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
		if err := json.Unmarshal(fs, &e.Files); err != nil {
			return e, badRequest("Path /files: " + jsonErrText(err))
		}
	}
	if ls, ok := f["links"]; ok && !isNull(ls) {
		if kind(ls) != '[' {
			return e, badRequest("Path /links: must be array")
		}
		if err := json.Unmarshal(ls, &e.Links); err != nil {
			return e, badRequest("Path /links: " + jsonErrText(err))
		}
	}
	if id, ok := f["id"]; ok && !isNull(id) {
		switch kind(id) {
		case '"':
			_ = json.Unmarshal(id, &e.ID.ID)
		case '{':
			if err := json.Unmarshal(id, &e.ID); err != nil {
				return e, badRequest("Path /id: must be a string or {id, version}")
			}
		default:
			return e, badRequest("Path /id: must be a string or {id, version}")
		}
	}
	if ts, ok := f["createdAt"]; ok && !isNull(ts) {
		var str string
		if json.Unmarshal(ts, &str) != nil {
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

// decodeBatch reads a batch body: a JSON array of events, or NDJSON (one
// event per line, blank lines skipped).
func decodeBatch(r io.Reader, ndjson bool, max int) ([]trove.Event, error) {
	var raws []json.RawMessage
	if ndjson {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		for line := range bytes.Lines(data) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if len(raws) == max {
				return nil, badRequest(fmt.Sprintf("a batch holds at most %d events", max))
			}
			raws = append(raws, line)
		}
	} else {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		data = bytes.TrimSpace(data)
		if len(data) == 0 || data[0] != '[' {
			if !json.Valid(data) {
				return nil, badRequest("body is not valid JSON")
			}
			return nil, badRequest("must be array")
		}
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, badRequest("body is not valid JSON: " + jsonErrText(err))
		}
		if len(raws) > max {
			return nil, badRequest(fmt.Sprintf("a batch holds at most %d events", max))
		}
	}
	events := make([]trove.Event, len(raws))
	for i, raw := range raws {
		e, err := decodeEvent(raw)
		if err != nil {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		events[i] = e
	}
	return events, nil
}

// formField turns a multipart text field into the JSON the event decoder
// expects. schema and payload must be JSON (else they count as missing, as
// in the original); the others are used as JSON when valid, else as a JSON
// string.
func formField(name, value string) (json.RawMessage, bool) {
	v := strings.TrimSpace(value)
	switch name {
	case "schema", "payload":
		if !json.Valid([]byte(v)) {
			return nil, false
		}
		return json.RawMessage(v), true
	case "producer", "id", "createdAt":
		if kind(json.RawMessage(v)) == '"' && json.Valid([]byte(v)) {
			return json.RawMessage(v), true
		}
		if name == "id" && kind(json.RawMessage(v)) == '{' && json.Valid([]byte(v)) {
			return json.RawMessage(v), true
		}
	default:
		if json.Valid([]byte(v)) {
			return json.RawMessage(v), true
		}
	}
	b, _ := json.Marshal(value)
	return b, true
}
