package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

// DefaultWriters is the number of concurrent writers in the child when
// Backend.Writers is zero.
const DefaultWriters = 16

// roles are the storage roles of an opened plugin.
type roles struct {
	events trove.EventStorage
	batch  func(ctx context.Context, events []trove.Event) ([]trove.Event, error) // nil: no atomic batches
	files  trove.FileStorage
	links  trove.LinkStorage
}

func rolesOf(p trove.Plugin) roles {
	var r roles
	if trove.HasCapability(p, trove.CapEvents) {
		r.events, _ = p.(trove.EventStorage)
	}
	if trove.HasCapability(p, trove.CapFiles) {
		r.files, _ = p.(trove.FileStorage)
	}
	if r.events != nil && trove.HasCapability(p, trove.CapLinks) {
		r.links, _ = p.(trove.LinkStorage)
	}
	if bs, ok := p.(trove.BatchSaver); ok && r.events != nil {
		r.batch = bs.SaveEvents
	} else if ts, ok := p.(trove.Transactional); ok && r.events != nil {
		r.batch = func(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
			tx, err := ts.Begin(ctx)
			if err != nil {
				return nil, err
			}
			for _, e := range events {
				if _, err := tx.SaveEvent(ctx, e); err != nil {
					_ = tx.Rollback(ctx)
					return nil, err
				}
			}
			return tx.Commit(ctx)
		}
	}
	return r
}

// child is the body of the child process: it opens the store in dir and
// runs b.writers() writers until it is killed, writing one ack line to stdout
// after each write returned. It never returns.
func child(t *testing.T, b Backend, dir string, run int, seed uint64) {
	ctx := context.Background()
	p := b.Open(t, dir)
	if err := p.Initialize(ctx, nil); err != nil {
		fmt.Fprintf(os.Stdout, "error initialize: %v\n", err)
		os.Exit(1)
	}
	r := rolesOf(p)
	if r.events == nil && r.files == nil {
		fmt.Fprintf(os.Stdout, "error %s serves neither events nor files\n", p.Name())
		os.Exit(1)
	}
	var out sync.Mutex
	// One write per line: a pipe takes writes below PIPE_BUF (4 KiB) whole,
	// so the parent never reads half an ack.
	emit := func(a ack) {
		out.Lock()
		defer out.Unlock()
		if _, err := os.Stdout.Write(a.line()); err != nil {
			os.Exit(3) // the parent is gone
		}
	}
	fail := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, "error "+format+"\n", args...)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write([]byte("ready\n")); err != nil {
		os.Exit(3)
	}
	maxFile := b.maxFileSize()
	var wg sync.WaitGroup
	for w := range b.writers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(run)<<8|uint64(w)))
			var mine []string // events this writer saved in this run, for links
			saveFile := func(id string) {
				f, err := r.files.SaveFile(ctx, fileToSave(id), bytes.NewReader(fileData(id, maxFile)))
				if err != nil {
					fail("save file %s: %v", id, err)
				}
				if want := fileMeta(id, maxFile); f != want {
					fail("save file %s returned %+v, want %+v", id, f, want)
				}
				emit(ack{File: id})
			}
			prepare := func(k evKey) trove.Event {
				e := k.event(maxFile)
				if fid := k.fileID(); fid != "" {
					if r.files == nil {
						e.Files = nil
					} else {
						saveFile(fid)
					}
				}
				return e
			}
			for i := 0; ; i++ {
				op := rng.IntN(100)
				switch {
				case r.events == nil || op < 15 && r.files != nil:
					saveFile(fmt.Sprintf("s-r%dw%di%d", run, w, i))
				case op < 40 && r.links != nil && len(mine) > 0:
					src := mine[rng.IntN(len(mine))]
					target := fmt.Sprintf("t-r%dw%di%d", run, w, i)
					if err := r.links.SaveLink(ctx, trove.EventID{ID: src}, trove.EventLink{Type: "added", TargetEvent: trove.EventID{ID: target}}); err != nil {
						fail("save link %s→%s: %v", src, target, err)
					}
					emit(ack{Link: &ackLink{Source: src, Target: target}})
				case op < 65 && r.batch != nil:
					n := 2 + rng.IntN(5)
					evs := make([]trove.Event, n)
					for k := range evs {
						evs[k] = prepare(evKey{r: run, w: w, i: i, k: k, n: n})
					}
					saved, err := r.batch(ctx, evs)
					if err != nil {
						fail("save batch %s: %v", evKey{r: run, w: w, i: i, n: n}.batch(), err)
					}
					a := ack{}
					for _, e := range saved {
						a.Events = append(a.Events, ackEvent{ID: e.ID.ID, Position: e.Position})
						mine = append(mine, e.ID.ID)
					}
					emit(a)
				default:
					e, err := r.events.SaveEvent(ctx, prepare(evKey{r: run, w: w, i: i}))
					if err != nil {
						fail("save event %s: %v", evKey{r: run, w: w, i: i}.id(), err)
					}
					emit(ack{Events: []ackEvent{{ID: e.ID.ID, Position: e.Position}}})
					mine = append(mine, e.ID.ID)
				}
			}
		}()
	}
	wg.Wait()
	os.Exit(0) // unreachable: the writers never stop
}
