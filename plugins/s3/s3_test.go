package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/internal/testservices"
	s3plugin "github.com/trovedb/trove/plugins/s3"
	"github.com/trovedb/trove/storagetest"
)

// server is a bucket on the test S3 server.
type server struct {
	endpoint, accessKey, secretKey, bucket string
}

func newServer(t testing.TB) server {
	e, a, s, b := testservices.S3Bucket(t)
	return server{e, a, s, b}
}

// options returns the plugin's options for a prefix of the bucket.
func (s server) options(prefix string) s3plugin.Options {
	return s3plugin.Options{
		Region: "us-east-1", Bucket: s.bucket, AccessKeyID: s.accessKey, SecretAccessKey: s.secretKey,
		Endpoint: s.endpoint, ForcePathStyle: true, Prefix: prefix,
	}
}

// plugin makes the plugin through the registry, from JSON options.
func plugin(t testing.TB, o s3plugin.Options) trove.Plugin {
	t.Helper()
	b, _ := json.Marshal(o)
	p, err := trove.NewPlugin(s3plugin.Name, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func initialized(t testing.TB, o s3plugin.Options) trove.Plugin {
	t.Helper()
	p := plugin(t, o)
	if err := p.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// prefixFor maps a test directory to a prefix of its own, so that the
// same directory reopens the same files.
func prefixFor(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "t-" + hex.EncodeToString(sum[:8]) + "/"
}

func TestStorageKit(t *testing.T) {
	srv := newServer(t)
	storagetest.Run(t, storagetest.Backend{
		Open:       func(t testing.TB, dir string) trove.Plugin { return plugin(t, srv.options(prefixFor(dir))) },
		Persistent: true,
	})
}

func TestFiles(t *testing.T) {
	srv := newServer(t)
	blobtest.RunFiles(t, func(t testing.TB) (trove.FileStorage, func() error) {
		p := initialized(t, srv.options(prefixFor(t.Name())))
		return p.(trove.FileStorage), func() error { return p.Shutdown(context.Background()) }
	})
}

func TestMissingBucket(t *testing.T) {
	srv := newServer(t)
	o := srv.options("")
	o.Bucket = "no-such-bucket"
	err := plugin(t, o).Initialize(context.Background(), nil)
	if !errors.Is(err, trove.ErrInvalid) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Fatalf("Initialize on a missing bucket: %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	srv := newServer(t)
	for name, mutate := range map[string]func(*s3plugin.Options){
		"wrong secret":     func(o *s3plugin.Options) { o.SecretAccessKey += "x" },
		"unknown key":      func(o *s3plugin.Options) { o.AccessKeyID = "nobody" },
		"both wrong":       func(o *s3plugin.Options) { o.AccessKeyID, o.SecretAccessKey = "nobody", "nothing" },
		"wrong region key": func(o *s3plugin.Options) { o.SecretAccessKey = strings.ToUpper(o.SecretAccessKey) },
	} {
		o := srv.options("")
		mutate(&o)
		err := plugin(t, o).Initialize(context.Background(), nil)
		if !errors.Is(err, trove.ErrInvalid) || !strings.Contains(err.Error(), "denied") || !strings.Contains(err.Error(), "secretAccessKey") {
			t.Errorf("%s: Initialize: %v", name, err)
		}
	}
}

func TestOptions(t *testing.T) {
	for name, opts := range map[string]string{
		"no options":      ``,
		"no bucket":       `{"region": "us-east-1"}`,
		"key alone":       `{"bucket": "b", "accessKeyId": "k"}`,
		"small parts":     `{"bucket": "b", "partSize": 1024}`,
		"unknown field":   `{"bucket": "b", "secretKey": "s"}`,
		"bad type":        `{"bucket": 3}`,
		"negative conc":   `{"bucket": "b", "concurrency": -1}`,
		"not json object": `"storage"`,
	} {
		_, err := trove.NewPlugin(s3plugin.Name, json.RawMessage(opts))
		if !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
}

// TestCredentialsFromEnvironment leaves the keys out of the options: the
// standard AWS environment variables, then a profile, supply them.
func TestCredentialsFromEnvironment(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	bare := srv.options("env/")
	bare.AccessKeyID, bare.SecretAccessKey, bare.Region = "", "", ""
	isolate := func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		for _, v := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
			t.Setenv(v, "")
			os.Unsetenv(v)
		}
	}
	save := func(t *testing.T, p trove.Plugin) {
		f, err := p.(trove.FileStorage).SaveFile(ctx, trove.EventFile{ID: "e"}, strings.NewReader("env"))
		if err != nil || f.Size != 3 {
			t.Fatalf("SaveFile = %+v, %v", f, err)
		}
	}
	t.Run("variables", func(t *testing.T) {
		isolate(t)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.accessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.secretKey)
		t.Setenv("AWS_REGION", "us-east-1")
		save(t, initialized(t, bare))
	})
	t.Run("profile", func(t *testing.T) {
		isolate(t)
		dir := t.TempDir()
		creds := filepath.Join(dir, "credentials")
		conf := filepath.Join(dir, "config")
		os.WriteFile(creds, []byte("[trove-test]\naws_access_key_id = "+srv.accessKey+"\naws_secret_access_key = "+srv.secretKey+"\n"), 0o600)
		os.WriteFile(conf, []byte("[profile trove-test]\nregion = us-east-1\n"), 0o600)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		t.Setenv("AWS_CONFIG_FILE", conf)
		t.Setenv("AWS_PROFILE", "trove-test")
		save(t, initialized(t, bare))
	})
	t.Run("none", func(t *testing.T) {
		isolate(t)
		err := plugin(t, bare).Initialize(ctx, nil)
		if err == nil {
			t.Fatal("Initialize without any credentials succeeded")
		}
	})
}

// bigReader yields size pseudo-random bytes without holding them: a 1 MiB
// block, stamped with its index, over and over.
type bigReader struct {
	block []byte
	size  int64
	off   int64
}

func newBigReader(size int64) *bigReader {
	return &bigReader{block: blobtest.Data(99, 1<<20), size: size}
}

func (r *bigReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	bs := int64(len(r.block))
	i := r.off % bs
	n := copy(p, r.block[i:min(bs, i+r.size-r.off)])
	// The first 8 bytes of each block carry its index: every byte is a
	// function of its offset alone, whatever the reads' sizes.
	for j := i; j < 8 && j < i+int64(n); j++ {
		p[j-i] ^= byte((r.off / bs) >> (8 * j))
	}
	r.off += int64(n)
	return n, nil
}

// heapPeak samples the live heap until stopped and reports its peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestLargeFileBoundedMemory streams a 200 MiB file in and out and checks
// that the heap never held more than a small fraction of it.
func TestLargeFileBoundedMemory(t *testing.T) {
	const size = 200 << 20
	const limit = 64 << 20
	srv := newServer(t)
	p := initialized(t, srv.options("big/"))
	fs := p.(trove.FileStorage)
	ctx := context.Background()

	runtime.GC()
	stop := heapPeak()
	h := sha256.New()
	saved, err := fs.SaveFile(ctx, trove.EventFile{ID: "big.bin", ContentType: "application/octet-stream"}, io.TeeReader(newBigReader(size), h))
	upPeak := stop()
	if err != nil {
		t.Fatal(err)
	}
	want := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if saved.Size != size || saved.Hash != want {
		t.Fatalf("SaveFile = %+v, want size %d hash %s", saved, size, want)
	}

	runtime.GC()
	stop = heapPeak()
	rc, err := fs.GetFileData(ctx, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err := io.Copy(h, rc)
	rc.Close()
	downPeak := stop()
	if err != nil || n != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("GetFileData: %d bytes, %v; hash matches: %v", n, err, "sha256:"+hex.EncodeToString(h.Sum(nil)) == want)
	}
	t.Logf("heap peak: upload %d MiB, download %d MiB, for a %d MiB file", upPeak>>20, downPeak>>20, size>>20)
	if upPeak > limit || downPeak > limit {
		t.Fatalf("heap peaked at %d MiB (upload) and %d MiB (download); the limit is %d MiB", upPeak>>20, downPeak>>20, limit>>20)
	}
	// The same 200 MiB again with its hash given: streamed straight to its
	// key, an idempotent retry.
	again, err := fs.SaveFile(ctx, trove.EventFile{ID: "big.bin", Hash: want}, newBigReader(size))
	if err != nil || again != saved {
		t.Fatalf("second SaveFile = %+v, %v", again, err)
	}
}

// TestLargeFileWithHash streams a multipart file with its hash given, and
// a wrong hash that must leave nothing behind.
func TestLargeFileWithHash(t *testing.T) {
	const size = 23 << 20
	srv := newServer(t)
	fs := initialized(t, srv.options("")).(trove.FileStorage)
	ctx := context.Background()
	h := sha256.New()
	io.Copy(h, newBigReader(size))
	want := "sha256:" + hex.EncodeToString(h.Sum(nil))
	_, err := fs.SaveFile(ctx, trove.EventFile{ID: "wrong", Hash: "sha256:" + strings.Repeat("0", 64)}, newBigReader(size))
	if !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("SaveFile with a wrong hash: %v", err)
	}
	if _, err := fs.GetFile(ctx, "wrong"); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("GetFile after a wrong hash: %v", err)
	}
	f, err := fs.SaveFile(ctx, trove.EventFile{ID: "right", Hash: want}, newBigReader(size))
	if err != nil || f.Hash != want || f.Size != size {
		t.Fatalf("SaveFile = %+v, %v", f, err)
	}
	rc, err := fs.GetFileData(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := rc.(io.Seeker).Seek(size-10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	io.Copy(&buf, rc)
	tail := make([]byte, size)
	io.ReadFull(newBigReader(size), tail)
	if !bytes.Equal(buf.Bytes(), tail[size-10:]) {
		t.Fatalf("the last 10 bytes differ")
	}
}

// TestReopenKeepsFiles shuts a plugin down and reads its files with a new
// one on the same bucket and prefix.
func TestReopenKeepsFiles(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t)
	p := plugin(t, srv.options("reopen/"))
	if _, err := p.(trove.FileStorage).GetFile(ctx, "f"); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("GetFile before Initialize: %v, want ErrClosed", err)
	}
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(3, 300000)
	saved, err := p.(trove.FileStorage).SaveFile(ctx, trove.EventFile{ID: "f", Filename: "Ünïcode name.txt", ContentType: "text/plain"}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	q := initialized(t, srv.options("reopen/"))
	got, err := q.(trove.FileStorage).GetFile(ctx, "f")
	if err != nil || got != saved {
		t.Fatalf("GetFile after reopen = %+v, %v; want %+v", got, err, saved)
	}
	other := initialized(t, srv.options("elsewhere/"))
	if _, err := other.(trove.FileStorage).GetFile(ctx, "f"); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("GetFile under another prefix: %v, want ErrNotFound", err)
	}
}
