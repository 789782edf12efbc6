package trove

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SchemaStore is implemented by event storages that keep the core's schema
// registry, so that registered schemas survive a restart. Without it the
// registry lives in memory.
type SchemaStore interface {
	// SaveSchema stores s. The same (id, version) with the same document is
	// a no-op; with another document ErrConflict.
	SaveSchema(ctx context.Context, s RegisteredSchema) error
	// ListSchemas returns every stored schema, in registration order.
	ListSchemas(ctx context.Context) ([]RegisteredSchema, error)
}

// Upload is a file sent with a new event: its metadata and a stream of its
// bytes.
type Upload struct {
	File EventFile
	Data io.Reader
}

// Core is Trove's core: it validates events against their schemas, keeps the
// schema registry, and routes each role to its storage plugin. It is safe
// for concurrent use.
type Core struct {
	events  EventStorage
	files   FileStorage // nil when no plugin serves files
	links   LinkStorage // nil when no plugin serves links
	plugins []Plugin    // distinct instances, in initialization order
	logger  *slog.Logger
	valid   validators
	maxID   int // Config.MaxIdentifierBytes, defaulted
	now     func() time.Time
	regGen  atomic.Uint64     // bumped by every registration
	given   map[string]Plugin // WithPlugin's instances, by plugin name
	claims  fileClaims        // file ids being saved by requests

	mu struct {
		sync.RWMutex
		schemas []RegisteredSchema           // registration order
		byKey   map[string]*RegisteredSchema // id + "\x00" + version
		closed  bool
	}
}

// Option adjusts Open.
type Option func(*Core)

// WithLogger sets the core's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Core) { c.logger = l } }

