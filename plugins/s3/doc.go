// Package s3 is the storage-s3 plugin: Trove's files role on AWS S3 or any
// S3-compatible server (MinIO, versitygw, Ceph RGW, R2, …).
//
// It registers itself as "storage-s3"; import it for its side effect:
//
//	import _ "github.com/trovedb/trove/plugins/s3"
//
// Options (JSON), those of the original Trove plus endpoint, prefix,
// forcePathStyle, partSize and concurrency:
//
//	{"plugin": "storage-s3", "options": {
//	    "region": "us-west-2", "bucket": "my-events",
//	    "accessKeyId": "…", "secretAccessKey": "…"}}
//
// Without accessKeyId and secretAccessKey, credentials come from the
// standard AWS sources: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, AWS_PROFILE and the shared config files, SSO, or the
// instance or container role; the region likewise from AWS_REGION or the
// profile. Initialize checks the bucket: a missing bucket or refused
// credentials fail there with an error that says which (wrapping
// trove.ErrInvalid).
//
// Each file is one object, <prefix><file id>, holding the bytes; its
// content type is the object's Content-Type, and its filename and SHA-256
// are object metadata (x-amz-meta-filename, x-amz-meta-trove-sha256), so
// the bucket reads well with any S3 tool. Uploads stream in multipart parts
// of partSize bytes (default 5 MiB) with at most concurrency+1 (default 3)
// part buffers in memory, whatever the file's size. A file whose hash is not given by
// the client is uploaded under <prefix>.trove-tmp/ while hashed, then
// published with a server-side copy; small files (up to partSize) are
// hashed in memory and written once. Publishing is conditional
// (If-None-Match: *), so two writers of one id cannot overwrite each other:
// the same bytes are an idempotent retry, other bytes ErrConflict. The
// server must support conditional writes (AWS S3, current MinIO and
// versitygw do). A bucket
// lifecycle rule that expires .trove-tmp/ objects and aborts incomplete
// multipart uploads after a day cleans up after crashed uploads.
//
// GetFileData streams the object; the reader seeks (by ranged GETs pinned
// to the object's ETag), so range requests are served without reading the
// whole file.
package s3
