package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
)

// Options configure a Store on a client. The zero value of each field but
// Bucket means its default.
type Options struct {
	// Bucket holds the objects. Required.
	Bucket string
	// Prefix is put before every key, e.g. "trove/files/". Default "".
	Prefix string
	// PartSize is the size in bytes of each part of a multipart upload, and
	// so of each buffer an upload holds. Default 5 MiB, S3's minimum.
	PartSize int64
	// Concurrency is how many parts of one upload are sent at once. An
	// upload holds at most Concurrency+1 part buffers (15 MiB with the
	// defaults). Default 2.
	Concurrency int
}

// DefaultOptions returns the defaults (with no bucket).
func DefaultOptions() Options {
	return Options{PartSize: 5 << 20, Concurrency: 2}
}

// Metadata names the store reserves on every object.
const (
	// MetaSHA256 holds the hex SHA-256 of the object's bytes.
	MetaSHA256 = "trove-sha256"
	// metaUntyped marks an object put without a content type (S3 always
	// reports one).
	metaUntyped = "trove-untyped"
	// tmpDir is where objects are uploaded before their digest is known;
	// no key can contain "/", so no key can name it.
	tmpDir = ".trove-tmp/"
	// copyPart is the largest part of a server-side copy (S3 allows 5 GiB).
	copyPart = 4 << 30
)

// Store is a blob.Store on an S3 bucket. It is safe for concurrent use.
type Store struct {
	client *awss3.Client
	opts   Options
	closed atomic.Bool
}

var _ blob.Store = (*Store)(nil)

// New returns a Store on client. It does not contact the server: call Check
// for that.
func New(client *awss3.Client, opts Options) (*Store, error) {
	o := opts
	d := DefaultOptions()
	if o.PartSize == 0 {
		o.PartSize = d.PartSize
	}
	if o.Concurrency == 0 {
		o.Concurrency = d.Concurrency
	}
	switch {
	case o.Bucket == "":
		return nil, fmt.Errorf("s3: %w: no bucket", trove.ErrInvalid)
	case o.PartSize < 5<<20:
		return nil, fmt.Errorf("s3: %w: part size %d is below S3's minimum of 5 MiB", trove.ErrInvalid, o.PartSize)
	case o.Concurrency < 0:
		return nil, fmt.Errorf("s3: %w: negative concurrency %d", trove.ErrInvalid, o.Concurrency)
	case strings.HasPrefix(o.Prefix, "/"):
		return nil, fmt.Errorf("s3: %w: prefix %q starts with /", trove.ErrInvalid, o.Prefix)
	}
	return &Store{client: client, opts: o}, nil
}

// Check verifies that the bucket exists and that the credentials may list
// it (a one-key ListObjectsV2 under the prefix: unlike HeadBucket, its
// error has a body that says what is wrong). A missing bucket, refused
// credentials and a wrong region wrap trove.ErrInvalid (the configuration
// is wrong) with a message that says which.
func (s *Store) Check(ctx context.Context) error {
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), MaxKeys: aws.Int32(1)}
	if s.opts.Prefix != "" {
		in.Prefix = aws.String(s.opts.Prefix)
	}
	_, err := s.client.ListObjectsV2(ctx, in)
	if err == nil {
		return nil
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket" || (code == "" || code == "NotFound") && statusOf(err) == 404:
		return fmt.Errorf("s3: %w: bucket %q does not exist", trove.ErrInvalid, s.opts.Bucket)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" || code == "ExpiredToken" || code == "TokenRefreshRequired" ||
		strings.HasSuffix(code, "UserNotFound"): // versitygw: XAdminUserNotFound
		return fmt.Errorf("s3: %w: access to bucket %q denied: the credentials are wrong (%s); check accessKeyId and secretAccessKey, or the AWS environment variables and profile", trove.ErrInvalid, s.opts.Bucket, code)
	case code == "AccessDenied" || code == "AllAccessDisabled" || statusOf(err) == 403 || statusOf(err) == 401:
		return fmt.Errorf("s3: %w: access to bucket %q denied (%v); check accessKeyId and secretAccessKey, or the AWS environment variables and profile, and that they may list the bucket", trove.ErrInvalid, s.opts.Bucket, err)
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || code == "IllegalLocationConstraintException" || statusOf(err) == 301:
		return fmt.Errorf("s3: %w: bucket %q is not in this region: check the region option (%v)", trove.ErrInvalid, s.opts.Bucket, err)
	}
	var ce interface{ CanceledError() bool }
	if errors.As(err, &ce) || ctx.Err() != nil {
		return fmt.Errorf("s3: bucket %q: %w", s.opts.Bucket, err)
	}
	return fmt.Errorf("s3: cannot check bucket %q: %w", s.opts.Bucket, err)
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("s3: bucket %s: %w", s.opts.Bucket, trove.ErrClosed)
	}
	return nil
}

