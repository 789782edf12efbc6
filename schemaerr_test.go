package trove_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	_ "github.com/trovedb/trove/plugins/memory"
)

// A schema that is not valid JSON Schema is refused naming where it breaks
// the metaschema, never with the validator's internal document names.
func TestInvalidSchemaErrorText(t *testing.T) {
	ctx := context.Background()
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{Events: trove.PluginConfig{Plugin: "storage-memory"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Shutdown(ctx)
	for doc, want := range map[string]string{
		`{"$id":"bad","type":"objectt"}`:                          "/type: value must be one of",
		`{"$id":"bad","properties":{"a":{"minimum":"x"}}}`:        "/properties/a/minimum: got string, want number",
		`{"$id":"bad","type":"object","pattern":"(("}`:            "/pattern: '((' is not valid regex",
		`{"type":"object","properties":{"a":{"type":"strinng"}}}`: "/properties/a/type",
	} {
		_, err := core.CreateEvent(ctx, trove.Event{Schema: trove.MustSchema(doc), Payload: json.RawMessage(`{}`)})
		if !errors.Is(err, trove.ErrInvalid) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "mem://") {
			t.Errorf("schema %s: %v, want ErrInvalid saying %q", doc, err, want)
		}
	}
}
