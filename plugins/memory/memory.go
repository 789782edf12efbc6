package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/lifecycle"
	"github.com/trovedb/trove/plugins/internal/linkbook"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
)

// Name is the plugin's registered name.
const Name = "storage-memory"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if err := pluginopts.Decode("memory", options, &o, pluginopts.Lenient); err != nil {
			return nil, err
		}
		return New(o), nil
	})
}

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// TempDir is the directory under which the store keeps file bytes, in a
	// private subdirectory created by Initialize and removed by Shutdown.
	// "" (the default) means os.TempDir().
	TempDir string `json:"tempDir,omitempty"`
}

// Store is the in-memory storage plugin. It serves events, files and links
// and offers transactions, batches, subscriptions, replay and a schema
// store. Everything but file bytes lives on the Go heap and is lost at
// Shutdown. Every method is safe for concurrent use.
type Store struct {
	opts Options
	now  func() time.Time

	mu struct {
		sync.RWMutex
		state   lifecycle.State         // open/closed; Lazy: calls are served before Initialize
		fileDir string                  // private directory for file bytes
		log     []*record               // every event version, log[i] has position i+1
		byID    map[string][]*record    // versions of an id, [v-1] is version v
		links   []linkbook.Entry        // every link, in save order (for incoming links)
		schemas map[string]trove.Schema // interned schema documents, by raw JSON
		files   map[string]storedFile
		regs    []trove.RegisteredSchema // the schema registry, in registration order
	}
}

// record is one stored event version.
type record struct {
	ev      trove.Event // as stored, Position set; never modified
	payload any         // ev.Payload decoded for matching and sorting
	// added holds the links added later with SaveLink; guarded by Store.mu.
	added []trove.EventLink
}

var (
	_ trove.Plugin        = (*Store)(nil)
	_ trove.EventStorage  = (*Store)(nil)
	_ trove.FileStorage   = (*Store)(nil)
	_ trove.LinkStorage   = (*Store)(nil)
	_ trove.Transactional = (*Store)(nil)
	_ trove.BatchSaver    = (*Store)(nil)
	_ trove.Subscriber    = (*Store)(nil)
	_ trove.Replayer      = (*Store)(nil)
	_ trove.SchemaStore   = (*Store)(nil)
)

// New makes a store; Initialize opens it.
func New(o Options) *Store {
	s := &Store{opts: o, now: time.Now}
	s.mu.byID = map[string][]*record{}
	s.mu.schemas = map[string]trove.Schema{}
	s.mu.files = map[string]storedFile{}
	s.mu.state = lifecycle.New("memory", lifecycle.Lazy)
	return s
}

// Name returns "storage-memory".
func (s *Store) Name() string { return Name }

// Capabilities lists events, files and links.
func (s *Store) Capabilities() []trove.Capability {
	return []trove.Capability{trove.CapEvents, trove.CapFiles, trove.CapLinks}
}

// Initialize creates the directory for file bytes.
func (s *Store) Initialize(ctx context.Context, _ *trove.Core) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if todo, err := s.mu.state.Initializing(); !todo || err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.opts.TempDir, "trove-memory-*")
	if err != nil {
		return fmt.Errorf("memory: initialize: %w", err)
	}
	s.mu.fileDir = dir
	s.mu.state.Opened()
	return nil
}

// Shutdown drops everything and removes the file bytes. Calls after it
// return ErrClosed; a second Shutdown is a no-op.
func (s *Store) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.state.Close() {
		return nil
	}
	s.mu.log, s.mu.byID, s.mu.links, s.mu.files, s.mu.regs = nil, nil, nil, nil, nil
	if s.mu.fileDir != "" {
		if err := os.RemoveAll(s.mu.fileDir); err != nil {
			return fmt.Errorf("memory: shutdown: %w", err)
		}
	}
	return nil
}
