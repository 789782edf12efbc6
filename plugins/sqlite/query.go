package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// QueryEvents narrows q with SQL — every filter that SQL can test, with
// bound parameters only — and then evaluates the compiled trove.CompiledQuery on
// each row (MatchDecoded, Sort, Page), so the results are exactly the
// contract's whatever SQL did or did not filter. Everything is read in one
// statement inside one read transaction (one snapshot).
func (s *Store) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	_, r, err := s.pools("query")
	if err != nil {
		return nil, err
	}
	c, err := q.Compile()
	if err != nil {
		return nil, err
	}
	if c.MatchesNothing() {
		return []trove.Event{}, nil
	}
	where, args := whereClause(c)
	withLinks := len(c.LinkCriteria()) > 0
	cols := eventCols
	if withLinks {
		cols += `, (SELECT json_group_array(json_object('type', l.type, 'targetEvent', json_object('id', l.target_id, 'version', l.target_version)))
	FROM links l WHERE l.source_id = e.id AND l.source_version = e.version)`
	}
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	defer tx.Rollback()
	// Every schema document of this snapshot is cached before the rows
	// stream, so no second statement runs while they are open.
	if err := s.loadSchemas(ctx, tx); err != nil {
		return nil, err
	}

	// With a limit and an order SQL can produce exactly as trove.CompiledQuery
	// compares (no sort, or sorts on event columns only), rows stream in
	// that order: the first offset matches are counted and dropped, the
	// next limit kept, and reading stops there. Otherwise every match is
	// needed: no ORDER BY, so SQLite picks the most selective index, and
	// the Query sorts and pages.
	order, native := orderBy(c)
	stmt := `SELECT ` + cols + ` FROM events e WHERE 1` + where
	pg := pager{skip: -1, keep: -1}
	if native && c.Limit() >= 0 {
		pg = pager{skip: c.Offset(), keep: c.Limit()}
		stmt += order
	}
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	defer rows.Close()
	var items []trove.Sortable
	for !pg.full() && rows.Next() {
		var sr scanned
		var links []trove.EventLink
		if withLinks {
			var raw string
			sr, err = scanEvent(scanWithExtra{rows, &raw})
			if err == nil {
				if jerr := json.Unmarshal([]byte(raw), &links); jerr != nil {
					err = corrupt(sr.Event.ID, "links", jerr)
				}
			}
		} else {
			sr, err = scanEvent(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: query: %w", err)
		}
		e := sr.Event
		sc, ok := s.schemas.Cached(sr.SchemaPK)
		if !ok {
			return nil, &trove.CorruptionError{File: "events", Offset: -1, Reason: fmt.Sprintf("event %s: unknown schema document %d", e.ID, sr.SchemaPK)}
		}
		e.Schema = sc
		var payload any
		if c.NeedsPayload() {
			if payload, err = trove.DecodePayload(e.Payload); err != nil {
				return nil, corrupt(e.ID, "payload", err)
			}
		}
		if !c.MatchDecoded(&e, payload, links) {
			continue
		}
		if pg.take() {
			items = append(items, trove.Sortable{Event: e, Payload: payload})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	events := make([]trove.Event, len(items))
	if pg.skip >= 0 {
		// Already the page, in order.
		for i := range items {
			events[i] = items[i].Event
		}
		return events, nil
	}
	c.Sort(items) // stable: rows already in order stay so
	for i := range items {
		events[i] = items[i].Event
	}
	return c.Page(events), nil
}

// pager pages rows that arrive in the query's final order without holding
// the ones before the page: skip matches are dropped, then keep are kept.
// Counting down, never adding offset and limit, it cannot overflow: an
// offset near math.MaxInt drops every match and holds none. skip < 0 means
// no paging here (every match is kept; the Query pages after sorting).
type pager struct {
	skip int // matches still to drop; -1: page later
	keep int // matches still to keep; -1: all
}

// full reports whether the page is complete: no more row is needed.
func (p *pager) full() bool { return p.skip >= 0 && p.keep == 0 }

// take counts one match and reports whether to keep it.
func (p *pager) take() bool {
	switch {
	case p.skip < 0:
		return true
	case p.skip > 0:
		p.skip--
		return false
	default:
		p.keep--
		return true
	}
}

// orderBy renders the query's order as SQL when it compares exactly as
// trove.CompiledQuery.Compare does: event columns only (text compared bytewise,
// createdAt as integer milliseconds), ties in position order. native is
// false when a key is a payload path.
func orderBy(c *trove.CompiledQuery) (clause string, native bool) {
	return sqlevents.OrderBy(c, sortColumns, `e.position`)
}

// sortColumns are the event columns of the sort fields (SQLite compares
// text bytewise).
var sortColumns = map[string]string{
	"createdAt": "e.created_ms", "producer": "e.producer", "schema": "e.schema_id",
	"id": "e.id", "version": "e.version", "position": "e.position",
}

// loadSchemas caches every schema document newer than those cached. Rows of
// schema_docs are never changed or deleted and their keys only grow.
func (s *Store) loadSchemas(ctx context.Context, q querier) error {
	s.schemaLoad.Lock()
	defer s.schemaLoad.Unlock()
	rows, err := q.QueryContext(ctx, `SELECT schema_pk, doc FROM schema_docs WHERE schema_pk > ? ORDER BY schema_pk`, s.schemaMax)
	if err != nil {
		return fmt.Errorf("sqlite: schema documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pk int64
		var doc string
		if err := rows.Scan(&pk, &doc); err != nil {
			return fmt.Errorf("sqlite: schema documents: %w", err)
		}
		if _, err := s.schemas.Put(pk, doc); err != nil {
			return err
		}
		s.schemaMax = pk
	}
	return rows.Err()
}

// scanWithExtra scans eventCols plus one more string column.
type scanWithExtra struct {
	rows  *sql.Rows
	extra *string
}

func (s scanWithExtra) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra)...) }

