package trove

import "fmt"

// VersionCase is how a save of version v of an id relates to the versions
// stored and to those saved before it in the same batch or group: the one
// version rule every backend applies (ClassifyVersion).
type VersionCase int

// The cases of ClassifyVersion.
const (
	// VersionStored: v is stored already. An idempotent retry when the
	// event is the same (SameEvent), else ConflictOtherContent.
	VersionStored VersionCase = iota
	// VersionPending: v was saved earlier in the same batch or group. A
	// retry when the same, else ConflictOtherContent.
	VersionPending
	// VersionNext: v is latest+1, a new version.
	VersionNext
	// VersionGap: anything else, ConflictVersionGap.
	VersionGap
)

// ClassifyVersion applies the version rule to a save of version v, where
// stored is the id's latest stored version (0 when none) and latest its
// latest version counting those saved before it in the same batch or group
// (at least stored).
func ClassifyVersion(v, stored, latest int) VersionCase {
	switch {
	case v <= stored:
		return VersionStored
	case v <= latest:
		return VersionPending
	case v == latest+1:
		return VersionNext
	}
	return VersionGap
}

// ConflictOtherContent is the ErrConflict of saving an (id, version) that
// is stored, or saved earlier in the same batch or group (pending), with
// other content. backend starts the text, as every error of a backend
// does.
func ConflictOtherContent(backend string, id EventID, pending bool) error {
	if pending {
		return fmt.Errorf("%w: %s: event %s is saved earlier in the same batch with other content", ErrConflict, backend, id)
	}
	return fmt.Errorf("%w: %s: event %s exists with other content", ErrConflict, backend, id)
}

// ConflictVersionGap is the ErrConflict of saving a version that is not
// latest+1.
func ConflictVersionGap(backend string, id EventID, latest int) error {
	return fmt.Errorf("%w: %s: event %s: version %d is not latest+1 (latest is %d)", ErrConflict, backend, id.ID, id.Version, latest)
}
