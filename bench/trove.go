package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/trovedb/trove"
)

// dirOptions is the options object of the file-backed plugins: their data
// directory.
func dirOptions(dir string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"directory": dir})
	return b
}

// sqliteOptions is storage-sqlite's options object: a database file in
// dir.
func sqliteOptions(dir string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"path": filepath.Join(dir, "trove.db")})
	return b
}

// troveContender drives the registered plugin name through the public API:
// trove.NewPlugin, Initialize, then EventStorage (BatchSaver when the
// plugin offers it) for events and FileStorage for files.
func troveContender(name, about string, persistent bool, options func(dir string) json.RawMessage) Contender {
	return Contender{
		Name: name, Kind: kindTrove, About: about, Persistent: persistent,
		Available: func() error {
			if !slices.Contains(trove.Plugins(), name) {
				return fmt.Errorf("plugin %s is not built into this binary", name)
			}
			return nil
		},
		Open: func(ctx context.Context, dir string, log *slog.Logger) (Store, error) {
			var opts json.RawMessage
			if options != nil {
				opts = options(dir)
			}
			p, err := trove.NewPlugin(name, opts)
			if err != nil {
				return nil, err
			}
			if err := p.Initialize(ctx, nil); err != nil {
				return nil, fmt.Errorf("bench: initialize %s: %w", name, err)
			}
			es, ok := p.(trove.EventStorage)
			if !ok || !trove.HasCapability(p, trove.CapEvents) {
				_ = p.Shutdown(ctx)
				return nil, fmt.Errorf("bench: %s does not store events", name)
			}
			s := &troveStore{plugin: p, events: es}
			if bs, ok := p.(trove.BatchSaver); ok {
				s.batch = bs
			} else {
				log.Warn("plugin has no BatchSaver: batches are saved one event at a time", "plugin", name)
			}
			if fs, ok := p.(trove.FileStorage); ok && trove.HasCapability(p, trove.CapFiles) {
				s.files = fs
			}
			return s, nil
		},
	}
}

type troveStore struct {
	plugin trove.Plugin
	events trove.EventStorage
	batch  trove.BatchSaver  // nil when the plugin has none
	files  trove.FileStorage // nil when the plugin stores no files
}

var (
	_ Store  = (*troveStore)(nil)
	_ Reader = (*troveStore)(nil)
)

func (s *troveStore) SaveFile(ctx context.Context, it *Item) error {
	if s.files == nil {
		return errUnsupported
	}
	f := it.Event.Files[0]
	_, err := s.files.SaveFile(ctx, trove.EventFile{ID: f.ID, ContentType: f.ContentType, Filename: f.Filename, Hash: f.Hash}, bytes.NewReader(it.File))
	return err
}

func (s *troveStore) SaveBatch(ctx context.Context, b *Batch) error {
	if s.batch == nil {
		for i := range b.Events {
			if _, err := s.events.SaveEvent(ctx, b.Events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := s.batch.SaveEvents(ctx, b.Events)
	return err
}

func (s *troveStore) Save(ctx context.Context, it *Item) error {
	_, err := s.events.SaveEvent(ctx, it.Event)
	return err
}

func (s *troveStore) Get(ctx context.Context, id string) error {
	_, err := s.events.GetEvent(ctx, trove.EventID{ID: id})
	return err
}

func (s *troveStore) Query(ctx context.Context, q trove.EventQuery) (int, error) {
	evs, err := s.events.QueryEvents(ctx, q)
	return len(evs), err
}

func (s *troveStore) Close(ctx context.Context) error { return s.plugin.Shutdown(ctx) }

// Stats returns the plugin's own figures (nil when it has none), for the
// log.
func (s *troveStore) Stats() map[string]float64 {
	if st, ok := s.plugin.(interface{ Stats() map[string]float64 }); ok {
		return st.Stats()
	}
	return nil
}