// whereClause renders the query's filters as SQL over events e, every value
// a bound parameter. It may select more rows than match (what SQL cannot
// test exactly is left to trove.CompiledQuery), never fewer.
func whereClause(c *trove.CompiledQuery) (string, []any) {
	var b strings.Builder
	var args []any
	if !c.AllVersions() {
		b.WriteString(` AND e.latest = 1`)
	}
	in := func(col string, set map[string]bool) {
		if set == nil {
			return
		}
		b.WriteString(` AND ` + col + ` IN (`)
		first := true
		for v := range set {
			if !first {
				b.WriteString(`, `)
			}
			first = false
			b.WriteString(`?`)
			args = append(args, v)
		}
		b.WriteString(`)`)
	}
	in(`e.schema_id`, c.Schemas())
	in(`e.producer`, c.Producers())
	start, hasStart, end, hasEnd := c.TimeBounds()
	// created_ms holds createdAt as Unix milliseconds; a bound with
	// sub-millisecond digits rounds down, which keeps every match.
	if hasStart {
		b.WriteString(` AND e.created_ms >= ?`)
		args = append(args, start.UnixMilli())
	}
	if hasEnd {
		b.WriteString(` AND e.created_ms <= ?`)
		args = append(args, end.UnixMilli())
	}
	for _, cr := range c.LinkCriteria() {
		// A row-value IN lets SQLite drive the query from the links
		// indexes.
		b.WriteString(` AND (e.id, e.version) IN (SELECT l.source_id, l.source_version FROM links l WHERE 1`)
		if cr.Type != "" {
			b.WriteString(` AND l.type = ?`)
			args = append(args, cr.Type)
		}
		if cr.TargetEvent != nil && cr.TargetEvent.ID != "" {
			b.WriteString(` AND l.target_id = ?`)
			args = append(args, cr.TargetEvent.ID)
		}
		b.WriteString(`)`)
	}
	// SQLite's JSON functions fail ("malformed JSON") on a document nested
	// deeper than their limit (1000 levels), which a valid payload may be.
	// The payload terms are therefore evaluated only where json_valid says
	// SQLite can read the payload (CASE fixes that order); any other row
	// stays a candidate and trove.CompiledQuery decides it exactly.
	var terms strings.Builder
	for _, t := range c.PayloadTerms() {
		path, ok := jsonPath(t.Keys)
		if !ok {
			continue // trove.CompiledQuery tests it
		}
		switch v := t.Value.(type) {
		case nil:
			terms.WriteString(` AND json_type(e.payload, ?) = 'null'`)
			args = append(args, path)
		case bool:
			terms.WriteString(` AND json_type(e.payload, ?) = ?`)
			args = append(args, path, strconv.FormatBool(v))
		case string:
			// json_extract gives TEXT for a JSON string, and a TEXT bound
			// value never equals a number. An object or array equal to the
			// string as JSON text gets through; trove.CompiledQuery drops it.
			terms.WriteString(` AND json_extract(e.payload, ?) = ?`)
			args = append(args, path, v)
		case json.Number:
			if f, ok := exactFloat(v); ok {
				// Numbers compare numerically (1 = 1.0) and never equal
				// TEXT; a boolean (1 or 0) gets through and trove.CompiledQuery
				// drops it.
				terms.WriteString(` AND json_extract(e.payload, ?) = ?`)
				args = append(args, path, f)
			} else {
				terms.WriteString(` AND json_type(e.payload, ?) IN ('integer', 'real')`)
				args = append(args, path)
			}
		}
	}
	if terms.Len() > 0 {
		b.WriteString(` AND CASE WHEN json_valid(e.payload) THEN 1`)
		b.WriteString(terms.String())
		b.WriteString(` ELSE 1 END`)
	}
	return b.String(), args
}

// jsonPath renders keys as an SQLite JSON path with every key quoted:
// $."a"."b". A key holding a double quote, a backslash or a control
// character cannot be written in SQLite's path syntax; ok is false then and
// the term is left to trove.CompiledQuery.
func jsonPath(keys []string) (string, bool) {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		for _, r := range k {
			if r == '"' || r == '\\' || r < 0x20 {
				return "", false
			}
		}
		b.WriteString(`."`)
		b.WriteString(k)
		b.WriteString(`"`)
	}
	return b.String(), true
}

// exactFloat returns n as a float64 when that is exact and within ±2^53
// (where SQLite's integer and real comparisons agree with the numeric
// value); otherwise only the type is filtered in SQL, a superset that
// trove.CompiledQuery then narrows by comparing every candidate exactly. Only
// numbers whose canonical form is at most 64 bytes with an exponent within
// ±400 are tried, so that a number like 1e999999 costs no more than its
// text.
func exactFloat(n json.Number) (float64, bool) {
	c, ok := trove.CanonicalNumber(string(n))
	if !ok || len(c) > 64 {
		return 0, false
	}
	if _, exp, sci := strings.Cut(c, "e"); sci {
		if x, err := strconv.Atoi(exp); err != nil || x < -400 || x > 400 {
			return 0, false
		}
	}
	r, ok := new(big.Rat).SetString(c)
	if !ok {
		return 0, false
	}
	f, exact := r.Float64()
	if !exact || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return f, true
}
