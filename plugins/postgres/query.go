package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
	"github.com/trovedb/trove/query"
)

// Page sizes of paged reads: the first page is what is still wanted (at
// least minQueryPage), each next one twice the last, at most maxQueryPage,
// so a selective index with few rejected candidates needs one small read.
const (
	minQueryPage = 16
	maxQueryPage = 4096
)

// QueryEvents narrows q with SQL that indexes serve — schema, producer,
// time, links, payload equality (jsonb containment, GIN) and search
// (tsvector, GIN) — and evaluates the compiled trove.CompiledQuery on every
// candidate (MatchDecoded, Sort, Page), so the results are exactly the
// contract's whatever SQL did or did not filter. All reads run in one
// REPEATABLE READ transaction (one snapshot). In position order with a
// limit, candidates are read in keyset pages (position > last seen) until
// offset+limit matched; never by a growing OFFSET.
func (s *Store) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	pool, err := s.reader(ctx, "query")
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
	w := whereClause(c, false)
	m := query.NewMatcher(c)              // verifies every candidate
	finish := func() error { return nil } // ends the snapshot, if any
	withLinks := len(c.LinkCriteria()) > 0
	cols := eventCols
	if withLinks {
		cols += `, (SELECT coalesce(json_agg(json_build_object('type', l.type, 'targetEvent', json_build_object('id', l.target_id, 'version', l.target_version)) ORDER BY l.seq), '[]')::text
	FROM links l WHERE l.source_id = e.id AND l.source_version = e.version)`
	}
	keyset, desc := positionOrder(c)
	order, native := orderBy(c)
	want := -1 // matches needed before stopping; -1: all
	if (keyset || native) && c.Limit() >= 0 {
		want = c.Offset() + c.Limit()
	}
	// Another order SQL produces exactly as trove.CompiledQuery compares (event
	// columns) streams from a cursor, a page per FETCH.
	cursor := !keyset && native && want >= 0
	walk := keyset && want >= 0 && w.walkable
	if keyset && want >= 0 && !walk {
		// A first keyset page that answers the query is one statement,
		// so one snapshot: it needs no transaction, and takes one round
		// trip instead of three. Otherwise the query is read again, in a
		// snapshot.
		size := min(max(want, minQueryPage), maxQueryPage)
		stmt, args := pageStatement(cols, w, true, desc, -1, size)
		page, linkSets, err := s.readRows(ctx, pool, stmt, args, withLinks)
		if err != nil {
			return nil, err
		}
		items, err := s.matches(ctx, pool, m, page, linkSets)
		if err != nil {
			return nil, err
		}
		if len(page) < size || len(items) >= want {
			return sortedPage(c, items), nil
		}
	}
	// Reads of several statements share one snapshot: a REPEATABLE READ
	// transaction, begun in the round trip that reads the head. A query
	// of one statement needs none (schema documents, read apart, never
	// change).
	var tx querier = pool
	var head int64
	// A walk in ascending order reads its first window with the head:
	// positions past the head are not in the snapshot, so the window
	// needs no bound from it.
	var first *firstRead
	if walk && !desc {
		first = s.firstWalkRead(c, cols, want)
	}
	if keyset && want >= 0 || cursor {
		conn, h, err := beginSnapshot(ctx, pool, first)
		if err != nil {
			return nil, err
		}
		committed := false
		defer func() {
			if !committed {
				_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
			}
			conn.Release()
		}()
		tx, head = conn, h
		finish = func() error {
			if _, err := conn.Exec(ctx, `COMMIT`); err != nil {
				return err
			}
			committed = true
			return nil
		}
	}
	// pgx caches each statement's result shape by its text, so the two
	// shapes (with and without the links column) use two cursor names.
	cursorName := "trove_query"
	if withLinks {
		cursorName = "trove_query_links"
	}
	if cursor {
		if _, err := tx.Exec(ctx, `DECLARE `+cursorName+` NO SCROLL CURSOR FOR SELECT `+cols+` FROM events e WHERE true`+w.sql+order, w.args...); err != nil {
			return nil, fmt.Errorf("postgres: query: %w", err)
		}
	}
	var items []trove.Sortable
	// keep evaluates a page of candidates and keeps the matches.
	keep := func(page []scanned, linkSets [][]trove.EventLink) error {
		got, err := s.matches(ctx, tx, m, page, linkSets)
		items = append(items, got...)
		return err
	}
	var last int64 = -1 // the last position read; -1: none yet
	done := false
	if walk {
		last, done, err = s.walk(ctx, tx, c, cols, desc, head, want, first, func() int { return len(items) }, keep)
		if err != nil {
			return nil, err
		}
	}
	size := 0 // the page size
	for !done {
		size = min(max(2*size, want-len(items), minQueryPage), maxQueryPage)
		paged := keyset && want >= 0
		stmt, args := pageStatement(cols, w, paged, desc, last, size)
		if cursor {
			paged, stmt, args = true, `FETCH `+strconv.Itoa(size)+` FROM `+cursorName, nil
		}
		page, linkSets, err := s.readRows(ctx, tx, stmt, args, withLinks)
		if err != nil {
			return nil, err
		}
		if err := keep(page, linkSets); err != nil {
			return nil, err
		}
		if !paged || len(page) < size || len(items) >= want {
			break
		}
		last = int64(page[len(page)-1].Event.Position)
	}
	if err := finish(); err != nil {
		return nil, fmt.Errorf("postgres: query: %w", err)
	}
	return sortedPage(c, items), nil
}

