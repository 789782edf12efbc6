// Package schemareg holds the rules of a schema registry kept as a list in
// registration order (trove.SchemaStore), for backends that hold the list
// in memory: registering the same (id, version) with the same document
// (trove.JSONEqual) is a no-op, with another document ErrConflict; lists
// handed out are copies. Nothing here locks; the caller holds its store's
// lock around each call and persists the list Add returns, if it persists.
package schemareg
