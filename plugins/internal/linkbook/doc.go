// Package linkbook holds the link bookkeeping that in-memory link lists
// share: which links GetLinks returns for an event and a direction, how
// they are handed out, and which events GetLinkedEvents returns for them.
//
// A backend keeps every link as an Entry (the exact source version and the
// link) in save order, and each event version's outgoing links (those saved
// with the event, then those added with SaveLink). It passes them here
// through a Book, whose methods it calls holding its own lock; nothing in
// this package locks or keeps state.
//
// The rules (trove.LinkStorage in storage.go):
//   - Outgoing (the default direction) lists the links of the version id
//     names (its latest for Version 0) in save order; an absent event is
//     ErrNotFound.
//   - Incoming lists, in save order, every link whose target is id.ID and
//     whose versions agree (either side 0 agrees with any version).
//   - A Type in the options keeps only links of that type; any other
//     direction is ErrInvalid.
//   - Linked events are the events at the other end, the latest version
//     unless the link pins one, each once, in link order, dangling targets
//     skipped.
//
// Links handed out are copies: their metadata is never shared with the
// backend's, and SourceEvent is set.
package linkbook
