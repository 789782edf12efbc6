package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// objectReader streams an object and seeks by reopening it at an offset.
// It is not safe for concurrent use (like an *os.File's Read and Seek).
type objectReader struct {
	ctx  context.Context
	s    *Store
	key  string // the full object key
	size int64
	etag string

	body   io.ReadCloser // positioned at pos; nil after a seek
	pos    int64
	closed bool
}

func (r *objectReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("s3: read after close")
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		in := &awss3.GetObjectInput{
			Bucket: aws.String(r.s.opts.Bucket),
			Key:    aws.String(r.key),
			Range:  aws.String(fmt.Sprintf("bytes=%d-", r.pos)),
		}
		if r.etag != "" {
			in.IfMatch = aws.String(r.etag)
		}
		out, err := r.s.client.GetObject(r.ctx, in)
		if err != nil {
			return 0, fmt.Errorf("s3: read %s at %d: %w", r.key, r.pos, err)
		}
		r.body = out.Body
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *objectReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("s3: seek: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("s3: seek: negative position")
	}
	if abs != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = abs
	return abs, nil
}

func (r *objectReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
