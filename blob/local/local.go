package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/internal/fsutil"
)

// Store is a content-addressed directory of objects. It is safe for
// concurrent use by the goroutines of one process; a directory must not be
// opened by two processes at once.
type Store struct {
	dir     string
	objects string // dir/objects
	keys    string // dir/keys

	closed atomic.Bool
	lock   *fsutil.DirLock // dir's lock, released by Close

	// mu orders Delete against Put: Puts hold it shared while they publish,
	// Delete holds it exclusively, so an object Delete finds unreferenced
	// cannot gain a reference until it is gone.
	mu sync.RWMutex
	// keyLocks serialize the check-then-publish of one key's record; a key
	// uses keyLocks[fnv(key) % len].
	keyLocks [64]sync.Mutex
	// dirs caches the shard directories known to exist.
	dirs sync.Map
}

var _ blob.Store = (*Store)(nil)

// copyBufSize is the buffer Put and readers stream through.
const copyBufSize = 256 << 10

// marker is the file that names the directory's format.
const marker = "trove-blob.json"

type markerFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

const (
	formatName    = "trove-blob-local"
	formatVersion = 1
)

// record is a key's record: keys/<shard>/<key>.json.
type record struct {
	Version     int               `json:"v"`
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"contentType,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// Open opens (creating it when needed) the store in dir. It removes the
// temporary files a crash may have left, so nothing half-written survives.
//
// Before anything else in dir is touched, Open takes an exclusive lock on
// dir/LOCK (see fsutil.LockDir), held until Close. When another store, in
// this process or another, has dir open, Open fails within about half a
// second with an error wrapping trove.ErrLocked that names dir and the
// holding process, and changes nothing.
func Open(dir string) (*Store, error) {
	return OpenContext(context.Background(), dir)
}

// OpenContext is Open whose wait for a held lock ends when ctx does.
func OpenContext(ctx context.Context, dir string) (_ *Store, err error) {
	s := &Store{dir: dir, objects: filepath.Join(dir, "objects"), keys: filepath.Join(dir, "keys")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local: open: %w", err)
	}
	lock, err := fsutil.LockDir(ctx, dir, true)
	if err != nil {
		return nil, fmt.Errorf("local: open: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	if err := s.checkMarker(); err != nil {
		return nil, err
	}
	for _, d := range []string{s.objects, s.keys} {
		if err := s.ensureDir(d); err != nil {
			return nil, fmt.Errorf("local: open: %w", err)
		}
	}
	if err := s.removeLeftovers(); err != nil {
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// checkMarker writes the format marker of a new directory, or checks the
// marker of an existing one.
func (s *Store) checkMarker() error {
	path := filepath.Join(s.dir, marker)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, _ := json.Marshal(markerFile{Format: formatName, Version: formatVersion})
		if err := fsutil.WriteFileBytes(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("local: open: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: open: %w", err)
	}
	var m markerFile
	if err := json.Unmarshal(b, &m); err != nil || m.Format != formatName {
		return &trove.CorruptionError{File: path, Offset: -1, Reason: "local: not a trove blob directory marker"}
	}
	if m.Version != formatVersion {
		return fmt.Errorf("local: open %s: %w: format version %d, this build reads %d", s.dir, trove.ErrInvalid, m.Version, formatVersion)
	}
	return nil
}

// removeLeftovers deletes what a crash can leave: staged objects and
// temporary files (every name starting with "." in objects/ and in the key
// shards). None of them was ever visible.
func (s *Store) removeLeftovers() error {
	dirs := []string{s.objects, s.keys}
	for _, top := range []string{s.objects, s.keys} {
		entries, err := os.ReadDir(top)
		if err != nil {
			return fmt.Errorf("local: open: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(top, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("local: open: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") && !e.IsDir() {
				if err := os.Remove(filepath.Join(d, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("local: open: remove leftover: %w", err)
				}
			}
		}
	}
	return nil
}

// ensureDir creates dir when it does not exist and makes its entry durable
// in its parent. Shard directories are created on first use.
func (s *Store) ensureDir(dir string) error {
	if _, ok := s.dirs.Load(dir); ok {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := fsutil.SyncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	s.dirs.Store(dir, true)
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) objectPath(digest string) string {
	return filepath.Join(s.objects, digest[:2], digest)
}

func (s *Store) recordPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.keys, hex.EncodeToString(sum[:1]), key+".json")
}

func (s *Store) keyLock(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("local: %s: %w", s.dir, trove.ErrClosed)
	}
	return nil
}

// Put implements blob.Store. The bytes stream through a 256 KiB buffer into
// a staged file while their SHA-256 is computed; the staged file is fsynced,
// then renamed to its content address (or dropped when that object already
// exists), then the key's record is published atomically.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidatePut(key, opts); err != nil {
		return blob.Info{}, fmt.Errorf("local: put: %w", err)
	}
	src := &ctxReader{ctx: ctx, r: r}
	// A retry of a stored key needs no staging: hash and compare.
	if existing, err := s.readRecord(key); err == nil {
		h := sha256.New()
		if _, err := io.CopyBuffer(h, src, make([]byte, copyBufSize)); err != nil {
			return blob.Info{}, fmt.Errorf("local: put %s: read: %w", key, err)
		}
		return s.compare(existing, hex.EncodeToString(h.Sum(nil)), opts)
	} else if !errors.Is(err, trove.ErrNotFound) {
		return blob.Info{}, err
	}

	staged, size, digest, err := s.stage(key, src, opts)
	if err != nil {
		return blob.Info{}, err
	}
	defer os.Remove(staged) // a no-op once renamed into place

	s.mu.RLock()
	defer s.mu.RUnlock()
	kl := s.keyLock(key)
	kl.Lock()
	defer kl.Unlock()
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if existing, err := s.readRecord(key); err == nil {
		return s.compare(existing, digest, opts)
	} else if !errors.Is(err, trove.ErrNotFound) {
		return blob.Info{}, err
	}
	obj := s.objectPath(digest)
	if err := s.ensureDir(filepath.Dir(obj)); err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
	}
	if _, err := os.Lstat(obj); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(staged, obj); err != nil {
			return blob.Info{}, fmt.Errorf("local: put %s: publish object: %w", key, err)
		}
		if err := fsutil.SyncDir(filepath.Dir(obj)); err != nil {
			return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
		}
	} else if err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
	}
	rec := record{Version: 1, Key: key, Size: size, SHA256: digest, ContentType: opts.ContentType, Metadata: cloneMeta(opts.Metadata)}
	b, err := json.Marshal(rec)
	if err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
	}
	rp := s.recordPath(key)
	if err := s.ensureDir(filepath.Dir(rp)); err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
	}
	if err := fsutil.WriteFileBytes(rp, append(b, '\n'), 0o644); err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: publish record: %w", key, err)
	}
	return infoOf(rec), nil
}

