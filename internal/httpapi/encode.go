package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
)

// The answers of the write routes, encoded without reflection: what
// json.Marshal writes for a stored event (trove.Event.MarshalJSON, then
// encoding/json's HTML escaping) and for the minimal answers, byte for
// byte. Strings with nothing to escape and JSON values that are already
// compact (the stored payloads are) are copied as they are; anything else
// is handed to encoding/json, so that every escape and every compaction is
// its own.

// plainString reports whether encoding/json writes s between quotes as it
// is, with or without HTML escaping: printable ASCII but the quote, the
// backslash and the HTML-sensitive <, > and &.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendString appends s as json.Marshal writes it (HTML-escaped).
func appendString(dst []byte, s string) []byte {
	if plainString(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// appendCompact appends raw, a JSON value, compacted as encoding/json
// writes a json.Marshaler's output (without its HTML escaping, which the
// callers apply to the whole answer); an error when raw is not valid JSON.
func appendCompact(dst, raw []byte) ([]byte, error) {
	s := jsonscan.New(raw)
	if s.Next() != jsonscan.Invalid && (s.Kind() != jsonscan.BeginObject && s.Kind() != jsonscan.BeginArray || s.Skip()) && s.Next() == jsonscan.End && s.Compact() {
		return append(dst, raw...), nil
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// appendEventID appends id as encoding/json writes a trove.EventID.
func appendEventID(dst []byte, id trove.EventID) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, id.ID)
	if id.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, int64(id.Version), 10)
	}
	return append(dst, '}')
}

// appendRef appends what a create answers with Prefer: return=minimal,
// as json.Marshal writes a savedRef.
func appendRef(dst []byte, r savedRef) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendEventID(dst, r.ID)
	dst = append(dst, `,"position":`...)
	dst = strconv.AppendUint(dst, r.Position, 10)
	return append(dst, '}')
}

// appendEventJSON appends e's JSON as trove.Event.MarshalJSON writes it,
// except that strings with characters to escape are written HTML-escaped
// already: appendEvent escapes the whole of it, so that the result is
// json.Marshal's either way.
func appendEventJSON(dst []byte, e trove.Event) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = appendEventID(dst, e.ID)
	if e.Position != 0 {
		dst = append(dst, `,"position":`...)
		dst = strconv.AppendUint(dst, e.Position, 10)
	}
	if !e.CreatedAt.IsZero() {
		dst = append(dst, `,"createdAt":`...)
		dst = appendString(dst, trove.FormatTime(e.CreatedAt))
	}
	if e.Producer != "" {
		dst = append(dst, `,"producer":`...)
		dst = appendString(dst, e.Producer)
	}
	dst = append(dst, `,"schema":`...)
	if e.Schema.IsZero() {
		dst = append(dst, "null"...)
	} else if dst, err = appendCompact(dst, e.Schema.Raw()); err != nil {
		return dst, err
	}
	dst = append(dst, `,"payload":`...)
	if len(e.Payload) == 0 {
		dst = append(dst, "null"...)
	} else if dst, err = appendCompact(dst, e.Payload); err != nil {
		return dst, err
	}
	dst = append(dst, `,"files":[`...)
	for i, f := range e.Files {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFile(dst, f)
	}
	dst = append(dst, `],"links":[`...)
	for i, l := range e.Links {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendLink(dst, l); err != nil {
			return dst, err
		}
	}
	dst = append(dst, ']')
	if m := bytes.TrimSpace(e.Metadata); len(m) != 0 && string(m) != "null" {
		dst = append(dst, `,"metadata":`...)
		if dst, err = appendCompact(dst, e.Metadata); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendFile appends f as encoding/json writes a trove.EventFile.
func appendFile(dst []byte, f trove.EventFile) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, f.ID)
	if f.ContentType != "" {
		dst = append(dst, `,"contentType":`...)
		dst = appendString(dst, f.ContentType)
	}
	if f.Filename != "" {
		dst = append(dst, `,"filename":`...)
		dst = appendString(dst, f.Filename)
	}
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, f.Size, 10)
	if f.Hash != "" {
		dst = append(dst, `,"hash":`...)
		dst = appendString(dst, f.Hash)
	}
	if f.IsReference {
		dst = append(dst, `,"isReference":true`...)
	}
	if f.Data != "" {
		dst = append(dst, `,"data":`...)
		dst = appendString(dst, f.Data)
	}
	return append(dst, '}')
}

// appendLink appends l as encoding/json writes a trove.EventLink.
func appendLink(dst []byte, l trove.EventLink) ([]byte, error) {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, l.Type)
	dst = append(dst, `,"targetEvent":`...)
	dst = appendEventID(dst, l.TargetEvent)
	if len(l.Metadata) != 0 {
		dst = append(dst, `,"metadata":`...)
		var err error
		if dst, err = appendCompact(dst, l.Metadata); err != nil {
			return dst, err
		}
	}
	if l.SourceEvent != nil {
		dst = append(dst, `,"sourceEvent":`...)
		dst = appendEventID(dst, *l.SourceEvent)
	}
	return append(dst, '}'), nil
}

// needsHTMLEscape reports whether json.HTMLEscape would change b: whether
// it holds <, >, & or the first byte of U+2028 or U+2029.
func needsHTMLEscape(b []byte) bool {
	return bytes.IndexByte(b, '<') >= 0 || bytes.IndexByte(b, '>') >= 0 || bytes.IndexByte(b, '&') >= 0 || bytes.IndexByte(b, 0xe2) >= 0
}
