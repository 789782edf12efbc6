package trove

import (
	"context"
	"errors"
	"sync"
)

// FileDeleter is implemented by file storages that can take a file back.
// The Core uses it so that an event or batch it refuses leaves no file
// behind: the files such a request stored, and only those, are deleted
// again (see Core.CreateEvents). Every file storage in this module
// implements it; without it, the files of a refused request stay stored.
type FileDeleter interface {
	// DeleteFile removes file id: its metadata and its bytes. A bad id is
	// ErrInvalid; ErrNotFound when absent. Readers already open may finish
	// reading. After it returns the id may be saved again, with any bytes.
	DeleteFile(ctx context.Context, id string) error
}

// WithPlugin makes Open use p for the roles whose config names plugin
// name, instead of making one from the registry: a program that built its
// plugin itself (or a test) passes it here. Open initializes it and
// Shutdown shuts it down, as for any other.
func WithPlugin(name string, p Plugin) Option {
	return func(c *Core) {
		if c.given == nil {
			c.given = map[string]Plugin{}
		}
		c.given[name] = p
	}
}

// refused reports whether err from an event storage's save says that
// nothing was saved: the input was invalid, conflicted or named something
// absent. Any other error (an I/O failure, a cancelled wait for a group
// commit, a closed store) leaves the outcome unknown, so the files the
// event references are kept.
func refused(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
}

// fileClaims tracks the file ids that requests of this Core are saving,
// so that a refused request deletes only a file it created and that no
// other request of this Core stored or referenced meanwhile.
//
// A request claims an id before saving it. The first claimant looks the id
// up before anyone saves it: found, the file existed before and is never
// deleted. Later claimants of the same id (another event, or a plain
// SaveFile, sending the same id at the same moment) share the claim. When
// the last claimant lets go, the file is deleted only if it did not exist
// before, no claimant succeeded, and no claimant ended with an unknown
// outcome. A new claim of an id being deleted waits for the delete.
//
// The claims are per Core: several processes saving the same file id with
// the same bytes at the same moment into one shared file storage (an S3
// bucket) cannot see each other's claims, and the one whose request is
// refused may delete a file the other's event references. Unique file ids
// (the generated ones are) never meet this.
type fileClaims struct {
	mu struct {
		sync.Mutex
		m map[string]*fileClaim // guarded by mu
	}
}

// fileClaim is the claim on one file id.
type fileClaim struct {
	id      string
	probed  chan struct{} // closed once the first claimant looked the id up
	created bool          // the id was absent before the claim (written before probed closes)
	holders int           // claimants not done yet; guarded by fileClaims.mu
	keep    bool          // a claimant succeeded or ended unsure; guarded by fileClaims.mu
	gone    chan struct{} // non-nil while the file is being deleted; closed after
}

// claim claims file id for a save through fs. It returns once the claim
// knows whether the file existed before. The caller must call release.
func (fc *fileClaims) claim(ctx context.Context, fs FileStorage, id string) (*fileClaim, error) {
	for {
		fc.mu.Lock()
		if fc.mu.m == nil {
			fc.mu.m = map[string]*fileClaim{}
		}
		c, ok := fc.mu.m[id]
		if ok && c.gone != nil {
			gone := c.gone
			fc.mu.Unlock()
			select {
			case <-gone:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if ok {
			c.holders++
			fc.mu.Unlock()
			select {
			case <-c.probed:
				return c, nil
			case <-ctx.Done():
				fc.release(ctx, nil, c, false)
				return nil, ctx.Err()
			}
		}
		c = &fileClaim{id: id, probed: make(chan struct{}), holders: 1}
		fc.mu.m[id] = c
		fc.mu.Unlock()
		_, err := fs.GetFile(ctx, id)
		c.created = errors.Is(err, ErrNotFound)
		close(c.probed)
		return c, nil
	}
}

// release ends one claimant's hold. keep says the file must stay: the
// claimant succeeded, or cannot tell whether what references the file was
// saved. The last claimant deletes a file the claims created and nobody
// kept, through del (nil when the storage cannot delete); a failed delete
// is logged by report and leaves the file stored.
func (fc *fileClaims) release(ctx context.Context, del FileDeleter, c *fileClaim, keep bool) error {
	fc.mu.Lock()
	if keep {
		c.keep = true
	}
	c.holders--
	if c.holders > 0 || c.keep || !c.created || del == nil {
		if c.holders == 0 {
			delete(fc.mu.m, c.id)
		}
		fc.mu.Unlock()
		return nil
	}
	c.gone = make(chan struct{})
	fc.mu.Unlock()
	err := del.DeleteFile(context.WithoutCancel(ctx), c.id)
	if errors.Is(err, ErrNotFound) {
		err = nil // the save never stored it
	}
	fc.mu.Lock()
	delete(fc.mu.m, c.id)
	close(c.gone)
	fc.mu.Unlock()
	return err
}