// Open builds a core from cfg: it makes each configured plugin (roles naming
// the same plugin with the same options share one instance), checks that
// each serves its role, and initializes each instance once. On error every
// plugin already initialized is shut down again.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Core, error) {
	c := &Core{logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.mu.byKey = map[string]*RegisteredSchema{}
	c.maxID = cfg.MaxIdentifierBytes
	if c.maxID == 0 {
		c.maxID = DefaultMaxIdentifierBytes
	}
	if c.maxID < 0 {
		return nil, invalidf("config: maxIdentifierBytes %d is negative", c.maxID)
	}
	c.valid.capBytes = cfg.SchemaCacheBytes
	if c.valid.capBytes == 0 {
		c.valid.capBytes = DefaultSchemaCacheBytes
	}
	c.valid.resolve = c.registeredDocument
	c.valid.gen = c.regGen.Load
	st := cfg.Storage
	if st.Events.Plugin == "" || st.Events.Plugin == UseEventStorage {
		return nil, invalidf("config: storage.events needs a plugin: the default engine is %q (import _ %q; options {\"directory\": DIR}), %q keeps everything in memory (import _ %q)",
			"storage-log", pluginPackages["storage-log"], "storage-memory", pluginPackages["storage-memory"])
	}
	instances := map[string]Plugin{}
	get := func(role string, pc PluginConfig, capab Capability) (Plugin, error) {
		if pc.Plugin == "" || pc.Plugin == UseEventStorage {
			pc = st.Events
		}
		key := pc.Plugin + "\x00" + canonicalJSON(pc.Options)
		if _, ok := c.given[pc.Plugin]; ok {
			key = pc.Plugin // one given instance, whatever the options
		}
		p, ok := instances[key]
		if !ok {
			var err error
			if p, ok = c.given[pc.Plugin]; !ok {
				if p, err = NewPlugin(pc.Plugin, pc.Options); err != nil {
					return nil, err
				}
			}
			instances[key] = p
			c.plugins = append(c.plugins, p)
		}
		if !HasCapability(p, capab) {
			return nil, invalidf("config: storage.%s: plugin %s does not offer %s", role, pc.Plugin, capab)
		}
		return p, nil
	}
	ep, err := get("events", st.Events, CapEvents)
	if err != nil {
		return nil, err
	}
	fp, err := get("files", st.Files, CapFiles)
	if err != nil && (st.Files.Plugin != "" || HasCapability(ep, CapFiles)) {
		return nil, err
	}
	lp, err := get("links", st.Links, CapLinks)
	if err != nil && (st.Links.Plugin != "" || HasCapability(ep, CapLinks)) {
		return nil, err
	}
	if lp != nil && lp != ep {
		return nil, invalidf("config: storage.links: plugin %s must be the event storage's instance (%s): queries filter on links", lp.Name(), ep.Name())
	}
	var ok bool
	if c.events, ok = ep.(EventStorage); !ok {
		return nil, invalidf("config: plugin %s lists %s but does not implement EventStorage", ep.Name(), CapEvents)
	}
	if fp != nil {
		if c.files, ok = fp.(FileStorage); !ok {
			return nil, invalidf("config: plugin %s lists %s but does not implement FileStorage", fp.Name(), CapFiles)
		}
	}
	if lp != nil {
		if c.links, ok = lp.(LinkStorage); !ok {
			return nil, invalidf("config: plugin %s lists %s but does not implement LinkStorage", lp.Name(), CapLinks)
		}
	}
	for i, p := range c.plugins {
		if err := p.Initialize(ctx, c); err != nil {
			for _, q := range slices.Backward(c.plugins[:i]) {
				_ = q.Shutdown(ctx)
			}
			return nil, fmt.Errorf("plugin %s: initialize: %w", p.Name(), err)
		}
	}
	if ss, ok := c.events.(SchemaStore); ok {
		list, err := ss.ListSchemas(ctx)
		if err != nil {
			_ = c.Shutdown(ctx)
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		for _, s := range list {
			c.addSchemaLocked(s)
		}
	}
	return c, nil
}

func canonicalJSON(b json.RawMessage) string {
	if isJSONNull(b) {
		return ""
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v) // map keys come out sorted
	return string(out)
}

// Logger returns the core's logger; plugins log through it.
func (c *Core) Logger() *slog.Logger {
	if c == nil {
		return slog.Default()
	}
	return c.logger
}

// Events returns the event storage.
func (c *Core) Events() EventStorage { return c.events }

// Files returns the file storage, or nil when none is configured.
func (c *Core) Files() FileStorage { return c.files }

// Links returns the link storage, or nil when none is configured.
func (c *Core) Links() LinkStorage { return c.links }

// PluginInstances returns the distinct plugin instances, in initialization
// order.
func (c *Core) PluginInstances() []Plugin { return slices.Clone(c.plugins) }

// Shutdown shuts every plugin down, in reverse initialization order, and
// returns the first error. Calls after Shutdown return ErrClosed.
func (c *Core) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	c.mu.Unlock()
	var first error
	for _, p := range slices.Backward(c.plugins) {
		if err := p.Shutdown(ctx); err != nil && first == nil {
			first = fmt.Errorf("plugin %s: shutdown: %w", p.Name(), err)
		}
	}
	return first
}

func (c *Core) checkOpen() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.closed {
		return ErrClosed
	}
	return nil
}

// RegisterSchema adds a named, versioned schema to the registry, so events
// may carry only {"id","version"}. The document must compile. The same
// (id, version) with the same document is a no-op; with another
// ErrConflict. It is persisted when the event storage is a SchemaStore.
func (c *Core) RegisterSchema(ctx context.Context, s RegisteredSchema) (RegisteredSchema, error) {
	if err := c.checkOpen(); err != nil {
		return s, err
	}
	if s.ID == "" || s.Version == "" {
		return s, invalidf("schema registration: id and version are required")
	}
	if err := c.identifier("schema registration: id", s.ID); err != nil {
		return s, err
	}
	if err := c.identifier("schema registration: version", s.Version); err != nil {
		return s, err
	}
	doc, err := compactObject(s.Schema)
	if err != nil {
		return s, invalidf("schema registration %s@%s: schema: %v", s.ID, s.Version, err)
	}
	s.Schema = doc
	if _, err := c.valid.compile(doc, true); err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.mu.byKey[s.ID+"\x00"+s.Version]; ok {
		if JSONEqual(old.Schema, s.Schema) {
			return *old, nil
		}
		return s, fmt.Errorf("%w: schema %s version %s is registered with another document", ErrConflict, s.ID, s.Version)
	}
	if ss, ok := c.events.(SchemaStore); ok {
		if err := ss.SaveSchema(ctx, s); err != nil {
			return s, err
		}
	}
	c.addSchemaLocked(s)
	return s, nil
}

