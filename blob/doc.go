// Package blob stores file bytes for Trove.
//
// Store is the small interface every byte store implements: Put streams an
// object in atomically and once (the same bytes again are an idempotent
// retry, other bytes a conflict), Get streams it out (seekable where the
// store can seek, so HTTP range requests work), Stat and Delete. Every
// object carries its size and SHA-256, computed by the store while the bytes
// stream through, a content type and a little metadata. Nothing is ever held
// whole in memory.
//
// Implementations:
//
//   - blob/local: a content-addressed directory (objects named by their
//     SHA-256, deduplicated), crash-safe.
//   - blob/s3: a bucket (and key prefix) on AWS S3 or any S3-compatible
//     server, with metadata in the objects' own metadata.
//
// blob/blobtest is the conformance kit every Store passes:
//
//	blobtest.Run(t, func(t testing.TB) blob.Store { … })
//
// NewFileStorage turns any Store into a trove.FileStorage: the file id is
// the object key, EventFile.ContentType the object's content type, the
// filename is kept in the metadata (MetaFilename), and Size and Hash
// ("sha256:<hex>") come from the store. The plugins storage-file-system
// (blob/local) and storage-s3 (blob/s3), and the log engine's files role,
// are built this way.
//
// Errors wrap the trove sentinels (trove.ErrInvalid, trove.ErrNotFound,
// trove.ErrConflict, trove.ErrClosed); test them with errors.Is.
package blob