func (s *Store) objectKey(key string) string { return s.opts.Prefix + key }

// Put implements blob.Store. The first PartSize bytes are read into a part
// buffer: an object that fits is hashed before it is sent and goes to its
// key in one conditional PutObject. With opts.SHA256 set, a larger object streams
// straight to its key in a multipart upload that completes conditionally and
// is aborted when the bytes hash otherwise. Without it, a larger object
// streams to a temporary key while hashed, and a server-side multipart copy
// that completes conditionally publishes it with its digest. Either way the
// key appears whole or not at all, and a key written meanwhile by another
// writer is detected (If-None-Match: *).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidatePut(key, opts); err != nil {
		return blob.Info{}, fmt.Errorf("s3: put: %w", err)
	}
	for name := range opts.Metadata {
		if strings.HasPrefix(name, "trove-") {
			return blob.Info{}, fmt.Errorf("s3: put %s: %w: metadata names starting with trove- are reserved", key, trove.ErrInvalid)
		}
	}
	src := &digestReader{r: &ctxReader{ctx: ctx, r: r}, h: sha256.New()}
	existing, err := s.Stat(ctx, key)
	if err == nil {
		if _, err := io.Copy(io.Discard, src); err != nil {
			return blob.Info{}, fmt.Errorf("s3: put %s: read: %w", key, err)
		}
		return compare(existing, src.digest(), opts)
	} else if !errors.Is(err, trove.ErrNotFound) {
		return blob.Info{}, err
	}
	first := make([]byte, s.opts.PartSize)
	n, err := io.ReadFull(src, first)
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.putSmall(ctx, key, first[:n], src.digest(), opts)
	} else if err != nil {
		return blob.Info{}, fmt.Errorf("s3: put %s: read: %w", key, err)
	}
	if opts.SHA256 != "" {
		return s.putDirect(ctx, key, first, src, opts)
	}
	return s.putViaCopy(ctx, key, first, src, opts)
}

// putSmall puts an object already in memory, its digest known.
func (s *Store) putSmall(ctx context.Context, key string, data []byte, digest string, opts blob.PutOptions) (blob.Info, error) {
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("s3: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", key, trove.ErrInvalid, digest, opts.SHA256)
	}
	meta, ctype := encodeMeta(opts, digest)
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(s.opts.Bucket),
		Key:           aws.String(s.objectKey(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(ctype),
		Metadata:      meta,
		IfNoneMatch:   aws.String("*"),
	})
	if err != nil {
		if isPreconditionFailed(err) {
			return s.resolveRace(ctx, key, digest, opts)
		}
		return blob.Info{}, fmt.Errorf("s3: put %s: %w", key, err)
	}
	return blob.Info{Key: key, Size: int64(len(data)), SHA256: digest, ContentType: opts.ContentType, Metadata: cloneMeta(opts.Metadata)}, nil
}

