package trove

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every backend returns errors that wrap one of these, so
// callers test them with errors.Is and never by comparing strings.
var (
	// ErrNotFound is returned when an event, a version of an event, a file or
	// a schema does not exist, and by SaveLink when the source event does not
	// exist.
	ErrNotFound = errors.New("trove: not found")

	// ErrConflict is returned when a save contradicts what is stored: an
	// (id, version) that exists with different content, a version that is not
	// exactly latest+1, a file id that exists with different bytes, a schema
	// registered again under the same id and version with another document,
	// or a transaction whose events conflict at commit.
	ErrConflict = errors.New("trove: conflict")

	// ErrInvalid is returned for input that can never succeed: a malformed
	// event (payload not an object, bad createdAt, bad schema), a payload that
	// fails its JSON Schema, a bad file id or a mismatching file hash, a bad
	// query (unknown sort field, negative limit, object as payload value, an
	// unparsable time bound or search string), a bad config.
	ErrInvalid = errors.New("trove: invalid")

	// ErrClosed is returned by every call made after Shutdown (or Close), and
	// by a transaction used after Commit or Rollback.
	ErrClosed = errors.New("trove: closed")

	// ErrCorrupt is returned when stored data fails a checksum or a structural
	// check. Backends wrap it in a *CorruptionError that says where.
	ErrCorrupt = errors.New("trove: corrupt data")

	// ErrLocked is returned when a store opens a directory or file that
	// another store, in this process or another, holds open: every
	// persistent backend locks its data while open. The error names the
	// directory and, where the system tells, the holding process id; the
	// failed open changed nothing.
	ErrLocked = errors.New("trove: locked by another store")
)

// CorruptionError locates damaged data. It matches ErrCorrupt with errors.Is.
type CorruptionError struct {
	File   string // the damaged file (segment, WAL part, index snapshot)
	Offset int64  // byte offset of the damaged record within File, or -1
	Reason string // what check failed
}

func (e *CorruptionError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("trove: corrupt data in %s at offset %d: %s", e.File, e.Offset, e.Reason)
	}
	return fmt.Sprintf("trove: corrupt data in %s: %s", e.File, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// ValidationError reports every way a payload fails its JSON Schema. It
// matches ErrInvalid with errors.Is.
type ValidationError struct {
	Schema string            // the schema identity
	Causes []ValidationCause // one per failing location, in document order
}

// ValidationCause is one failing location of a payload.
type ValidationCause struct {
	Path    string `json:"path"`    // JSON pointer into the payload, "" for the root
	Message string `json:"message"` // what the schema requires there
}

func (e *ValidationError) Error() string {
	s := "trove: invalid: payload does not match schema " + e.Schema
	for i, c := range e.Causes {
		if i == 0 {
			s += ": "
		} else {
			s += "; "
		}
		p := c.Path
		if p == "" {
			p = "/"
		}
		s += p + ": " + c.Message
	}
	return s
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// invalidf returns an error wrapping ErrInvalid with a formatted reason.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
