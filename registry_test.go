package trove_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// A plugin this module ships but the program did not import is named with
// the import that registers it.
func TestNewPluginNotImported(t *testing.T) {
	_, err := trove.NewPlugin("storage-postgres", nil)
	if !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("NewPlugin of an unimported plugin: %v, want ErrInvalid", err)
	}
	if want := `import _ "github.com/trovedb/trove/plugins/postgres"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %s", err, want)
	}
	_, err = trove.NewPlugin("storage-nope", nil)
	if !errors.Is(err, trove.ErrInvalid) || strings.Contains(err.Error(), "import") {
		t.Fatalf("NewPlugin of an unknown plugin: %v", err)
	}
}

// The two first steps of embedding that fail without the right import or
// plugin name say what to write.
func TestOpenSaysWhatToImport(t *testing.T) {
	ctx := context.Background()
	_, err := trove.Open(ctx, trove.Config{})
	if !errors.Is(err, trove.ErrInvalid) || !strings.Contains(err.Error(), `"storage-log" (import _ "github.com/trovedb/trove/engine"`) {
		t.Fatalf("Open of an empty config: %v", err)
	}
	_, err = trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{Events: trove.PluginConfig{Plugin: "storage-postgres"}}})
	if !errors.Is(err, trove.ErrInvalid) || !strings.Contains(err.Error(), `import _ "github.com/trovedb/trove/plugins/postgres"`) {
		t.Fatalf("Open of a plugin not imported: %v", err)
	}
}