func (c *Core) addSchemaLocked(s RegisteredSchema) {
	key := s.ID + "\x00" + s.Version
	if _, ok := c.mu.byKey[key]; ok {
		return
	}
	c.mu.schemas = append(c.mu.schemas, s)
	c.mu.byKey[key] = &c.mu.schemas[len(c.mu.schemas)-1]
	c.regGen.Add(1)
	// Re-point the map: append may have moved the slice.
	for i := range c.mu.schemas {
		c.mu.byKey[c.mu.schemas[i].ID+"\x00"+c.mu.schemas[i].Version] = &c.mu.schemas[i]
	}
}

// registeredDocument resolves a schema reference (a URL without its
// fragment) to a registered schema's document: the latest version of the
// schema whose id is the URL, or the URL relative to the base of documents
// without an absolute "$id" ("$ref": "address" names the registered
// "address"), or whose document's "$id" is the URL.
func (c *Core) registeredDocument(url string) ([]byte, bool) {
	id := strings.TrimPrefix(url, registryBase)
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range slices.Backward(c.mu.schemas) {
		if s.ID == id || s.ID == url {
			return s.Schema, true
		}
	}
	for _, s := range slices.Backward(c.mu.schemas) {
		var head struct {
			ID string `json:"$id"`
		}
		if json.Unmarshal(s.Schema, &head) == nil && head.ID != "" && (head.ID == url || registryBase+head.ID == url) {
			return s.Schema, true
		}
	}
	return nil, false
}

// Schemas lists the registered schemas in registration order.
func (c *Core) Schemas() []RegisteredSchema {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.mu.schemas)
}

// Schema returns a registered schema. version "" means the latest
// registered version of id. ErrNotFound when absent.
func (c *Core) Schema(id, version string) (RegisteredSchema, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if version != "" {
		if s, ok := c.mu.byKey[id+"\x00"+version]; ok {
			return *s, nil
		}
		return RegisteredSchema{}, fmt.Errorf("%w: schema %s version %s", ErrNotFound, id, version)
	}
	for _, s := range slices.Backward(c.mu.schemas) {
		if s.ID == id {
			return s, nil
		}
	}
	return RegisteredSchema{}, fmt.Errorf("%w: schema %s", ErrNotFound, id)
}

// ValidateEvent checks e's payload against its schema: the document itself,
// or the registered schema a reference names (an unknown reference is
// ErrInvalid). A failing payload is a *ValidationError.
func (c *Core) ValidateEvent(e Event) error {
	if e.Schema.IsZero() {
		return invalidf("event: schema is required")
	}
	if err := c.checkIdentifiers(e); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	payload, err := compactObject(e.Payload)
	if err != nil {
		return invalidf("event: payload: %v", err)
	}
	if !isJSONNull(e.Metadata) {
		if _, err := checkJSONObject(e.Metadata); err != nil {
			return invalidf("event: metadata: %v", err)
		}
	}
	for i, l := range e.Links {
		if !isJSONNull(l.Metadata) {
			if _, err := checkJSONObject(l.Metadata); err != nil {
				return invalidf("event: links[%d].metadata: %v", i, err)
			}
		}
	}
	doc := e.Schema.Raw()
	if e.Schema.IsReference() {
		rs, err := c.Schema(e.Schema.Identity(), e.Schema.RefVersion())
		if err != nil {
			return invalidf("event: schema reference %s version %s is not registered", e.Schema.Identity(), e.Schema.RefVersion())
		}
		doc = rs.Schema
	}
	return c.valid.validate(e.Schema.Identity(), doc, payload)
}

