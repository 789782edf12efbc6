// Package s3 is a blob.Store on an S3 bucket: AWS S3 or any S3-compatible
// server (MinIO, versitygw, Ceph RGW, R2, …), through the AWS SDK for Go v2.
//
//	s, err := s3.Connect(ctx, s3.Config{Bucket: "my-events", Region: "us-west-2"})
//
// Connect builds the client (static keys from the Config, else the standard
// AWS credential chain: environment, shared files and profiles, SSO,
// instance and container roles) and checks the bucket; New wraps a client
// you built yourself.
//
// # Objects
//
// A key is stored as the object <Prefix><key>. Its Content-Type is the
// object's; its SHA-256 is the metadata x-amz-meta-trove-sha256, and each
// PutOptions.Metadata entry is x-amz-meta-<name>, its value escaped
// (%XX for '%', spaces, controls and non-ASCII bytes) so that any UTF-8 text
// survives HTTP headers. Metadata names starting with "trove-" are
// reserved. An object without trove-sha256 was not written by this store
// and reads as a *trove.CorruptionError.
//
// # Writes
//
// Put reads the first PartSize bytes into a part buffer. An object that
// fits is hashed in memory and written with one PutObject. A larger one is
// a multipart upload of PartSize parts, Concurrency at a time, never more
// than Concurrency+1 part buffers alive (15 MiB with the defaults), whatever
// the object's size: with the expected digest known (PutOptions.SHA256) it
// goes straight to its key and is aborted if the bytes hash otherwise;
// without it, it goes to <Prefix>.trove-tmp/<key>.<random> while hashed,
// then a server-side multipart copy publishes it under its key with its
// digest, and the temporary object is deleted. Every publish is
// conditional (If-None-Match: *), so an object appears whole or not at all
// and two writers of one key cannot overwrite each other: the loser
// compares digests (same bytes: the stored Info; other bytes:
// trove.ErrConflict). The server must honour If-None-Match on PutObject
// and CompleteMultipartUpload (AWS S3 does since 2024, as do current MinIO
// and versitygw); on one that ignores it, concurrent writers of one key
// with different bytes are not detected. A crash can leave a temporary object or an incomplete
// multipart upload, never a visible partial object; a bucket lifecycle rule
// (expire .trove-tmp/, abort incomplete multipart uploads after a day)
// cleans them up.
//
// # Reads
//
// Get streams the object. Its reader seeks without I/O: the next Read after
// a Seek asks for the rest of the object from the new offset (a ranged GET
// pinned to the first response's ETag), so http.ServeContent serves ranges
// without reading the whole object.
//
// # Errors
//
// Errors wrap the trove sentinels: trove.ErrNotFound (no such key),
// trove.ErrConflict, trove.ErrInvalid (bad key or options, wrong digest,
// and from Check a missing bucket, refused credentials or a wrong region),
// trove.ErrClosed. A Store is safe for concurrent use.
package s3
