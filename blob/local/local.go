package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	dir      string
	objects  string // dir/objects
	keys     string // dir/keys
	opts     Options
	readOnly bool // OpenReadOnly: Put and Delete fail, nothing on disk changes

	closed atomic.Bool
	lock   *fsutil.DirLock // dir's lock, released by Close; nil when none was taken

	// pack is the pack log of the small objects (packlog.go).
	pack *packLog
	// loose is set once a loose record may exist (keys/ has a shard, or a
	// loose Put began to publish one): until then a key that is not packed
	// is absent without a look at keys/.
	loose atomic.Bool
	// scan is what Open found reading the packs.
	scan scanResult

	// mu orders Delete against Put of loose objects: those Puts hold it
	// shared while they publish, Delete holds it exclusively, so an object
	// Delete finds unreferenced cannot gain a reference until it is gone.
	mu sync.RWMutex
	// gate serializes the check-then-publish of one key (Put, Delete);
	// lock order: mu, then gate.
	gate keyGate
	// dirs caches the shard directories known to exist.
	dirs sync.Map
	// bufs holds the buffers (SmallMax+1 bytes) Put reads a stream into
	// to find out whether it is small.
	bufs sync.Pool
}

// Options tune a Store. The zero value is the default (DefaultOptions).
type Options struct {
	// SmallMax is the size in bytes up to which an object is packed: its
	// key, metadata and bytes appended to the pack log with a group commit
	// (one write and one fdatasync per group of concurrent Puts) rather
	// than stored as a loose file of its own. Zero means 64 KiB; a
	// negative value packs nothing. At most 4 MiB.
	SmallMax int64
	// PackSize is the size in bytes at which the active pack is closed
	// and the next one started. Zero means 64 MiB.
	PackSize int64
}

// DefaultOptions returns the default Options.
func DefaultOptions() Options { return Options{SmallMax: 64 << 10, PackSize: 64 << 20} }

// maxSmall caps Options.SmallMax.
const maxSmall = 4 << 20

func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.SmallMax == 0 {
		o.SmallMax = d.SmallMax
	}
	if o.PackSize == 0 {
		o.PackSize = d.PackSize
	}
	if o.SmallMax > maxSmall || o.PackSize < 0 {
		return o, fmt.Errorf("local: %w: options: SmallMax at most %d bytes, PackSize not negative", trove.ErrInvalid, maxSmall)
	}
	return o, nil
}

// keyGate holds at most one holder per key.
type keyGate struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

func (g *keyGate) lock(key string) {
	for {
		g.mu.Lock()
		ch, ok := g.held[key]
		if !ok {
			if g.held == nil {
				g.held = map[string]chan struct{}{}
			}
			g.held[key] = make(chan struct{})
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		<-ch
	}
}

func (g *keyGate) unlock(key string) {
	g.mu.Lock()
	ch := g.held[key]
	delete(g.held, key)
	g.mu.Unlock()
	close(ch)
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
	return OpenWith(context.Background(), dir, Options{})
}

// OpenContext is Open whose wait for a held lock ends when ctx does.
func OpenContext(ctx context.Context, dir string) (*Store, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith is OpenContext with options. Open rebuilds the index of packed
// keys from the sealed packs' key files and by reading the last pack (and
// any sealed pack without a matching key file, whose key file it writes):
// it truncates a torn tail of the last pack (bytes of a write never
// acknowledged) and fails with a *trove.CorruptionError naming the pack
// and offset, changing nothing, when a pack it reads is damaged anywhere
// else (see FORMAT.md).
func OpenWith(ctx context.Context, dir string, opts Options) (_ *Store, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, objects: filepath.Join(dir, "objects"), keys: filepath.Join(dir, "keys"), opts: opts}
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
	for _, d := range []string{s.objects, s.keys, s.packDir()} {
		if err := s.ensureDir(d); err != nil {
			return nil, fmt.Errorf("local: open: %w", err)
		}
	}
	if err := s.removeLeftovers(); err != nil {
		return nil, err
	}
	if err := s.noteLoose(); err != nil {
		return nil, err
	}
	s.pack, s.scan, err = openPackLog(s.packDir(), opts.PackSize, true)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// OpenReadOnly opens the store in dir for reading only, for salvage and
// checks: it takes dir's lock shared (so no writer has it open), changes
// nothing on disk, leaves a torn tail in place (unread), and skips damaged
// bytes of a pack, serving every record that reads back intact (Damage
// lists what was skipped). Put and Delete fail with trove.ErrInvalid. A
// directory that does not exist is an empty store.
func OpenReadOnly(ctx context.Context, dir string) (_ *Store, err error) {
	s := &Store{dir: dir, objects: filepath.Join(dir, "objects"), keys: filepath.Join(dir, "keys"), readOnly: true}
	s.opts, _ = Options{}.withDefaults()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		s.pack, _, _ = openPackLog(s.packDir(), s.opts.PackSize, false)
		return s, nil
	}
	lock, err := fsutil.LockDir(ctx, dir, false)
	if err != nil {
		return nil, fmt.Errorf("local: open: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		if err := s.checkMarker(); err != nil {
			return nil, err
		}
	}
	if err := s.noteLoose(); err != nil {
		return nil, err
	}
	s.pack, s.scan, err = openPackLog(s.packDir(), s.opts.PackSize, false)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// Damage lists the damaged parts of the packs an OpenReadOnly skipped
// (each a *trove.CorruptionError); nil for a store opened for writing,
// which refuses to open when a pack is damaged.
func (s *Store) Damage() []error { return slices.Clone(s.scan.problems) }

func (s *Store) packDir() string { return filepath.Join(s.dir, "packs") }

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

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("local: %s: %w", s.dir, trove.ErrClosed)
	}
	return nil
}