// CreateEvent validates e, stores its files (uploads, and inline files whose
// Data holds base64 bytes) in file storage, then saves the event, with its
// links, to event storage, and returns the stored event. Everything that
// can be checked without storing is checked first. When the event is
// refused (ErrInvalid, ErrConflict, ErrNotFound, or a file that fails to
// save), the files this call stored are deleted again (FileDeleter); a
// file that existed before, or that another request saved or referenced
// meanwhile, stays. After an error of unknown outcome (I/O, a cancelled
// context while saving) the files stay, since the event may be stored.
func (c *Core) CreateEvent(ctx context.Context, e Event, uploads ...Upload) (Event, error) {
	if err := c.checkOpen(); err != nil {
		return e, err
	}
	inline, uploads, err := c.checkEvent(e, uploads)
	if err != nil {
		return e, err
	}
	w := &fileWrite{c: c}
	if e, err = w.storeFiles(ctx, e, inline, uploads); err != nil {
		w.end(ctx, false)
		return e, err
	}
	out, err := c.events.SaveEvent(ctx, e)
	w.end(ctx, err == nil || !refused(err))
	return out, err
}

// CreateEvents validates every event and saves them all atomically (through
// BatchSaver or a transaction); on any error none is saved. Errors name the
// index of the failing event. Every event is checked before any file is
// stored; when the batch is refused, the files it stored are deleted again,
// as for CreateEvent.
func (c *Core) CreateEvents(ctx context.Context, events []Event) ([]Event, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	inline, err := c.checkEvents(events)
	if err != nil {
		return nil, err
	}
	w := &fileWrite{c: c}
	prepared := make([]Event, len(events))
	for i, e := range events {
		p, err := w.storeFiles(ctx, e, inline[i], nil)
		if err != nil {
			w.end(ctx, false)
			return nil, &BatchError{Index: i, Err: err}
		}
		prepared[i] = p
	}
	out, err := c.saveBatch(ctx, prepared)
	w.end(ctx, err == nil || !refused(err))
	return out, err
}

// Batches of at least parallelCheckMin events are checked by up to
// GOMAXPROCS workers, which take parallelCheckChunk events at a time.
const (
	parallelCheckMin   = 64
	parallelCheckChunk = 16
)

// checkEvents runs checkEvent on every event of a batch and returns which
// files of each are inline files to store. The error is the one the
// events checked in order would give: a *BatchError of the first failing
// event, and a panic while checking an event is raised again here when
// every event before it passed. Large batches are checked in parallel;
// events after a failure already found are not checked.
func (c *Core) checkEvents(events []Event) ([][]bool, error) {
	inline := make([][]bool, len(events))
	workers := min(runtime.GOMAXPROCS(0), (len(events)+parallelCheckChunk-1)/parallelCheckChunk)
	if len(events) < parallelCheckMin || workers < 2 {
		for i, e := range events {
			var err error
			if inline[i], _, err = c.checkEvent(e, nil); err != nil {
				return nil, &BatchError{Index: i, Err: err}
			}
		}
		return inline, nil
	}
	type failure struct {
		err      error
		panicked bool
		value    any // the panic's value
	}
	var (
		fails    = make([]failure, len(events))
		next     atomic.Int64 // the first event no worker has taken
		firstBad atomic.Int64 // the lowest failing index found so far
		wg       sync.WaitGroup
	)
	firstBad.Store(int64(len(events)))
	lower := func(i int64) {
		for {
			cur := firstBad.Load()
			if i >= cur || firstBad.CompareAndSwap(cur, i) {
				return
			}
		}
	}
	check := func(i int) (ok bool) {
		defer func() {
			if r := recover(); r != nil {
				fails[i] = failure{panicked: true, value: r}
				ok = false
			}
		}()
		var err error
		if inline[i], _, err = c.checkEvent(events[i], nil); err != nil {
			fails[i].err = err
			return false
		}
		return true
	}
	work := func() {
		for {
			start := next.Add(parallelCheckChunk) - parallelCheckChunk
			if start >= int64(len(events)) || start > firstBad.Load() {
				return
			}
			end := min(start+parallelCheckChunk, int64(len(events)))
			for i := start; i < end && i <= firstBad.Load(); i++ {
				if !check(int(i)) {
					lower(i)
					break
				}
			}
		}
	}
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	// Every event before the lowest failure was checked and passed.
	if i := firstBad.Load(); i < int64(len(events)) {
		if fails[i].panicked {
			panic(fails[i].value)
		}
		return nil, &BatchError{Index: int(i), Err: fails[i].err}
	}
	return inline, nil
}

