package trove

import (
	"context"
	"io"
	"slices"
)

// Capability names a role a plugin can serve.
type Capability string

// The three storage roles.
const (
	CapEvents Capability = "storage:events"
	CapFiles  Capability = "storage:files"
	CapLinks  Capability = "storage:links"
)

// Plugin is a storage backend. A plugin serves the roles its Capabilities
// list, by implementing EventStorage, FileStorage and LinkStorage as it
// says. Every method of a plugin is safe for concurrent use. After Shutdown
// every call returns an error wrapping ErrClosed.
type Plugin interface {
	Name() string
	Capabilities() []Capability
	// Initialize opens the plugin's resources. core is the Core the plugin
	// serves, or nil when the plugin is used on its own.
	Initialize(ctx context.Context, core *Core) error
	// Shutdown flushes and releases everything; it is safe to call twice.
	Shutdown(ctx context.Context) error
}

// HasCapability reports whether p lists c.
func HasCapability(p Plugin, c Capability) bool { return slices.Contains(p.Capabilities(), c) }

// EventStorage stores events.
type EventStorage interface {
	// SaveEvent saves e after filling its defaults (Prepare) and returns the
	// stored event. A saved event is durable when SaveEvent returns, unless
	// the backend's documentation says otherwise. Saving an (id, version)
	// that exists returns the stored event if e is the same event
	// (SameEvent), else ErrConflict; a new version must be exactly latest+1,
	// else ErrConflict. Inline file data is not handled here: the Core moves
	// it to file storage first.
	SaveEvent(ctx context.Context, e Event) (Event, error)
	// GetEvent returns the latest version when id.Version is 0, else that
	// version; ErrNotFound when absent.
	GetEvent(ctx context.Context, id EventID) (Event, error)
	// QueryEvents returns the events matching q (see EventQuery); a bad
	// query is ErrInvalid. Results are complete as soon as a save returned.
	QueryEvents(ctx context.Context, q EventQuery) ([]Event, error)
}

// FileStorage stores file bytes and their metadata.
type FileStorage interface {
	// SaveFile streams data into storage under f.ID and returns the stored
	// metadata, with Size and Hash computed from the bytes. A bad id is
	// ErrInvalid; a non-empty f.Hash that does not match the bytes is
	// ErrInvalid and stores nothing. Saving an existing id with the same
	// bytes returns the stored metadata; with other bytes ErrConflict.
	SaveFile(ctx context.Context, f EventFile, data io.Reader) (EventFile, error)
	// GetFile returns a file's metadata; ErrNotFound when absent.
	GetFile(ctx context.Context, id string) (EventFile, error)
	// GetFileData streams a file's bytes; the caller closes the reader. When
	// the reader also implements io.Seeker, callers may serve ranges.
	GetFileData(ctx context.Context, id string) (io.ReadCloser, error)
}

// Direction selects outgoing or incoming links.
type Direction string

// Link directions.
const (
	Outgoing Direction = "out"
	Incoming Direction = "in"
)

// LinkOptions filter GetLinks and GetLinkedEvents.
type LinkOptions struct {
	Type      string    // only links of this type; "" for all
	Direction Direction // "" or Outgoing: links from the event; Incoming: links to it
}

// LinkStorage stores links between events. A plugin that serves links also
// serves events: queries filter on links, so both live in one store.
//
// Links go out from one exact event version: SaveLink with Version 0 attaches
// the link to the latest version. The outgoing links of an event version are
// the links saved with it followed by those added with SaveLink, in the order
// they were saved. The incoming links of an id are every link, from any
// event version, whose target has that id (and, when both pin a version, the
// same version), in save order.
type LinkStorage interface {
	// SaveLink adds an outgoing link to source; ErrNotFound when the source
	// event does not exist, ErrInvalid for a link without type or target.
	SaveLink(ctx context.Context, source EventID, link EventLink) error
	// GetLinks lists links of id in the order they were saved, each with
	// SourceEvent set. ErrNotFound when id does not exist for outgoing links;
	// incoming links of an unknown id is an empty list.
	GetLinks(ctx context.Context, id EventID, opts LinkOptions) ([]EventLink, error)
	// GetLinkedEvents returns the events at the other end of GetLinks, each
	// once, in link order: a target's latest version unless the link pins
	// one; for incoming links the exact source version. Dangling targets are
	// skipped.
	GetLinkedEvents(ctx context.Context, id EventID, opts LinkOptions) ([]Event, error)
}

// Tx is a transaction: events saved in it are visible to nobody until
// Commit, and all at once then. Rollback discards them.
type Tx interface {
	// SaveEvent stages e and returns it prepared, without a position.
	// Conflicts with stored events or with events staged earlier are
	// reported here and again at Commit.
	SaveEvent(ctx context.Context, e Event) (Event, error)
	// Commit makes every staged event durable and visible atomically and
	// returns them with their positions; ErrConflict when another writer got
	// there first, and then nothing is saved.
	Commit(ctx context.Context) ([]Event, error)
	// Rollback discards the staged events. It is safe after Commit (a no-op).
	Rollback(ctx context.Context) error
}

// Transactional is implemented by event storages that offer transactions.
type Transactional interface {
	Begin(ctx context.Context) (Tx, error)
}

// BatchSaver is implemented by event storages that save many events
// atomically: all are saved or, on any error, none is.
type BatchSaver interface {
	SaveEvents(ctx context.Context, events []Event) ([]Event, error)
}

// Subscriber is implemented by event storages that stream their log.
type Subscriber interface {
	// Subscribe calls fn with every stored event whose position is greater
	// than from, in position order, then with each event as it commits, with
	// no gap and no duplicate, until ctx is done (it then returns ctx.Err()),
	// fn returns an error (returned as is), or the store shuts down (an
	// error wrapping ErrClosed).
	Subscribe(ctx context.Context, from uint64, fn func(Event) error) error
}

// Replayer is implemented by event storages that read their log in order.
type Replayer interface {
	// Replay calls fn with every stored event whose position is greater than
	// from, in position order, up to the last event committed when Replay
	// was called, then returns nil. An error from fn stops it and is
	// returned.
	Replay(ctx context.Context, from uint64, fn func(Event) error) error
}

// ValidateFileID checks a file id: 1–128 characters of [A-Za-z0-9._-], not
// "." or "..". Errors wrap ErrInvalid.
func ValidateFileID(id string) error {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return invalidf("file id %q: must be 1-128 characters of [A-Za-z0-9._-], not . or ..", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return invalidf("file id %q: must be 1-128 characters of [A-Za-z0-9._-], not . or ..", id)
		}
	}
	return nil
}
