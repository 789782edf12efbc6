package sqlevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/trovedb/trove"
)

// Rows is what pgx.Rows and *sql.Rows share: a result read row by row.
// The caller closes it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Scanned is an event row whose schema is not resolved yet: the event's
// columns, and the key of its schema document.
type Scanned struct {
	Event    trove.Event
	SchemaPK int64
}

// Corrupt is the error of a stored event column that does not decode.
func Corrupt(id trove.EventID, column string, err error) error {
	return &trove.CorruptionError{File: "events", Offset: -1, Reason: fmt.Sprintf("event %s: column %s: %v", id, column, err)}
}

// Decode sets the columns of r.Event read as text: the payload, and the
// files, links and metadata JSON (nil: NULL, none).
func (r *Scanned) Decode(payload string, files, links, metadata *string) error {
	r.Event.Payload = json.RawMessage(payload)
	if files != nil {
		if err := json.Unmarshal([]byte(*files), &r.Event.Files); err != nil {
			return Corrupt(r.Event.ID, "files", err)
		}
	}
	if links != nil {
		if err := json.Unmarshal([]byte(*links), &r.Event.Links); err != nil {
			return Corrupt(r.Event.ID, "links", err)
		}
	}
	if metadata != nil {
		r.Event.Metadata = json.RawMessage(*metadata)
	}
	return nil
}

// Schemas caches parsed schema documents by key. Documents are never
// changed or deleted once committed, so entries never go stale. The zero
// value is ready.
type Schemas struct {
	m sync.Map // int64 -> trove.Schema
}

// Get returns the schema document pk, parsed, from the cache or else from
// load (which returns the document's text, or an error returned as it is).
func (c *Schemas) Get(pk int64, load func() (string, error)) (trove.Schema, error) {
	if sc, ok := c.Cached(pk); ok {
		return sc, nil
	}
	doc, err := load()
	if err != nil {
		return trove.Schema{}, err
	}
	return c.Put(pk, doc)
}

// Cached returns the schema document pk when it is cached.
func (c *Schemas) Cached(pk int64) (trove.Schema, bool) {
	v, ok := c.m.Load(pk)
	if !ok {
		return trove.Schema{}, false
	}
	return v.(trove.Schema), true
}

// Put parses doc, the schema document pk, and caches it. A document that
// does not parse is a *trove.CorruptionError.
func (c *Schemas) Put(pk int64, doc string) (trove.Schema, error) {
	sc, err := trove.NewSchema(json.RawMessage(doc))
	if err != nil {
		return trove.Schema{}, &trove.CorruptionError{File: "schema_docs", Offset: -1, Reason: fmt.Sprintf("document %d: %v", pk, err)}
	}
	c.m.Store(pk, sc)
	return sc, nil
}

// Resolve returns the events of rows, each with its schema from schema.
func Resolve(rows []Scanned, schema func(pk int64) (trove.Schema, error)) ([]trove.Event, error) {
	out := make([]trove.Event, len(rows))
	for i, r := range rows {
		sc, err := schema(r.SchemaPK)
		if err != nil {
			return nil, err
		}
		r.Event.Schema = sc
		out[i] = r.Event
	}
	return out, nil
}

// ReadLinks reads link rows (source id and version, type, target id and
// version, metadata or NULL) into links with their source set; what
// starts the text of its errors.
func ReadLinks(rows Rows, what string) ([]trove.EventLink, error) {
	out := []trove.EventLink{}
	for rows.Next() {
		var l trove.EventLink
		var src trove.EventID
		var metadata *string
		if err := rows.Scan(&src.ID, &src.Version, &l.Type, &l.TargetEvent.ID, &l.TargetEvent.Version, &metadata); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if metadata != nil {
			l.Metadata = []byte(*metadata)
		}
		l.SourceEvent = &src
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ReadSchemas reads registered-schema rows (id, version, document); what
// starts the text of its errors.
func ReadSchemas(rows Rows, what string) ([]trove.RegisteredSchema, error) {
	out := []trove.RegisteredSchema{}
	for rows.Next() {
		var rs trove.RegisteredSchema
		var doc string
		if err := rows.Scan(&rs.ID, &rs.Version, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		rs.Schema = []byte(doc)
		out = append(out, rs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// OrderBy renders the query's order as an ORDER BY clause when SQL
// compares exactly as trove.CompiledQuery.Compare does: every sort key an
// event column that cols names (sort field → SQL expression, one that
// compares as the contract does), ties in position order (posCol). native
// is false when a key has no column (a payload path).
func OrderBy(c *trove.CompiledQuery, cols map[string]string, posCol string) (clause string, native bool) {
	var b strings.Builder
	b.WriteString(` ORDER BY `)
	for _, k := range c.SortKeys() {
		col := cols[k.Field]
		if col == "" {
			return "", false
		}
		b.WriteString(col)
		if k.Desc {
			b.WriteString(` DESC`)
		}
		b.WriteString(`, `)
	}
	b.WriteString(posCol)
	return b.String(), true
}

// One returns the event of a row read for id: r as scanned, err the
// scan's error. A missing row (err is noRows, the driver's sentinel) is
// trove.ErrNotFound; pkg starts the error texts.
func One(pkg string, id trove.EventID, r Scanned, err, noRows error, resolve func([]Scanned) ([]trove.Event, error)) (trove.Event, error) {
	if errors.Is(err, noRows) {
		return trove.Event{}, NotFound(pkg, id)
	}
	if err != nil {
		return trove.Event{}, fmt.Errorf("%s: event %s: %w", pkg, id, err)
	}
	evs, err := resolve([]Scanned{r})
	if err != nil {
		return trove.Event{}, err
	}
	return evs[0], nil
}

// NotFound is the error of a get of an event version that is not stored.
func NotFound(pkg string, id trove.EventID) error {
	return fmt.Errorf("%w: %s: event %s", trove.ErrNotFound, pkg, id)
}

// LinkedEvents returns the events at the other end of links in direction
// dir, each once, in link order, skipping dangling ones (trove.LinkedEvents),
// loading each with load.
func LinkedEvents(links []trove.EventLink, dir trove.Direction, load func(trove.EventID) (trove.Event, error)) ([]trove.Event, error) {
	ends := make([]trove.EventID, len(links))
	for i, l := range links {
		ends[i] = trove.LinkEnd(*l.SourceEvent, l, dir)
	}
	return trove.LinkedEvents(ends, load)
}
