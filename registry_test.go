package trove_test

import (
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
