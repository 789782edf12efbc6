package pluginopts

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/trovedb/trove"
)

// Mode says what Decode does with fields the options struct lacks.
type Mode int

const (
	// Lenient ignores unknown fields.
	Lenient Mode = iota
	// Strict refuses unknown fields.
	Strict
)

// Decode decodes raw into v (a pointer to an options struct). Empty or
// null raw leaves v unchanged. pkg starts the error text.
func Decode(pkg string, raw json.RawMessage, v any, mode Mode) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var err error
	if mode == Strict {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	} else {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: options: %v", trove.ErrInvalid, pkg, err)
	}
	return nil
}