func (s *Store) checkWritable() error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("local: %s: %w: the store is open read-only", s.dir, trove.ErrInvalid)
	}
	return nil
}

// Put implements blob.Store. It reads up to SmallMax+1 bytes of the
// stream: a stream that ends within SmallMax bytes is a small object,
// packed (putSmall); a longer one streams on into a staged loose file
// (putLoose). Either way the object is durable when Put returns.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (blob.Info, error) {
	if err := s.checkWritable(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidatePut(key, opts); err != nil {
		return blob.Info{}, fmt.Errorf("local: put: %w", err)
	}
	var src io.Reader = &ctxReader{ctx: ctx, r: r}
	if s.opts.SmallMax > 0 && putFits(opts.ContentType, opts.Metadata) {
		bp, _ := s.bufs.Get().(*[]byte)
		if bp == nil {
			b := make([]byte, s.opts.SmallMax+1)
			bp = &b
		}
		defer s.bufs.Put(bp)
		buf := *bp
		n, err := io.ReadFull(src, buf)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return s.putSmall(key, buf[:n], opts)
		case err != nil:
			return blob.Info{}, fmt.Errorf("local: put %s: read: %w", key, err)
		}
		src = io.MultiReader(bytes.NewReader(buf[:n]), src)
	}
	return s.putLoose(key, src, opts)
}

// putSmall packs a small object: its record goes to the pack log's group
// commit under the key's gate.
func (s *Store) putSmall(key string, data []byte, opts blob.PutOptions) (blob.Info, error) {
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if opts.SHA256 != "" && opts.SHA256 != digest {
		return blob.Info{}, fmt.Errorf("local: put %s: %w: bytes hash to sha256:%s, not the expected sha256:%s", key, trove.ErrInvalid, digest, opts.SHA256)
	}
	s.gate.lock(key)
	defer s.gate.unlock(key)
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if info, found, err := s.storedAs(key, digest, opts); found {
		return info, err
	}
	w := &packWrite{key: key, frame: encodePut(key, sum, opts.ContentType, opts.Metadata, data)}
	if err := s.pack.submit(w); err != nil {
		return blob.Info{}, fmt.Errorf("local: put %s: %w", key, err)
	}
	return infoOf(record{Key: key, Size: int64(len(data)), SHA256: digest, ContentType: opts.ContentType, Metadata: opts.Metadata}), nil
}

// storedAs answers a put of key whose bytes hash to digest when key is
// stored already, or when looking it up fails (found true); found is false
// when key is not stored.
func (s *Store) storedAs(key, digest string, opts blob.PutOptions) (info blob.Info, found bool, err error) {
	existing, err := s.stat(key)
	if errors.Is(err, trove.ErrNotFound) {
		return blob.Info{}, false, nil
	}
	if err != nil {
		return blob.Info{}, true, err
	}
	info, err = s.compare(existing, digest, opts)
	return info, true, err
}

// putLoose stores a loose object. The bytes stream through a 256 KiB
// buffer into a staged file while their SHA-256 is computed; the staged
// file is fsynced, then renamed to its content address (or dropped when
// that object already exists), then the key's record is published
// atomically.
func (s *Store) putLoose(key string, src io.Reader, opts blob.PutOptions) (blob.Info, error) {
	// A retry of a stored key needs no staging: hash and compare.
	if existing, err := s.stat(key); err == nil {
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
	s.gate.lock(key)
	defer s.gate.unlock(key)
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if info, found, err := s.storedAs(key, digest, opts); found {
		return info, err
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
	s.loose.Store(true)
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

// stat returns key's record, packed or loose; ErrNotFound when absent.
func (s *Store) stat(key string) (record, error) {
	if loc, ok := s.pack.lookup(key); ok {
		p, err := s.pack.read(key, loc)
		if err != nil {
			return record{}, err
		}
		return packedRecord(p), nil
	}
	if !s.loose.Load() {
		return record{}, fmt.Errorf("local: %s: %w", key, trove.ErrNotFound)
	}
	return s.readRecord(key)
}

// noteLoose sets s.loose when keys/ holds anything.
func (s *Store) noteLoose() error {
	entries, err := os.ReadDir(s.keys)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: open: %w", err)
	}
	if len(entries) > 0 {
		s.loose.Store(true)
	}
	return nil
}

func packedRecord(p packed) record {
	return record{Version: 1, Key: p.key, Size: int64(len(p.data)), SHA256: hex.EncodeToString(p.sha256[:]), ContentType: p.contentType, Metadata: p.meta}
}

// Get implements blob.Store. The reader of a loose object is an
// *os.File's, of a packed one a bytes.Reader's over the record read (and
// its CRC checked) by Get: both implement io.Seeker and io.ReaderAt.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return nil, blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return nil, blob.Info{}, fmt.Errorf("local: get: %w", err)
	}
	if loc, ok := s.pack.lookup(key); ok {
		p, err := s.pack.read(key, loc)
		if err != nil {
			return nil, blob.Info{}, err
		}
		return memReader{bytes.NewReader(p.data)}, infoOf(packedRecord(p)), nil
	}
	rec, err := s.stat(key)
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

// memReader is the reader of a packed object.
type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blob.Info{}, err
	}
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("local: stat: %w", err)
	}
	rec, err := s.stat(key)
	if err != nil {
		return blob.Info{}, err
	}
	return infoOf(rec), nil
}

