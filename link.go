package trove

// Same reports whether l and o are the same link fact: the same type and
// the same target (id and version; version 0 is the target's latest).
// Metadata is not compared. A link belongs to an exact source version, and
// saving a link its source version already has, with the event or added
// later, is a no-op that keeps the first one's metadata.
func (l EventLink) Same(o EventLink) bool {
	return l.Type == o.Type && l.TargetEvent.ID == o.TargetEvent.ID && l.TargetEvent.Version == o.TargetEvent.Version
}