// matches evaluates a page of candidates (with their links when the
// query has link criteria) with the query's Matcher and returns those
// that match, as the engine verifies its own (payload terms on the raw
// payload). A
// payload that does not decode matches nothing; Check reports it.
func (s *Store) matches(ctx context.Context, q querier, m *query.Matcher, page []scanned, linkSets [][]trove.EventLink) ([]trove.Sortable, error) {
	events, err := s.resolve(ctx, q, page)
	if err != nil {
		return nil, err
	}
	var items []trove.Sortable
	for i := range events {
		e := events[i]
		var links []trove.EventLink
		if linkSets != nil {
			links = linkSets[i]
		}
		if it, ok := m.Match(e, links); ok {
			items = append(items, it)
		}
	}
	return items, nil
}

// sortedPage sorts the matches in the query's order and returns its page.
func sortedPage(c *trove.CompiledQuery, items []trove.Sortable) []trove.Event {
	c.Sort(items) // stable: rows already in order stay so
	events := make([]trove.Event, len(items))
	for i := range items {
		events[i] = items[i].Event
	}
	return c.Page(events)
}

// firstRead is a statement read with the head when a snapshot begins.
type firstRead struct {
	stmt string
	args []any
	rows []scanned
	// For a walk's first window (firstWalkRead): the walk's filter and its
	// rate key, the window it reads, (lo, hi] (hi not cut at the head),
	// and whether by position buckets.
	w       where
	key     uint64
	lo, hi  int64
	buckets bool
}

// beginSnapshot begins a REPEATABLE READ, read-only transaction on a
// connection of pool and reads the head in it, in one round trip. The
// caller ends it (COMMIT or ROLLBACK) and releases the connection.
//
// With first, its statement is read in the same round trip, in the
// snapshot, and its rows are left in first.rows.
func beginSnapshot(ctx context.Context, pool *pgxpool.Pool, first *firstRead) (*pgxpool.Conn, int64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: query: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	b.Queue(`SELECT position FROM head WHERE id = 1`)
	if first != nil {
		b.Queue(first.stmt, first.args...)
	}
	var head int64
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&head)
	}
	if err == nil && first != nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			first.rows, _, err = scanRows(rows, false)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		conn.Release()
		return nil, 0, fmt.Errorf("postgres: query: %w", err)
	}
	return conn, head, nil
}

// orderBy renders the query's order as SQL when it compares exactly as
// trove.CompiledQuery.Compare does: event columns only (text bytewise, createdAt as
// milliseconds), ties in position order. native is false when a key is a
// payload path.
func orderBy(c *trove.CompiledQuery) (clause string, native bool) {
	return sqlevents.OrderBy(c, sortColumns, `e.position`)
}

// sortColumns are the event columns of the sort fields; text in bytewise
// order (COLLATE "C"), as trove.CompiledQuery compares strings.
var sortColumns = map[string]string{
	"createdAt": "e.created_ms", "producer": `e.producer COLLATE "C"`, "schema": `e.schema_id COLLATE "C"`,
	"id": `e.id COLLATE "C"`, "version": "e.version", "position": "e.position",
}

// pageStatement is the statement reading candidates: all of them, or
// (paged) the next size in position order after position last (-1: from
// the start).
func pageStatement(cols string, w where, paged, desc bool, last int64, size int) (string, []any) {
	stmt := `SELECT ` + cols + ` FROM events e WHERE true` + w.sql
	args := w.args
	if !paged {
		return stmt, args
	}
	dir, op := ``, `>`
	if desc {
		dir, op = ` DESC`, `<`
	}
	if last >= 0 {
		args = append(args[:len(args):len(args)], last)
		stmt += ` AND e.position ` + op + ` $` + strconv.Itoa(len(args))
	}
	key := `e.position`
	if w.gin {
		key = `(e.position + 0)`
	}
	return stmt + ` ORDER BY ` + key + dir + ` LIMIT ` + strconv.Itoa(size), args
}

