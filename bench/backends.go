package main

// The Trove backends under test, linked in so that trove.NewPlugin finds
// them. A backend missing here is reported as unavailable.
import (
	_ "github.com/trovedb/trove/engine"           // storage-log
	_ "github.com/trovedb/trove/plugins/jsonfile" // storage-json-file
	_ "github.com/trovedb/trove/plugins/memory"   // storage-memory
	_ "github.com/trovedb/trove/plugins/postgres" // storage-postgres
	_ "github.com/trovedb/trove/plugins/sqlite"   // storage-sqlite
)
