package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/console"
)

// recordCheck keeps a check's outcome in the checked store's directory
// (console.CheckFile), where the console's overview finds it. A check that
// could not run (the store is in use, its options name no directory)
// leaves no record; failing to write one is reported on stderr and does
// not change the check's own outcome.
func recordCheck(options json.RawMessage, summary string, err error, stderr io.Writer) {
	if err != nil && !errors.Is(err, trove.ErrCorrupt) {
		return
	}
	var o struct {
		Directory string `json:"directory"`
	}
	if json.Unmarshal(options, &o) != nil || o.Directory == "" {
		return
	}
	r := console.CheckResult{At: time.Now().UTC().Truncate(time.Millisecond), OK: err == nil, Summary: summary}
	if err != nil {
		lines := strings.Split(err.Error(), "\n")
		r.Summary = lines[0]
		for _, l := range lines[1:] {
			if l = strings.TrimSpace(l); l != "" {
				r.Problems = append(r.Problems, l)
			}
		}
	}
	if werr := console.WriteCheckResult(o.Directory, r); werr != nil {
		fmt.Fprintf(stderr, "troved: check: %v\n", werr)
	}
}