// putDirect uploads to key itself: the digest is known up front.
func (s *Store) putDirect(ctx context.Context, key string, first []byte, src *digestReader, opts blob.PutOptions) (blob.Info, error) {
	src.expect = opts.SHA256
	meta, ctype := encodeMeta(opts, opts.SHA256)
	err := s.uploadMultipart(ctx, s.objectKey(key), first, src, meta, ctype, true)
	if src.mismatch != nil {
		return blob.Info{}, fmt.Errorf("s3: put %s: %w", key, src.mismatch)
	}
	if err != nil {
		if isPreconditionFailed(err) {
			return s.resolveRace(ctx, key, opts.SHA256, opts)
		}
		return blob.Info{}, fmt.Errorf("s3: put %s: %w", key, err)
	}
	return blob.Info{Key: key, Size: src.n, SHA256: opts.SHA256, ContentType: opts.ContentType, Metadata: cloneMeta(opts.Metadata)}, nil
}

// putViaCopy uploads to a temporary key, then copies it to key with the
// digest in its metadata.
func (s *Store) putViaCopy(ctx context.Context, key string, first []byte, src *digestReader, opts blob.PutOptions) (blob.Info, error) {
	tmp := s.opts.Prefix + tmpDir + key + "." + randomName()
	if err := s.uploadMultipart(ctx, tmp, first, src, nil, "", false); err != nil {
		return blob.Info{}, fmt.Errorf("s3: put %s: upload: %w", key, err)
	}
	defer func() {
		// The temporary object goes whatever happens, also when ctx ended.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.DeleteObject(dctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(tmp)})
	}()
	digest := src.digest()
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("s3: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", key, trove.ErrInvalid, digest, opts.SHA256)
	}
	meta, ctype := encodeMeta(opts, digest)
	if err := s.copyMultipart(ctx, tmp, s.objectKey(key), src.n, meta, ctype); err != nil {
		if isPreconditionFailed(err) {
			return s.resolveRace(ctx, key, digest, opts)
		}
		return blob.Info{}, fmt.Errorf("s3: put %s: publish: %w", key, err)
	}
	return blob.Info{Key: key, Size: src.n, SHA256: digest, ContentType: opts.ContentType, Metadata: cloneMeta(opts.Metadata)}, nil
}

// copyMultipart copies src to dst on the server with new metadata, in parts
// of at most copyPart bytes, and completes only when dst does not exist. A
// multipart copy is used even for one part because CompleteMultipartUpload
// honours If-None-Match on every S3 implementation that supports
// conditional writes, where CopyObject often does not.
func (s *Store) copyMultipart(ctx context.Context, src, dst string, size int64, meta map[string]string, ctype string) error {
	up, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(dst), Metadata: meta, ContentType: aws.String(ctype),
	})
	if err != nil {
		return err
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(dst), UploadId: up.UploadId})
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+copyPart, n+1 {
		end := min(off+copyPart, size) - 1
		out, err := s.client.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{
			Bucket: aws.String(s.opts.Bucket), Key: aws.String(dst), UploadId: up.UploadId, PartNumber: aws.Int32(n),
			CopySource: aws.String(copySource(s.opts.Bucket, src)), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			abort()
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(dst), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		abort()
	}
	return err
}

// resolveRace decides a Put that lost a race for key to another writer.
func (s *Store) resolveRace(ctx context.Context, key, digest string, opts blob.PutOptions) (blob.Info, error) {
	existing, err := s.Stat(ctx, key)
	if err != nil {
		return blob.Info{}, fmt.Errorf("s3: put %s: after a concurrent write: %w", key, err)
	}
	return compare(existing, digest, opts)
}

// compare decides a Put on a key that exists.
func compare(existing blob.Info, digest string, opts blob.PutOptions) (blob.Info, error) {
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("s3: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", existing.Key, trove.ErrInvalid, digest, opts.SHA256)
	}
	if existing.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("s3: put %s: %w: the key holds other bytes (sha256:%s)", existing.Key, trove.ErrConflict, existing.SHA256)
	}
	return existing, nil
}