// readRows runs stmt and scans every row (eventCols, plus the links
// column when withLinks).
func (s *Store) readRows(ctx context.Context, q querier, stmt string, args []any, withLinks bool) ([]scanned, [][]trove.EventLink, error) {
	rows, err := q.Query(ctx, stmt, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: query: %w", err)
	}
	return scanRows(rows, withLinks)
}

// scanRows scans and closes rows (eventCols, plus the links column when
// withLinks).
func scanRows(rows pgx.Rows, withLinks bool) ([]scanned, [][]trove.EventLink, error) {
	defer rows.Close()
	var err error
	var page []scanned
	var linkSets [][]trove.EventLink
	for rows.Next() {
		var sr scanned
		if withLinks {
			var raw string
			sr, err = scanEvent(rows, &raw)
			if err == nil {
				var links []trove.EventLink
				if jerr := json.Unmarshal([]byte(raw), &links); jerr != nil {
					return nil, nil, corrupt(sr.Event.ID, "links", jerr)
				}
				linkSets = append(linkSets, links)
			}
		} else {
			sr, err = scanEvent(rows)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: query: %w", err)
		}
		page = append(page, sr)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: query: %w", err)
	}
	return page, linkSets, nil
}

// positionOrder reports whether the query's order is position order (no
// sort, or position alone), and which direction.
func positionOrder(c *trove.CompiledQuery) (ok, desc bool) {
	keys := c.SortKeys()
	switch {
	case len(keys) == 0:
		return true, false
	case len(keys) == 1 && keys[0].Field == "position":
		return true, keys[0].Desc
	}
	return false, false
}

// where is a rendered filter: SQL starting with " AND", and its bound
// values ($1 … in order).
type where struct {
	sql  string
	args []any
	// gin is set when a payload or search term narrows through a GIN
	// index, or a link criterion through the links table. PostgreSQL has
	// no statistics for jsonb containment or tsquery matches (it assumes
	// 1% of the rows) nor for which events a target's links come from, so
	// with a small limit it would walk the primary key in position order
	// and test every row — a scan of the whole table for a rare value.
	// Paged reads then order by an expression of the position, which no
	// index provides, so the narrowing index finds the candidates and only
	// they are sorted.
	gin bool
	// walkable is set when gin comes from payload or search terms alone
	// (no link criterion): a limited query in position order may then
	// walk the log in position windows first (see walk).
	walkable bool
	// bucketDoc is the containment document of the first payload term
	// jsonb can test ("" when none): walk reads its position buckets
	// through events_payload_bucket.
	bucketDoc string
}

// whereClause renders the query's filters as SQL over events e, every
// value a bound parameter. It may select more rows than match (what SQL
// cannot test exactly is left to trove.CompiledQuery), never fewer. With walk,
// payload and search terms are written so that no index serves them
// (coalesce(…, true), the same test): they filter the rows of a position
// window.
func whereClause(c *trove.CompiledQuery, walk bool) where {
	var b strings.Builder
	var args []any
	gin, linked := false, false
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !c.AllVersions() {
		b.WriteString(` AND e.latest`)
	}
	in := func(col string, set map[string]bool) {
		if set == nil {
			return
		}
		vals := make([]string, 0, len(set))
		for v := range set {
			vals = append(vals, v)
		}
		if len(vals) == 1 {
			b.WriteString(` AND ` + col + ` = ` + arg(vals[0]))
			return
		}
		b.WriteString(` AND ` + col + ` = ANY(` + arg(vals) + `::text[])`)
	}
	in(`e.schema_id`, c.Schemas())
	in(`e.producer`, c.Producers())
	start, hasStart, end, hasEnd := c.TimeBounds()
	// created_ms holds createdAt in Unix milliseconds; sub-millisecond
	// digits of a bound are dropped outward, which keeps every match.
	if hasStart {
		ms := start.UnixMilli()
		if start.Before(time.UnixMilli(ms)) {
			ms--
		}
		b.WriteString(` AND e.created_ms >= ` + arg(ms))
	}
	if hasEnd {
		ms := end.UnixMilli()
		if end.After(time.UnixMilli(ms)) {
			ms++
		}
		b.WriteString(` AND e.created_ms <= ` + arg(ms))
	}
	for _, cr := range c.LinkCriteria() {
		gin, linked = true, true
		b.WriteString(` AND (e.id, e.version) IN (SELECT l.source_id, l.source_version FROM links l WHERE true`)
		if cr.Type != "" {
			b.WriteString(` AND l.type = ` + arg(cr.Type))
		}
		if cr.TargetEvent != nil && cr.TargetEvent.ID != "" {
			b.WriteString(` AND l.target_id = ` + arg(cr.TargetEvent.ID))
		}
		b.WriteString(`)`)
	}
	bucketDoc := ""
	for _, t := range c.PayloadTerms() {
		doc, ok := containment(t.Keys, t.Value)
		if !ok {
			continue // trove.CompiledQuery tests it
		}
		if walk {
			b.WriteString(` AND coalesce(e.payload_jsonb @> ` + arg(doc) + `::jsonb, true)`)
		} else {
			b.WriteString(` AND (` + payloadDoc + ` @> ` + arg(`{"p":`+doc+`}`) + `::jsonb OR e.payload_jsonb IS NULL)`)
		}
		if bucketDoc == "" {
			bucketDoc = doc
		}
		gin = true
	}
	if sq := c.SearchQuery(); sq != nil {
		if tq, ok := searchTSQuery(sq); ok {
			if walk {
				b.WriteString(` AND coalesce(e.search_tsv @@ ` + arg(tq) + `::tsquery, true)`)
			} else {
				b.WriteString(` AND (e.search_tsv @@ ` + arg(tq) + `::tsquery OR e.search_tsv IS NULL)`)
			}
			gin = true
		}
	}
	return where{sql: b.String(), args: args, gin: gin, walkable: gin && !linked, bucketDoc: bucketDoc}
}