// saveBatch saves prepared events atomically.
func (c *Core) saveBatch(ctx context.Context, prepared []Event) ([]Event, error) {
	if bs, ok := c.events.(BatchSaver); ok {
		return bs.SaveEvents(ctx, prepared)
	}
	if ts, ok := c.events.(Transactional); ok {
		tx, err := ts.Begin(ctx)
		if err != nil {
			return nil, err
		}
		for i, e := range prepared {
			if _, err := tx.SaveEvent(ctx, e); err != nil {
				_ = tx.Rollback(ctx)
				return nil, &BatchError{Index: i, Err: err}
			}
		}
		return tx.Commit(ctx)
	}
	return nil, invalidf("event storage cannot save a batch atomically")
}

// BatchError says which event of a batch failed. It unwraps to the cause.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("event %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// checkEvent checks everything about e that needs no storage: its payload
// against its schema, that a file storage exists when e has files, every
// inline file's id and base64 data, and every upload's id (generated when
// empty). It returns which of e.Files are inline files to store (nil when
// none is) and the uploads with their ids. The data is decoded as a
// stream, here and when it is stored, so no decoded copy of a batch's
// files is held.
func (c *Core) checkEvent(e Event, uploads []Upload) ([]bool, []Upload, error) {
	if err := c.ValidateEvent(e); err != nil {
		return nil, nil, err
	}
	if len(uploads) == 0 && !hasInlineFiles(e.Files) {
		return nil, nil, nil
	}
	if c.files == nil {
		return nil, nil, invalidf("event has files but no file storage is configured")
	}
	inline := make([]bool, len(e.Files))
	for i, f := range e.Files {
		if f.IsReference || f.Data == "" {
			continue
		}
		if err := ValidateFileID(f.ID); err != nil {
			return nil, nil, fmt.Errorf("files[%d]: %w", i, err)
		}
		if _, err := io.Copy(io.Discard, inlineData(f)); err != nil {
			return nil, nil, invalidf("files[%d]: data must be base64: %v", i, err)
		}
		inline[i] = true
	}
	uploads = slices.Clone(uploads)
	for i := range uploads {
		if uploads[i].File.ID == "" {
			uploads[i].File.ID = NewID()
		}
		if err := ValidateFileID(uploads[i].File.ID); err != nil {
			return nil, nil, fmt.Errorf("upload %d (%s): %w", i, uploads[i].File.Filename, err)
		}
	}
	return inline, uploads, nil
}

// fileWrite is the files one request stores: each id is claimed
// (fileClaims) before it is saved, and released when the request ends.
type fileWrite struct {
	c      *Core
	claims []*fileClaim
}

// save claims f.ID and saves the file.
func (w *fileWrite) save(ctx context.Context, f EventFile, data io.Reader) (EventFile, error) {
	cl, err := w.c.claims.claim(ctx, w.c.files, f.ID)
	if err != nil {
		return f, err
	}
	w.claims = append(w.claims, cl)
	return w.c.files.SaveFile(ctx, f, data)
}