// Get implements blob.Store. The reader implements io.Seeker: a seek costs
// nothing until the next Read, which then asks for the rest of the object
// from the new offset (a ranged GET pinned to the object's ETag).
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return nil, blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return nil, blob.Info{}, fmt.Errorf("s3: get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return nil, blob.Info{}, s.wrap("get", key, err)
	}
	info, err := infoOf(key, aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType), out.Metadata)
	if err != nil {
		out.Body.Close()
		return nil, blob.Info{}, err
	}
	return &objectReader{ctx: ctx, s: s, key: s.objectKey(key), size: info.Size, etag: aws.ToString(out.ETag), body: out.Body}, info, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("s3: stat: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return blob.Info{}, s.wrap("stat", key, err)
	}
	return infoOf(key, aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType), out.Metadata)
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.Stat(ctx, key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// Close implements blob.Store. Readers already open stay usable.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// wrap turns a 404 into trove.ErrNotFound and names the operation.
func (s *Store) wrap(op, key string, err error) error {
	if statusOf(err) == 404 {
		return fmt.Errorf("s3: %s %s: %w", op, key, trove.ErrNotFound)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// infoOf reads an object's Info from its attributes.
func infoOf(key string, size int64, ctype string, meta map[string]string) (blob.Info, error) {
	info := blob.Info{Key: key, Size: size, ContentType: ctype}
	for name, v := range meta {
		name = strings.ToLower(name)
		switch name {
		case MetaSHA256:
			info.SHA256 = v
		case metaUntyped:
			info.ContentType = ""
		default:
			dv, err := decodeValue(v)
			if err != nil {
				return blob.Info{}, &trove.CorruptionError{File: key, Offset: -1, Reason: fmt.Sprintf("s3: metadata %s: %v", name, err)}
			}
			if info.Metadata == nil {
				info.Metadata = map[string]string{}
			}
			info.Metadata[name] = dv
		}
	}
	if !blob.IsDigest(info.SHA256) {
		return blob.Info{}, &trove.CorruptionError{File: key, Offset: -1, Reason: "s3: object has no " + MetaSHA256 + " metadata: not written by this store"}
	}
	return info, nil
}

// encodeMeta returns an object's S3 metadata and content type.
func encodeMeta(opts blob.PutOptions, digest string) (map[string]string, string) {
	meta := map[string]string{MetaSHA256: digest}
	for name, v := range opts.Metadata {
		meta[name] = encodeValue(v)
	}
	ctype := opts.ContentType
	if ctype == "" {
		meta[metaUntyped] = "1"
		ctype = "application/octet-stream"
	}
	return meta, ctype
}

// encodeValue makes a metadata value safe for an HTTP header: '%', spaces
// and every byte outside printable ASCII become %XX.
func encodeValue(v string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c > '~' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func decodeValue(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", errors.New("truncated escape")
		}
		b, err := hex.DecodeString(v[i+1 : i+3])
		if err != nil {
			return "", err
		}
		out = append(out, b[0])
		i += 2
	}
	return string(out), nil
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func copySource(bucket, key string) string {
	// Keys here are [A-Za-z0-9._-] and "/" only: nothing to escape.
	return bucket + "/" + key
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusOf returns the HTTP status of an S3 error, or 0.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isPreconditionFailed(err error) bool {
	if statusOf(err) == 412 {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict")
}

// digestReader hashes and counts what it reads. With expect set, it turns
// the end of the stream into an error when the bytes hash otherwise, so an
// upload in flight is aborted instead of completed.
type digestReader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	expect   string
	mismatch error
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	if err == io.EOF && d.expect != "" {
		if got := d.digest(); got != d.expect {
			d.mismatch = fmt.Errorf("%w: bytes hash to sha256:%s, not the expected sha256:%s", trove.ErrInvalid, got, d.expect)
			return n, d.mismatch
		}
	}
	return n, err
}

func (d *digestReader) digest() string { return hex.EncodeToString(d.h.Sum(nil)) }

// ctxReader stops a stream when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
