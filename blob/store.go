package blob

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/trovedb/trove"
)

// Store holds objects: byte streams under keys, each written once, with a
// SHA-256 digest, a content type and a little metadata. Every method is safe
// for concurrent use. Errors wrap the trove sentinels: ErrInvalid (bad key,
// bad options, digest mismatch), ErrNotFound, ErrConflict and ErrClosed.
type Store interface {
	// Put streams r into the store under key and returns what was stored.
	// It is atomic: readers see either no object or all of its bytes, also
	// after a crash at any instant. It is create-once: when key already
	// holds the same bytes (same SHA-256) Put returns the stored Info
	// unchanged (its content type and metadata are the first writer's);
	// when it holds other bytes Put returns ErrConflict. When opts.SHA256 is
	// set and the bytes hash otherwise, nothing is stored and Put returns
	// ErrInvalid.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error)

	// Get opens key's bytes for reading; the caller closes the reader. When
	// the store can seek (both stores in this module can) the reader also
	// implements io.Seeker, so callers may serve ranges.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)

	// Stat returns key's Info; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes key; ErrNotFound when absent. Readers already open may
	// finish reading.
	Delete(ctx context.Context, key string) error

	// Close releases the store; every later call returns ErrClosed. Readers
	// already open stay usable until they are closed. Close is safe to call
	// twice.
	Close() error
}

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64             // bytes
	SHA256      string            // lower-case hex digest of the bytes
	ContentType string            // as given to Put; "" when none
	Metadata    map[string]string // as given to Put; nil when none
}

// PutOptions are the attributes of a new object.
type PutOptions struct {
	// ContentType is kept with the object ("" for none).
	ContentType string
	// Metadata is kept with the object. Names are 1–64 characters of
	// [a-z0-9-]; values are any UTF-8 text. Names and values together are
	// at most MaxMetadataSize bytes.
	Metadata map[string]string
	// SHA256, when not empty, is the expected lower-case hex digest of the
	// bytes: bytes that hash otherwise are refused with ErrInvalid and
	// nothing is stored.
	SHA256 string
}

// MaxMetadataSize caps the bytes of an object's metadata names and values
// together; S3 allows 2 KiB of user metadata, encoded.
const MaxMetadataSize = 1024

// ValidateKey checks an object key: the file id rules of
// trove.ValidateFileID (1–128 characters of [A-Za-z0-9._-], not "." or
// ".."), so that no key can escape a directory or a bucket prefix. Errors
// wrap trove.ErrInvalid.
func ValidateKey(key string) error {
	if err := trove.ValidateFileID(key); err != nil {
		return fmt.Errorf("blob: key: %w", err)
	}
	return nil
}

// ValidatePut checks a key and the options of a Put. Errors wrap
// trove.ErrInvalid.
func ValidatePut(key string, opts PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if opts.SHA256 != "" && !IsDigest(opts.SHA256) {
		return fmt.Errorf("blob: %w: expected SHA-256 %q is not 64 lower-case hex digits", trove.ErrInvalid, opts.SHA256)
	}
	total := 0
	for name, v := range opts.Metadata {
		if name == "" || len(name) > 64 {
			return fmt.Errorf("blob: %w: metadata name %q must be 1-64 characters of [a-z0-9-]", trove.ErrInvalid, name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("blob: %w: metadata name %q must be 1-64 characters of [a-z0-9-]", trove.ErrInvalid, name)
			}
		}
		total += len(name) + len(v)
	}
	if total > MaxMetadataSize {
		return fmt.Errorf("blob: %w: metadata is %d bytes, more than %d", trove.ErrInvalid, total, MaxMetadataSize)
	}
	return nil
}

// IsDigest reports whether s is a lower-case hex SHA-256 digest.
func IsDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
