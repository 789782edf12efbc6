// Package filesystem is the storage-file-system plugin: Trove's files
// role on a local directory.
//
// It registers itself as "storage-file-system"; import it for its side
// effect:
//
//	import _ "github.com/trovedb/trove/plugins/filesystem"
//
// Options (JSON), as in the original Trove's docs, where it sits next to
// storage-json-file:
//
//	{"plugin": "storage-file-system", "options": {"directory": "./data/files"}}
//
// The directory is a blob/local store: every file's bytes are kept once
// under their SHA-256 (two ids with the same bytes share them), each id has
// a small JSON record with its content type, filename, size and hash.
// Saves stream through a small buffer (never a whole file in memory), are
// durable when SaveFile returns, and are atomic: a crash leaves no partial
// file visible. GetFileData returns an *os.File, so range requests are
// served by seeking.
//
// One store at a time may use a directory: Initialize locks it (see
// blob/local), and a second one, in another process or this one, fails
// within about half a second with an error wrapping trove.ErrLocked that
// names the directory and the holding process, changing nothing.
package filesystem
