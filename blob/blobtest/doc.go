// Package blobtest is the conformance kit for blob.Store implementations.
// A store's test calls it in one line:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t testing.TB) blob.Store {
//			s, err := local.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run checks every rule of the blob.Store contract: round trips of several
// sizes (including empty and multi-megabyte objects), Info and metadata,
// key validation, create-once semantics (same bytes idempotent, other bytes
// a conflict, also under concurrent writers), expected digests, atomicity
// when the stream fails or the context ends, deduplicated bytes under two
// keys, Delete, seeking readers, and ErrClosed after Close.
//
// RunFiles does the same for a trove.FileStorage (blob.NewFileStorage on
// any store, or a files plugin): round trips with metadata, id validation,
// client hashes, idempotent saves and conflicts, ErrNotFound, a range
// request served with http.ServeContent, concurrent saves, and ErrClosed.
//
// Data and Digest make deterministic test bytes and their hex SHA-256.
package blobtest
