package httpapi

import (
	"encoding/json"
	"strconv"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
)

// Decoding the fields of an event without reflection, where the field has
// the shape clients send: a string without escapes, an id {id, version},
// an empty array, links of a type and a target. Each reader answers only
// when its answer is json.Unmarshal's, byte for byte, and otherwise says
// so (false), and the caller leaves the field to encoding/json: whatever
// is unusual (escapes, non-ASCII text, keys in other cases, nulls, extra
// members, numbers that are not plain integers) is decoded, and refused,
// as before.

// plainText returns the text of raw, a JSON string, when it is printable
// ASCII without escapes: the bytes between its quotes, which is what
// json.Unmarshal gives for it.
func plainText(raw []byte) (string, bool) {
	raw = trimJSONSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	if !plainASCII(in) {
		return "", false
	}
	return string(in), true
}

// plainASCII reports whether b is printable ASCII without a quote or a
// backslash.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// unmarshalString is json.Unmarshal(raw, dst) for a string.
func unmarshalString(raw []byte, dst *string) error {
	if s, ok := plainText(raw); ok {
		*dst = s
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// isEmptyArray reports whether raw is [], which json.Unmarshal decodes
// into an empty slice that is not nil.
func isEmptyArray(raw []byte) bool { return string(trimJSONSpace(raw)) == "[]" }

// trimJSONSpace returns b without its leading and trailing JSON white
// space.
func trimJSONSpace(b []byte) []byte {
	b = b[skipSpace(b, 0):]
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// eventIDOf reads raw, a JSON object, as json.Unmarshal reads a
// trove.EventID.
func eventIDOf(raw []byte) (trove.EventID, bool) {
	s := jsonscan.New(raw)
	if s.Next() != jsonscan.BeginObject {
		return trove.EventID{}, false
	}
	id, ok := scanEventID(&s)
	return id, ok && s.Next() == jsonscan.End
}

// scanEventID reads the members of an id {id, version} after its opening
// brace, up to its closing one: each at most once, the id a plain string,
// the version an integer.
func scanEventID(s *jsonscan.Scanner) (trove.EventID, bool) {
	var (
		id                trove.EventID
		hasID, hasVersion bool
	)
	for k := s.Next(); k != jsonscan.EndObject; k = s.Next() {
		if k != jsonscan.Key || s.Escaped() {
			return id, false
		}
		switch string(s.RawText()) {
		case "id":
			if hasID || s.Next() != jsonscan.String || s.Escaped() || !plainASCII(s.RawText()) {
				return id, false
			}
			id.ID, hasID = string(s.RawText()), true
		case "version":
			if hasVersion || s.Next() != jsonscan.Number {
				return id, false
			}
			n, err := strconv.Atoi(string(s.Raw()))
			if err != nil {
				return id, false
			}
			id.Version, hasVersion = n, true
		default:
			return id, false
		}
	}
	return id, true
}

// linksOf reads raw, a JSON array, as json.Unmarshal reads []trove.EventLink,
// when each link has a plain type and a target and nothing else.
func linksOf(raw []byte) ([]trove.EventLink, bool) {
	s := jsonscan.New(raw)
	if s.Next() != jsonscan.BeginArray {
		return nil, false
	}
	links := []trove.EventLink{}
	for k := s.Next(); k != jsonscan.EndArray; k = s.Next() {
		if k != jsonscan.BeginObject {
			return nil, false
		}
		var (
			l                  trove.EventLink
			hasType, hasTarget bool
		)
		for k := s.Next(); k != jsonscan.EndObject; k = s.Next() {
			if k != jsonscan.Key || s.Escaped() {
				return nil, false
			}
			switch string(s.RawText()) {
			case "type":
				if hasType || s.Next() != jsonscan.String || s.Escaped() || !plainASCII(s.RawText()) {
					return nil, false
				}
				l.Type, hasType = string(s.RawText()), true
			case "targetEvent":
				if hasTarget || s.Next() != jsonscan.BeginObject {
					return nil, false
				}
				id, ok := scanEventID(&s)
				if !ok {
					return nil, false
				}
				l.TargetEvent, hasTarget = id, true
			default:
				return nil, false
			}
		}
		links = append(links, l)
	}
	return links, s.Next() == jsonscan.End
}