// stage streams src into a new file objects/.staged-<random>, hashing it,
// and fsyncs it. The staged name itself need not be durable: the file is
// renamed to its content address and that directory fsynced before anything
// names it, and a crash before leaves a leftover Open removes.
func (s *Store) stage(key string, src io.Reader, opts blob.PutOptions) (staged string, size int64, digest string, err error) {
	f, err := os.CreateTemp(s.objects, ".staged-*")
	if err != nil {
		return "", 0, "", fmt.Errorf("local: put %s: %w", key, err)
	}
	name := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	h := sha256.New()
	if size, err = io.CopyBuffer(io.MultiWriter(f, h), src, make([]byte, copyBufSize)); err != nil {
		return "", 0, "", fmt.Errorf("local: put %s: %w", key, err)
	}
	digest = hex.EncodeToString(h.Sum(nil))
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return "", 0, "", fmt.Errorf("local: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", key, trove.ErrInvalid, digest, opts.SHA256)
	}
	if err = f.Chmod(0o444); err != nil {
		return "", 0, "", fmt.Errorf("local: put %s: %w", key, err)
	}
	if err = f.Sync(); err != nil {
		return "", 0, "", fmt.Errorf("local: put %s: sync: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return "", 0, "", fmt.Errorf("local: put %s: %w", key, err)
	}
	return name, size, digest, nil
}

// compare decides a Put on a key that exists: the same bytes return the
// stored Info, other bytes ErrConflict. A wrong expected digest is
// ErrInvalid first.
func (s *Store) compare(existing record, digest string, opts blob.PutOptions) (blob.Info, error) {
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("local: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", existing.Key, trove.ErrInvalid, digest, opts.SHA256)
	}
	if existing.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("local: put %s: %w: the key holds other bytes (sha256:%s)", existing.Key, trove.ErrConflict, existing.SHA256)
	}
	return infoOf(existing), nil
}

