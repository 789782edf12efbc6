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

// Register registers the plugin name, made by make from its options
// decoded into an O (Decode with pkg and mode).
func Register[O any, P trove.Plugin](name, pkg string, mode Mode, make func(O) (P, error)) {
	trove.Register(name, func(options json.RawMessage) (trove.Plugin, error) {
		var o O
		if err := Decode(pkg, options, &o, mode); err != nil {
			return nil, err
		}
		p, err := make(o)
		if err != nil {
			return nil, err
		}
		return p, nil
	})
}
