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
)

// pageSize is how many rows QueryEvents reads per statement.
const pageSize = 512

// QueryEvents narrows q with SQL — every filter that SQL can test, with
// bound parameters only — and then evaluates the compiled trove.Query on
// each row (MatchDecoded, Sort, Page), so the results are exactly the
// contract's whatever SQL did or did not filter. Everything is read inside
// one read transaction (one snapshot). With a limit and no sort, rows are
// read in position order, in pages, until offset+limit events matched.
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

	// With a limit and no sort, read in position order, page by page, and
	// stop once enough matched. Otherwise every match is needed: one
	// statement, no ORDER BY, so SQLite picks the most selective index.
	want := -1 // matches needed before stopping; -1: all
	if len(c.SortKeys()) == 0 && c.Limit() >= 0 {
		want = c.Offset() + c.Limit()
	}
	var stmt string
	if want >= 0 {
		stmt = `SELECT ` + cols + ` FROM events e WHERE e.position > ?` + where + ` ORDER BY e.position LIMIT ` + strconv.Itoa(min(pageSize, want))
	} else {
		stmt = `SELECT ` + cols + ` FROM events e WHERE 1` + where
	}
	var items []trove.Sortable
	after := uint64(0)
	for {
		stmtArgs := args
		if want >= 0 {
			stmtArgs = append([]any{after}, args...)
		}
		rows, err := tx.QueryContext(ctx, stmt, stmtArgs...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: query: %w", err)
		}
		var page []scanned
		var pageLinks [][]trove.EventLink
		for rows.Next() {
			var sr scanned
			if withLinks {
				var raw string
				sr, err = scanEvent(scanWithExtra{rows, &raw})
				if err == nil {
					var ls []trove.EventLink
					if jerr := json.Unmarshal([]byte(raw), &ls); jerr != nil {
						err = corrupt(sr.ev.ID, "links", jerr)
					}
					pageLinks = append(pageLinks, ls)
				}
			} else {
				sr, err = scanEvent(rows)
			}
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: query: %w", err)
			}
			page = append(page, sr)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: query: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: query: %w", err)
		}
		events, err := s.resolve(ctx, tx, page)
		if err != nil {
			return nil, err
		}
		for i := range events {
			e := &events[i]
			var links []trove.EventLink
			if withLinks {
				links = pageLinks[i]
			}
			var payload any
			if c.NeedsPayload() {
				if payload, err = trove.DecodePayload(e.Payload); err != nil {
					return nil, corrupt(e.ID, "payload", err)
				}
			}
			if !c.MatchDecoded(e, payload, links) {
				continue
			}
			items = append(items, trove.Sortable{Event: *e, Payload: payload})
			if want >= 0 && len(items) >= want {
				break
			}
		}
		if want < 0 || len(page) < min(pageSize, want) || len(items) >= want {
			break
		}
		after = page[len(page)-1].ev.Position
	}
	c.Sort(items)
	events := make([]trove.Event, len(items))
	for i := range items {
		events[i] = items[i].Event
	}
	return c.Page(events), nil
}

// scanWithExtra scans eventCols plus one more string column.
type scanWithExtra struct {
	rows  *sql.Rows
	extra *string
}

func (s scanWithExtra) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra)...) }

// whereClause renders the query's filters as SQL over events e, every value
// a bound parameter. It may select more rows than match (what SQL cannot
// test exactly is left to trove.Query), never fewer.
func whereClause(c *trove.Query) (string, []any) {
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
	// created_at is stored in trove.TimeLayout: fixed width, so text order
	// is time order for the years 0000-9999.
	if hasStart && start.Year() >= 0 && start.Year() <= 9999 {
		b.WriteString(` AND e.created_at >= ?`)
		args = append(args, trove.FormatTime(start))
	}
	if hasEnd && end.Year() >= 0 && end.Year() <= 9999 {
		b.WriteString(` AND e.created_at <= ?`)
		args = append(args, trove.FormatTime(end))
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
	for _, t := range c.PayloadTerms() {
		path, ok := jsonPath(t.Keys)
		if !ok {
			continue // trove.Query tests it
		}
		switch v := t.Value.(type) {
		case nil:
			b.WriteString(` AND json_type(e.payload, ?) = 'null'`)
			args = append(args, path)
		case bool:
			b.WriteString(` AND json_type(e.payload, ?) = ?`)
			args = append(args, path, strconv.FormatBool(v))
		case string:
			b.WriteString(` AND json_type(e.payload, ?) = 'text' AND json_extract(e.payload, ?) = ?`)
			args = append(args, path, path, v)
		case json.Number:
			b.WriteString(` AND json_type(e.payload, ?) IN ('integer', 'real')`)
			args = append(args, path)
			if f, ok := exactFloat(v); ok {
				b.WriteString(` AND json_extract(e.payload, ?) = ?`)
				args = append(args, path, f)
			}
		}
	}
	return b.String(), args
}

// jsonPath renders keys as an SQLite JSON path with every key quoted:
// $."a"."b". A key holding a double quote, a backslash or a control
// character cannot be written in SQLite's path syntax; ok is false then and
// the term is left to trove.Query.
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
// value); otherwise only the type is filtered in SQL.
func exactFloat(n json.Number) (float64, bool) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, false
	}
	f, exact := r.Float64()
	if !exact || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return f, true
}
