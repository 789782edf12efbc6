package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// uploadMultipart streams first and then the rest of src to key as a
// multipart upload: parts of PartSize bytes, at most Concurrency of them in
// flight, at most Concurrency+1 part buffers alive (first being one of
// them). When ifNoneMatch is set the upload completes only if key does not
// exist. On any error, including an error from src, the upload is aborted
// and nothing appears under key.
func (s *Store) uploadMultipart(ctx context.Context, key string, first []byte, src io.Reader, meta map[string]string, ctype string, ifNoneMatch bool) error {
	in := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.opts.Bucket),
		Key:               aws.String(key),
		Metadata:          meta,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if ctype != "" {
		in.ContentType = aws.String(ctype)
	}
	up, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return err
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: up.UploadId})
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	free := make(chan []byte, s.opts.Concurrency+1)
	allocated := 1 // first
	getBuf := func() ([]byte, error) {
		select {
		case b := <-free:
			return b, nil
		default:
		}
		if allocated < s.opts.Concurrency+1 {
			allocated++
			return make([]byte, s.opts.PartSize), nil
		}
		select {
		case b := <-free:
			return b, nil
		case <-pctx.Done():
			if err := failed(); err != nil {
				return nil, err
			}
			return nil, pctx.Err()
		}
	}
	send := func(buf []byte, n int, num int32) {
		wg.Go(func() {
			defer func() { free <- buf }()
			out, err := s.client.UploadPart(pctx, &awss3.UploadPartInput{
				Bucket:            aws.String(s.opts.Bucket),
				Key:               aws.String(key),
				UploadId:          up.UploadId,
				PartNumber:        aws.Int32(num),
				Body:              bytes.NewReader(buf[:n]),
				ContentLength:     aws.Int64(int64(n)),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
		})
	}

	send(first, len(first), 1)
	for num := int32(2); ; num++ {
		buf, err := getBuf()
		if err != nil {
			fail(err)
			break
		}
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			send(buf, n, num)
		} else {
			free <- buf
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			fail(err)
			break
		}
		if failed() != nil {
			break
		}
	}
	wg.Wait()
	if err := failed(); err != nil {
		abort()
		return err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	cin := &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.opts.Bucket),
		Key:             aws.String(key),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if ifNoneMatch {
		cin.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, cin); err != nil {
		abort()
		return err
	}
	return nil
}