// payloadDoc is the expression events_payload_bucket indexes (migration
// 3), written exactly as there: the payload under "p", its position
// bucket (position >> bucketShift) under "b". NULL when payload_jsonb is.
const payloadDoc = `jsonb_set(jsonb_set('{"b":0,"p":0}'::jsonb, '{b}', ((e.position >> 13)::text)::jsonb), '{p}', e.payload_jsonb)`

// bucketShift sizes the position buckets of payloadDoc: 8,192 positions.
const bucketShift = 13

// containment renders a payload term as the jsonb document every payload
// holding it contains: {"a": {"b": value}}. jsonb compares numbers
// numerically and strings exactly, so every match contains it. ok is false
// when jsonb cannot hold the document exactly; the term is then left to
// trove.CompiledQuery.
func containment(keys []string, value any) (string, bool) {
	if n, isNum := value.(json.Number); isNum && !numberSafe(string(n)) {
		return "", false
	}
	if s, isStr := value.(string); isStr && strings.ContainsRune(s, 0) {
		return "", false
	}
	doc := value
	for i := len(keys) - 1; i >= 0; i-- {
		if strings.ContainsRune(keys[i], 0) {
			return "", false
		}
		doc = map[string]any{keys[i]: doc}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// searchTSQuery renders what every match of sq must hold as a tsquery
// over the search tokens (see indexValues): a word clause needs one of its
// tokens, a phrase all of them. Required clauses are ANDed; without any,
// the optional ones are ORed when each can be rendered. Clauses that can
// match without a token (ranges, words that are numbers or booleans, which
// match numbers and booleans) and forbidden ones add nothing. ok is false
// when nothing narrows.
func searchTSQuery(sq *trove.SearchQuery) (string, bool) {
	render := func(c *trove.SearchClause) (string, bool) {
		switch c.Kind {
		case trove.RangeClause:
			return "", false
		case trove.TermClause:
			if c.Field != "" && (isNumber(c.Text) || strings.EqualFold(c.Text, "true") || strings.EqualFold(c.Text, "false")) {
				return "", false
			}
		}
		sep := " | "
		if c.Kind == trove.PhraseClause {
			sep = " & "
		}
		parts := make([]string, 0, len(c.Tokens))
		for _, t := range c.Tokens {
			if len(t) > maxLexemeBytes {
				return "", false
			}
			parts = append(parts, "'"+t+"'") // tokens are letters and digits only
		}
		return "(" + strings.Join(parts, sep) + ")", true
	}
	var must, should []string
	shouldAll := true
	for i := range sq.Clauses {
		c := &sq.Clauses[i]
		switch c.Occur {
		case trove.Must:
			if r, ok := render(c); ok {
				must = append(must, r)
			}
		case trove.Should:
			r, ok := render(c)
			shouldAll = shouldAll && ok
			should = append(should, r)
		}
	}
	hasMust := false
	for _, c := range sq.Clauses {
		hasMust = hasMust || c.Occur == trove.Must
	}
	if !hasMust && len(should) > 0 && shouldAll {
		must = append(must, "("+strings.Join(should, " | ")+")")
	}
	if len(must) == 0 {
		return "", false
	}
	return strings.Join(must, " & "), true
}

// isNumber reports whether s is a JSON number (a word clause equal to one
// also matches numbers).
func isNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}