// inlineData streams the bytes of an inline file, decoded from base64.
func inlineData(f EventFile) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, strings.NewReader(f.Data))
}

// storeFiles saves e's inline files (those checkEvent marked) and uploads,
// and returns e with the stored metadata in place.
func (w *fileWrite) storeFiles(ctx context.Context, e Event, inline []bool, uploads []Upload) (Event, error) {
	if len(e.Files) == 0 && len(uploads) == 0 {
		return e, nil
	}
	files := slices.Clone(e.Files)
	// Entries that name a stored file take its metadata; checked before
	// anything is stored.
	for i, f := range files {
		if inline != nil && inline[i] {
			continue
		}
		resolved, err := w.c.resolveFileEntry(ctx, i, f)
		if err != nil {
			return e, err
		}
		files[i] = resolved
	}
	for i, f := range files {
		if inline == nil || !inline[i] {
			continue
		}
		data := inlineData(f)
		f.Data = ""
		stored, err := w.save(ctx, f, data)
		if err != nil {
			return e, fmt.Errorf("files[%d]: %w", i, err)
		}
		files[i] = stored
	}
	for i, u := range uploads {
		stored, err := w.save(ctx, u.File, u.Data)
		if err != nil {
			return e, fmt.Errorf("upload %d (%s): %w", i, u.File.Filename, err)
		}
		files = append(files, stored)
	}
	e.Files = files
	return e, nil
}

// end releases the request's claims. keep says the request succeeded, or
// that its outcome is unknown; otherwise the files it created are deleted.
func (w *fileWrite) end(ctx context.Context, keep bool) {
	del, _ := w.c.files.(FileDeleter)
	for _, cl := range w.claims {
		if err := w.c.claims.release(ctx, del, cl, keep); err != nil {
			w.c.logger.Warn("trove: a file of a refused request could not be deleted; it stays stored", "file", cl.id, "err", err)
		}
	}
	w.claims = nil
}

// FileEntryError is a files entry of an event that names no file: not a
// stored file, no inline data, not a reference with a locator, or a size
// or hash that disagrees with the stored bytes. It wraps ErrInvalid; over
// HTTP it is a 422.
type FileEntryError struct {
	Index  int    // the entry's place in the event's files
	ID     string // the entry's id
	Reason string
}

func (e *FileEntryError) Error() string {
	return fmt.Sprintf("files[%d] (%q): %s", e.Index, e.ID, e.Reason)
}

func (e *FileEntryError) Unwrap() error { return ErrInvalid }

// resolveFileEntry checks a files entry that carries no inline data: a
// reference needs its locator in data; any other entry must name a stored
// file, whose size and hash it takes (and must agree with when it gives
// them), and whose content type and filename it takes when it has none.
func (c *Core) resolveFileEntry(ctx context.Context, i int, f EventFile) (EventFile, error) {
	if f.IsReference {
		if f.Data == "" {
			return f, &FileEntryError{Index: i, ID: f.ID, Reason: "a reference (isReference) needs its locator in data"}
		}
		return f, nil
	}
	if f.ID == "" {
		return f, &FileEntryError{Index: i, Reason: "an entry needs the id of a stored file, inline data, or isReference with a locator"}
	}
	if c.files == nil {
		return f, &FileEntryError{Index: i, ID: f.ID, Reason: "no file storage is configured"}
	}
	stored, err := c.files.GetFile(ctx, f.ID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		return f, &FileEntryError{Index: i, ID: f.ID, Reason: "no stored file has this id: send its bytes in data, upload it first, or mark it isReference with a locator"}
	}
	if err != nil {
		return f, fmt.Errorf("files[%d]: %w", i, err)
	}
	if f.Size != 0 && f.Size != stored.Size {
		return f, &FileEntryError{Index: i, ID: f.ID, Reason: fmt.Sprintf("size %d, but the stored file has %d bytes", f.Size, stored.Size)}
	}
	if f.Hash != "" && f.Hash != stored.Hash {
		return f, &FileEntryError{Index: i, ID: f.ID, Reason: fmt.Sprintf("hash %s, but the stored file's is %s", f.Hash, stored.Hash)}
	}
	f.Size, f.Hash = stored.Size, stored.Hash
	if f.ContentType == "" {
		f.ContentType = stored.ContentType
	}
	if f.Filename == "" {
		f.Filename = stored.Filename
	}
	return f, nil
}

