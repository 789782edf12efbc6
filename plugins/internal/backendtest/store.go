package backendtest

import (
	"context"
	"testing"

	"github.com/trovedb/trove"
)

// Store is a durable event backend under test.
type Store interface {
	trove.EventStorage
	trove.BatchSaver
	Shutdown(ctx context.Context) error
}

// Opener makes and initializes the backend's store in directory dir (the
// same dir again to reopen it), failing tb on error, and shuts it down in
// tb's cleanup.
type Opener func(tb testing.TB, dir string) Store
