package trove

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Schema is an event's schema: either a full JSON Schema document, named by
// its "$id", or a reference {"id": …, "version": …} to a schema registered
// with the core. Its identity — "$id" when present, else "id", else "" for
// an anonymous document — is what queries match. The zero Schema is "no
// schema".
type Schema struct {
	raw      json.RawMessage // compacted JSON object
	identity string
	version  string // the reference's version, as written ("1", "1.0.0")
	ref      bool
}

// NewSchema parses a schema given as JSON: a JSON Schema document (any
// object; its identity is its "$id", or "" when it has none, such as {} or
// {"type":"object"}), or a reference {"id","version"}. Errors wrap
// ErrInvalid.
func NewSchema(raw json.RawMessage) (Schema, error) {
	b, err := compactObject(raw)
	if err != nil {
		return Schema{}, invalidf("schema: %v", err)
	}
	var head struct {
		DollarID *string         `json:"$id"`
		ID       *string         `json:"id"`
		Version  json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Schema{}, invalidf("schema: %v", err)
	}
	s := Schema{raw: b}
	switch {
	case head.DollarID != nil && *head.DollarID != "":
		s.identity = *head.DollarID
	case head.ID != nil && *head.ID != "":
		s.identity = *head.ID
		// A reference has nothing but id and version.
		var all map[string]json.RawMessage
		_ = json.Unmarshal(b, &all)
		if _, hasVersion := all["version"]; hasVersion && len(all) == 2 {
			s.ref = true
			s.version = versionString(head.Version)
		}
	}
	// A document with neither is an anonymous JSON Schema: it validates,
	// and its identity is "" (the query {"schema": ""} finds its events).
	return s, nil
}

// MustSchema is NewSchema for literals known to be valid; it panics otherwise.
func MustSchema(raw string) Schema {
	s, err := NewSchema(json.RawMessage(raw))
	if err != nil {
		panic(err)
	}
	return s
}

// SchemaRef returns a reference to a registered schema.
func SchemaRef(id, version string) Schema {
	v, _ := json.Marshal(version)
	if _, err := strconv.Atoi(version); err == nil {
		v = []byte(version)
	}
	idJSON, _ := json.Marshal(id)
	raw := fmt.Sprintf(`{"id":%s,"version":%s}`, idJSON, v)
	return Schema{raw: json.RawMessage(raw), identity: id, version: version, ref: true}
}

func versionString(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

// Identity is the schema's "$id", or the reference's "id".
func (s Schema) Identity() string { return s.identity }

// IsReference reports whether s is a reference {id, version} rather than a
// full document.
func (s Schema) IsReference() bool { return s.ref }

// RefVersion is the version of a reference, as written.
func (s Schema) RefVersion() string { return s.version }

// IsZero reports whether s is unset.
func (s Schema) IsZero() bool { return len(s.raw) == 0 }

// Raw returns the schema's compacted JSON. The caller must not modify it.
func (s Schema) Raw() json.RawMessage { return s.raw }

// Equal reports whether two schemas are the same document.
func (s Schema) Equal(o Schema) bool { return bytes.Equal(s.raw, o.raw) }

// MarshalJSON writes the schema document (null when unset).
func (s Schema) MarshalJSON() ([]byte, error) {
	if s.IsZero() {
		return []byte("null"), nil
	}
	return s.raw, nil
}

// UnmarshalJSON parses a schema document; see NewSchema.
func (s *Schema) UnmarshalJSON(b []byte) error {
	if isJSONNull(b) {
		*s = Schema{}
		return nil
	}
	v, err := NewSchema(b)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// RegisteredSchema is an entry of the core's schema registry, in the
// original's documented shape {id, version, schema}.
type RegisteredSchema struct {
	ID      string          `json:"id"`
	Version string          `json:"version"`
	Schema  json.RawMessage `json:"schema"`
}

// UnmarshalJSON accepts the version as a JSON string or number.
func (r *RegisteredSchema) UnmarshalJSON(b []byte) error {
	var j struct {
		ID      string          `json:"id"`
		Version json.RawMessage `json:"version"`
		Schema  json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return invalidf("schema registration: %v", err)
	}
	r.ID, r.Schema = j.ID, j.Schema
	r.Version = ""
	if len(j.Version) > 0 && !isJSONNull(j.Version) {
		r.Version = versionString(j.Version)
	}
	return nil
}