func hasInlineFiles(fs []EventFile) bool {
	return slices.ContainsFunc(fs, func(f EventFile) bool { return !f.IsReference && f.Data != "" })
}

// GetEvent returns an event from event storage.
func (c *Core) GetEvent(ctx context.Context, id EventID) (Event, error) {
	if err := c.checkOpen(); err != nil {
		return Event{}, err
	}
	return c.events.GetEvent(ctx, id)
}

// QueryEvents runs a query on event storage.
func (c *Core) QueryEvents(ctx context.Context, q EventQuery) ([]Event, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return c.events.QueryEvents(ctx, q)
}

// errNoRole is returned when a role has no plugin.
func errNoRole(role string) error {
	return invalidf("no %s storage is configured", role)
}

// SaveFile stores a file in file storage. An empty id gets a generated one.
func (c *Core) SaveFile(ctx context.Context, f EventFile, data io.Reader) (EventFile, error) {
	if err := c.checkOpen(); err != nil {
		return f, err
	}
	if c.files == nil {
		return f, errNoRole("file")
	}
	if f.ID == "" {
		f.ID = NewID()
	}
	if err := ValidateFileID(f.ID); err != nil {
		return f, err
	}
	// Claimed like an event's files, so that a refused event saving the
	// same id at the same moment does not take this file back.
	w := &fileWrite{c: c}
	out, err := w.save(ctx, f, data)
	w.end(ctx, err == nil)
	return out, err
}

// GetFile returns a file's metadata.
func (c *Core) GetFile(ctx context.Context, id string) (EventFile, error) {
	if err := c.checkOpen(); err != nil {
		return EventFile{}, err
	}
	if c.files == nil {
		return EventFile{}, errNoRole("file")
	}
	return c.files.GetFile(ctx, id)
}

// GetFileData streams a file's bytes.
func (c *Core) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if c.files == nil {
		return nil, errNoRole("file")
	}
	return c.files.GetFileData(ctx, id)
}

// SaveLink adds a link to an event.
func (c *Core) SaveLink(ctx context.Context, source EventID, l EventLink) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.links == nil {
		return errNoRole("link")
	}
	if err := c.checkLink(l); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	if !isJSONNull(l.Metadata) {
		if _, err := checkJSONObject(l.Metadata); err != nil {
			return invalidf("link: metadata: %v", err)
		}
	}
	return c.links.SaveLink(ctx, source, l)
}

// GetLinks lists an event's links.
func (c *Core) GetLinks(ctx context.Context, id EventID, opts LinkOptions) ([]EventLink, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if c.links == nil {
		return nil, errNoRole("link")
	}
	return c.links.GetLinks(ctx, id, opts)
}

// GetLinkedEvents lists the events at the other end of an event's links.
func (c *Core) GetLinkedEvents(ctx context.Context, id EventID, opts LinkOptions) ([]Event, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if c.links == nil {
		return nil, errNoRole("link")
	}
	return c.links.GetLinkedEvents(ctx, id, opts)
}

// ParseDirection reads "in", "out" or "" (out). Others are ErrInvalid.
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "", "out", "outgoing":
		return Outgoing, nil
	case "in", "incoming":
		return Incoming, nil
	}
	return "", invalidf("link direction %q (want in or out)", s)
}

// IsNotFound etc. are small conveniences over errors.Is.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
