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
// The directory is a blob/local store. Files up to 64 KiB are appended,
// with their content type, filename, size and hash, to a pack log with a
// group commit (concurrent saves share one fsync). Larger files' bytes are
// kept once under their SHA-256 (two ids with the same bytes share them),
// each id with a small JSON record. Saves stream through a small buffer
// (never a large file in memory), are durable when SaveFile returns, and
// are atomic: a crash leaves no partial file visible. GetFileData's reader
// seeks, so range requests are served by seeking.
//
// One store at a time may use a directory: Initialize locks it (see
// blob/local), and a second one, in another process or this one, fails
// within about half a second with an error wrapping trove.ErrLocked that
// names the directory and the holding process, changing nothing.
package filesystem
