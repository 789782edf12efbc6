package engine

import "github.com/trovedb/trove"

// alreadyCompact reports whether b is a JSON object that a client may send
// (trove.CheckJSONObject: valid JSON, valid UTF-8, no repeated key) and
// that json.Compact would leave unchanged: no insignificant white space
// anywhere, nothing before or after the object. It is the fast path of
// staging: for such payloads trove.Prepare's check and compaction would
// copy them unchanged, so staging skips it. Anything else reports false
// and takes the slow path, whose trove.Prepare refuses it or compacts it.
func alreadyCompact(b []byte) bool {
	compact, err := trove.CheckJSONObject(b)
	return err == nil && compact
}
