package trove

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validators compiles JSON Schemas and caches them by content, so any number
// of events may share a "$id" and each distinct document is compiled once.
// Documents without "$schema" are read as draft 2020-12; draft-07 (and the
// other drafts) are used when "$schema" names them.
type validators struct {
	mu    sync.Mutex
	cache map[[32]byte]*jsonschema.Schema // guarded by mu; by sha256 of the document
}

func (v *validators) compile(doc []byte) (*jsonschema.Schema, error) {
	key := sha256.Sum256(doc)
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.cache[key]; ok {
		return s, nil
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, invalidf("schema: %v", err)
	}
	// Each document gets its own compiler: two documents may share an $id.
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "mem://trove/" + hex.EncodeToString(key[:8]) + ".json"
	if err := c.AddResource(url, parsed); err != nil {
		return nil, invalidf("schema: %v", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, invalidf("schema: %v", err)
	}
	if v.cache == nil {
		v.cache = map[[32]byte]*jsonschema.Schema{}
	}
	v.cache[key] = s
	return s, nil
}

// validate checks payload against the schema document doc, whose identity is
// id. A failing payload returns a *ValidationError listing every failing
// location.
func (v *validators) validate(id string, doc, payload []byte) error {
	s, err := v.compile(doc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return invalidf("payload: %v", err)
	}
	err = s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return invalidf("payload: %v", err)
	}
	out := &ValidationError{Schema: id}
	seen := map[ValidationCause]bool{}
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			c := ValidationCause{Path: u.InstanceLocation, Message: u.Error.String()}
			if !seen[c] {
				seen[c] = true
				out.Causes = append(out.Causes, c)
			}
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.BasicOutput())
	if len(out.Causes) == 0 {
		out.Causes = append(out.Causes, ValidationCause{Message: ve.Error()})
	}
	sort.SliceStable(out.Causes, func(i, j int) bool { return out.Causes[i].Path < out.Causes[j].Path })
	return out
}