// readRecord reads key's record; ErrNotFound when absent.
func (s *Store) readRecord(key string) (record, error) {
	path := s.recordPath(key)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return record{}, fmt.Errorf("local: %s: %w", key, trove.ErrNotFound)
	}
	if err != nil {
		return record{}, fmt.Errorf("local: %s: %w", key, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil || rec.Key != key || !blob.IsDigest(rec.SHA256) || rec.Size < 0 {
		return record{}, &trove.CorruptionError{File: path, Offset: -1, Reason: "local: unreadable key record"}
	}
	return rec, nil
}

// Get implements blob.Store. The reader is an *os.File's: it implements
// io.Seeker and io.ReaderAt.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return nil, blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return nil, blob.Info{}, fmt.Errorf("local: get: %w", err)
	}
	rec, err := s.readRecord(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	path := s.objectPath(rec.SHA256)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Delete removes the record first: a missing object with a record
		// still there is a concurrent Delete, or damage.
		if _, rerr := s.readRecord(key); errors.Is(rerr, trove.ErrNotFound) {
			return nil, blob.Info{}, rerr
		}
		return nil, blob.Info{}, &trove.CorruptionError{File: path, Offset: -1, Reason: "local: object of key " + key + " is missing"}
	}
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("local: get %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("local: get %s: %w", key, err)
	}
	if st.Size() != rec.Size {
		f.Close()
		return nil, blob.Info{}, &trove.CorruptionError{File: path, Offset: -1, Reason: fmt.Sprintf("local: object is %d bytes, its record says %d", st.Size(), rec.Size)}
	}
	return f, infoOf(rec), nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("local: stat: %w", err)
	}
	rec, err := s.readRecord(key)
	if err != nil {
		return blob.Info{}, err
	}
	return infoOf(rec), nil
}

// Delete implements blob.Store. It removes the key's record, then the
// object when no other key refers to it; finding that out reads every
// record, so Delete costs time in proportion to the number of keys.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("local: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.readRecord(key)
	if err != nil {
		return err
	}
	path := s.recordPath(key)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	used, err := s.referenced(ctx, rec.SHA256)
	if err != nil || used {
		return err
	}
	obj := s.objectPath(rec.SHA256)
	if err := os.Remove(obj); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	return fsutil.SyncDir(filepath.Dir(obj))
}

// referenced reports whether any key's record names digest.
func (s *Store) referenced(ctx context.Context, digest string) (bool, error) {
	for i := 0; i < 256; i++ {
		d := filepath.Join(s.keys, fmt.Sprintf("%02x", i))
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("local: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			rec, err := s.readRecord(strings.TrimSuffix(name, ".json"))
			if errors.Is(err, trove.ErrNotFound) {
				continue
			}
			if err != nil {
				return false, err
			}
			if rec.SHA256 == digest {
				return true, nil
			}
		}
	}
	return false, nil
}

// Close implements blob.Store and releases the directory's lock. Readers
// already open stay usable. A second Close does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.lock.Unlock()
}

func infoOf(r record) blob.Info {
	return blob.Info{Key: r.Key, Size: r.Size, SHA256: r.SHA256, ContentType: r.ContentType, Metadata: cloneMeta(r.Metadata)}
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

// Verify re-reads every record and re-hashes every object a record names,
// and returns a *trove.CorruptionError for the first damage found: an
// unreadable record, a missing object, or bytes whose size or SHA-256
// differ from the record's.
func (s *Store) Verify(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	shards, err := os.ReadDir(s.keys)
	if err != nil {
		return fmt.Errorf("local: verify: %w", err)
	}
	buf := make([]byte, copyBufSize)
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.keys, shard.Name()))
		if err != nil {
			return fmt.Errorf("local: verify: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := s.readRecord(strings.TrimSuffix(name, ".json"))
			if errors.Is(err, trove.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			path := s.objectPath(rec.SHA256)
			f, err := os.Open(path)
			if err != nil {
				return &trove.CorruptionError{File: path, Offset: -1, Reason: "local: object of key " + rec.Key + ": " + err.Error()}
			}
			h := sha256.New()
			n, err := io.CopyBuffer(h, f, buf)
			f.Close()
			if err != nil {
				return fmt.Errorf("local: verify %s: %w", path, err)
			}
			if n != rec.Size || hex.EncodeToString(h.Sum(nil)) != rec.SHA256 {
				return &trove.CorruptionError{File: path, Offset: -1, Reason: fmt.Sprintf("local: object of key %s is %d bytes hashing to sha256:%x, its record says %d bytes, sha256:%s", rec.Key, n, h.Sum(nil), rec.Size, rec.SHA256)}
			}
		}
	}
	return nil
}