// Delete implements blob.Store. A packed key is deleted by a delete
// record, appended with the group commit (its bytes stay in the pack:
// there is no compaction). A loose key's record is removed, then the
// object when no other key refers to it; finding that out reads every
// record, so Delete costs time in proportion to the number of loose keys.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("local: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate.lock(key)
	defer s.gate.unlock(key)
	if err := s.checkOpen(); err != nil {
		return err
	}
	if _, ok := s.pack.lookup(key); ok {
		if err := s.pack.submit(&packWrite{key: key, frame: encodeDelete(key), del: true}); err != nil {
			return fmt.Errorf("local: delete %s: %w", key, err)
		}
		return nil
	}
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
	err := s.pack.close()
	if s.lock != nil {
		if uerr := s.lock.Unlock(); err == nil {
			err = uerr
		}
	}
	return err
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

// Verify re-reads every loose record and re-hashes every object a record
// names, and re-reads every live packed record and re-hashes its bytes,
// and returns a *trove.CorruptionError for the first damage found: an
// unreadable record, a missing object, or bytes whose size or SHA-256
// differ from the record's.
func (s *Store) Verify(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var first error
	_, err := s.verify(ctx, func(err error) bool {
		first = err
		return false
	})
	if err != nil {
		return err
	}
	return first
}

// verify checks every live key (see Verify), calls problem with each
// damage found until it returns false, and returns the number of keys
// checked. Its own error is a failure to read (or ctx's).
func (s *Store) verify(ctx context.Context, problem func(error) bool) (int, error) {
	checked := 0
	for _, key := range s.pack.keys() {
		if err := ctx.Err(); err != nil {
			return checked, err
		}
		loc, ok := s.pack.lookup(key)
		if !ok {
			continue // deleted meanwhile
		}
		checked++
		p, err := s.pack.read(key, loc)
		if err == nil && sha256.Sum256(p.data) != p.sha256 {
			err = &trove.CorruptionError{File: filepath.Join(s.packDir(), packName(loc.pack)), Offset: loc.off,
				Reason: fmt.Sprintf("local: the bytes of key %s do not hash to their record's sha256:%x", key, p.sha256)}
		}
		if err != nil {
			if !errors.Is(err, trove.ErrCorrupt) {
				return checked, err
			}
			if !problem(err) {
				return checked, nil
			}
		}
	}
	shards, err := os.ReadDir(s.keys)
	if errors.Is(err, fs.ErrNotExist) && s.readOnly {
		return checked, nil
	}
	if err != nil {
		return checked, fmt.Errorf("local: verify: %w", err)
	}
	buf := make([]byte, copyBufSize)
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.keys, shard.Name()))
		if err != nil {
			return checked, fmt.Errorf("local: verify: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return checked, err
			}
			rec, err := s.readRecord(strings.TrimSuffix(name, ".json"))
			if errors.Is(err, trove.ErrNotFound) {
				continue
			}
			checked++
			if err == nil {
				err = s.verifyObject(rec, buf)
			}
			if err != nil {
				if !errors.Is(err, trove.ErrCorrupt) {
					return checked, err
				}
				if !problem(err) {
					return checked, nil
				}
			}
		}
	}
	return checked, nil
}

// verifyObject re-hashes the loose object rec names.
func (s *Store) verifyObject(rec record, buf []byte) error {
	path := s.objectPath(rec.SHA256)
	f, err := os.Open(path)
	if err != nil {
		return &trove.CorruptionError{File: path, Offset: -1, Reason: "local: object of key " + rec.Key + ": " + err.Error()}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return fmt.Errorf("local: verify %s: %w", path, err)
	}
	if n != rec.Size || hex.EncodeToString(h.Sum(nil)) != rec.SHA256 {
		return &trove.CorruptionError{File: path, Offset: -1, Reason: fmt.Sprintf("local: object of key %s is %d bytes hashing to sha256:%x, its record says %d bytes, sha256:%s", rec.Key, n, h.Sum(nil), rec.Size, rec.SHA256)}
	}
	return nil
}
