package trove

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventQuery selects events. Its JSON keys are the original Trove's; every
// filter that is set must hold.
//
//   - Schema, Producer: exact match on the schema identity / producer, any
//     of the list. nil means no filter; an empty, non-nil list matches
//     nothing. In JSON a string or a list; "schemaId" is an alias of
//     "schema".
//   - TimeRange: createdAt within [Start, End], both inclusive, compared as
//     instants. Bounds are RFC 3339 with any offset, or a date YYYY-MM-DD
//     (as Start: 00:00:00.000Z that day; as End: 23:59:59.999Z).
//   - Links: every criterion must be met by some outgoing link of the event.
//     A criterion matches a link when its Type (if set) and TargetEvent.ID
//     (if set) are equal; one with neither matches any event with a link.
//   - Payload: every entry must hold. The key is a dotted path into the
//     payload objects ("author.name"); the value a JSON scalar, matching a
//     scalar of the same JSON type and value there (numbers numerically,
//     nil only an explicit null). Objects or arrays as values are invalid.
//   - Search: a query string over payload fields (see ParseSearch).
//   - AllVersions: false considers only each id's latest version.
//   - Sort: fields createdAt, producer, schema, id, version, position or
//     payload.<path>, direction asc (default) or desc; missing values last
//     in both directions; ties in position order. No sort: position order.
//     Values of different JSON types order null < booleans < numbers <
//     strings; objects and arrays count as missing.
//   - Offset, then Limit, after sorting. Limit nil: no limit; 0: nothing.
type EventQuery struct {
	Schema      []string
	Producer    []string
	TimeRange   *TimeRange
	Links       []LinkCriterion
	Payload     map[string]any
	Search      string
	AllVersions bool
	Sort        []SortField
	Limit       *int
	Offset      int
}

// TimeRange bounds createdAt; an empty bound is open.
type TimeRange struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// LinkCriterion is one entry of EventQuery.Links.
type LinkCriterion struct {
	Type        string   `json:"type,omitempty"`
	TargetEvent *EventID `json:"targetEvent,omitempty"`
}

// SortField is one sort key of EventQuery.Sort.
type SortField struct {
	Field     string `json:"field"`
	Direction string `json:"direction,omitempty"` // "asc" (default) or "desc"
}

// Limit returns a pointer to n, for EventQuery.Limit.
func Limit(n int) *int { return &n }

type queryJSON struct {
	Schema      json.RawMessage `json:"schema,omitempty"`
	SchemaID    json.RawMessage `json:"schemaId,omitempty"`
	Producer    json.RawMessage `json:"producer,omitempty"`
	TimeRange   *TimeRange      `json:"timeRange,omitempty"`
	Links       []LinkCriterion `json:"links,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Search      string          `json:"search,omitempty"`
	AllVersions bool            `json:"allVersions,omitempty"`
	Sort        json.RawMessage `json:"sort,omitempty"`
	Limit       *int            `json:"limit,omitempty"`
	Offset      int             `json:"offset,omitempty"`
}

// UnmarshalJSON reads the original's EventQuery shape. Shape errors, and
// invalid UTF-8 or a repeated key anywhere (CheckJSON), wrap ErrInvalid.
func (q *EventQuery) UnmarshalJSON(b []byte) error {
	if err := CheckJSON(b); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.DisallowUnknownFields()
	var j queryJSON
	if err := d.Decode(&j); err != nil {
		return invalidf("query: %s", DescribeJSONError(err))
	}
	*q = EventQuery{TimeRange: j.TimeRange, Links: j.Links, Search: j.Search,
		AllVersions: j.AllVersions, Limit: j.Limit, Offset: j.Offset}
	var err error
	schema := j.Schema
	if isJSONNull(schema) {
		schema = j.SchemaID
	}
	if q.Schema, err = stringList("schema", schema); err != nil {
		return err
	}
	if q.Producer, err = stringList("producer", j.Producer); err != nil {
		return err
	}
	if !isJSONNull(j.Payload) {
		d := json.NewDecoder(bytes.NewReader(j.Payload))
		d.UseNumber()
		if err := d.Decode(&q.Payload); err != nil {
			return invalidf("query: payload must be an object of path: scalar")
		}
	}
	if !isJSONNull(j.Sort) {
		if q.Sort, err = parseSortJSON(j.Sort); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes the query so that UnmarshalJSON reads it back the same
// (an empty list stays an empty list).
func (q EventQuery) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if q.Schema != nil {
		m["schema"] = q.Schema
	}
	if q.Producer != nil {
		m["producer"] = q.Producer
	}
	if q.TimeRange != nil {
		m["timeRange"] = q.TimeRange
	}
	if len(q.Links) > 0 {
		m["links"] = q.Links
	}
	if q.Payload != nil {
		m["payload"] = q.Payload
	}
	if q.Search != "" {
		m["search"] = q.Search
	}
	if q.AllVersions {
		m["allVersions"] = true
	}
	if len(q.Sort) > 0 {
		m["sort"] = q.Sort
	}
	if q.Limit != nil {
		m["limit"] = *q.Limit
	}
	if q.Offset != 0 {
		m["offset"] = q.Offset
	}
	return json.Marshal(m)
}

// parseSortJSON reads a query's sort: a list whose items are {field,
// direction} objects or "field:direction" strings (the URL form), or one
// such item alone; a string may hold several, comma-separated.
func parseSortJSON(raw json.RawMessage) ([]SortField, error) {
	raw = bytes.TrimSpace(raw)
	items := []json.RawMessage{raw}
	if len(raw) > 0 && raw[0] == '[' {
		items = nil
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, invalidf("query: sort: %s", DescribeJSONError(err))
		}
	}
	var out []SortField
	for i, it := range items {
		var str string
		if json.Unmarshal(it, &str) == nil {
			out = append(out, ParseSortFields(str)...)
			continue
		}
		d := json.NewDecoder(bytes.NewReader(it))
		d.DisallowUnknownFields()
		var f SortField
		if err := d.Decode(&f); err != nil {
			return nil, invalidf("query: sort item %d must be {\"field\",\"direction\"} or \"field:direction\" (%s)", i+1, DescribeJSONError(err))
		}
		out = append(out, f)
	}
	return out, nil
}

// ParseSortFields reads the URL form of a sort: "field:direction" items,
// comma-separated; the direction may be left out ("createdAt").
func ParseSortFields(s string) []SortField {
	var out []SortField
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		if one == "" {
			continue
		}
		f := SortField{Field: one}
		if i := strings.LastIndexByte(one, ':'); i >= 0 {
			f.Field, f.Direction = one[:i], one[i+1:]
		}
		out = append(out, f)
	}
	return out
}

func stringList(name string, raw json.RawMessage) ([]string, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	list := []string{}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalidf("query: %s must be a string or a list of strings", name)
	}
	return list, nil
}

// CompiledQuery is a validated EventQuery, made by EventQuery.Compile
// (package query then turns one into a Plan over the engine's index with
// query.NewPlan). Backends use it to evaluate
// filters exactly, sort and page, so that every backend means the same by a
// query. It is immutable and safe for concurrent use.
type CompiledQuery struct {
	src       EventQuery
	schemas   map[string]bool // nil: no filter
	producers map[string]bool // nil: no filter
	hasStart  bool
	start     time.Time
	hasEnd    bool
	end       time.Time
	links     []LinkCriterion
	payload   []PayloadTerm
	search    *SearchQuery
	sort      []SortKey
	limit     int // -1: none
	offset    int
}

// PayloadTerm is one payload equality of a compiled query.
type PayloadTerm struct {
	Path  string   // as written: "author.name"
	Keys  []string // the path split on dots
	Value any      // nil, bool, string or json.Number
}

// SortKey is one compiled sort key.
type SortKey struct {
	Field string   // createdAt, producer, schema, id, version, position, or payload
	Keys  []string // for payload: the path
	Desc  bool
}

// Compile validates q and compiles it. Errors wrap ErrInvalid.
func (q EventQuery) Compile() (*CompiledQuery, error) {
	c := &CompiledQuery{src: q, limit: -1, offset: q.Offset, links: q.Links}
	if q.Schema != nil {
		c.schemas = make(map[string]bool, len(q.Schema))
		for _, s := range q.Schema {
			c.schemas[s] = true
		}
	}
	if q.Producer != nil {
		c.producers = make(map[string]bool, len(q.Producer))
		for _, p := range q.Producer {
			c.producers[p] = true
		}
	}
	if q.TimeRange != nil {
		var err error
		if q.TimeRange.Start != "" {
			if c.start, err = parseBound(q.TimeRange.Start, false); err != nil {
				return nil, err
			}
			c.hasStart = true
		}
		if q.TimeRange.End != "" {
			if c.end, err = parseBound(q.TimeRange.End, true); err != nil {
				return nil, err
			}
			c.hasEnd = true
		}
	}
	paths := make([]string, 0, len(q.Payload))
	for p := range q.Payload {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		keys := strings.Split(p, ".")
		if slices.Contains(keys, "") {
			return nil, invalidf("query: payload path %q has an empty segment", p)
		}
		v, err := normalizeScalar(q.Payload[p])
		if err != nil {
			return nil, invalidf("query: payload %q: %v", p, err)
		}
		c.payload = append(c.payload, PayloadTerm{Path: p, Keys: keys, Value: v})
	}
	if q.Search != "" {
		s, err := ParseSearch(q.Search)
		if err != nil {
			return nil, err
		}
		c.search = s
	}
	for _, f := range q.Sort {
		k := SortKey{Field: f.Field}
		switch strings.ToLower(f.Direction) {
		case "", "asc":
		case "desc":
			k.Desc = true
		default:
			return nil, invalidf("query: sort direction %q (want asc or desc)", f.Direction)
		}
		switch f.Field {
		case "createdAt", "producer", "schema", "id", "version", "position":
		default:
			path, ok := strings.CutPrefix(f.Field, "payload.")
			if !ok || path == "" {
				return nil, invalidf("query: unknown sort field %q", f.Field)
			}
			k.Keys = strings.Split(path, ".")
			if slices.Contains(k.Keys, "") {
				return nil, invalidf("query: sort path %q has an empty segment", f.Field)
			}
			k.Field = "payload"
		}
		c.sort = append(c.sort, k)
	}
	if q.Limit != nil {
		if *q.Limit < 0 {
			return nil, invalidf("query: negative limit %d", *q.Limit)
		}
		c.limit = *q.Limit
	}
	if q.Offset < 0 {
		return nil, invalidf("query: negative offset %d", q.Offset)
	}
	return c, nil
}

func parseBound(s string, end bool) (time.Time, error) {
	if len(s) == 10 {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return time.Time{}, invalidf("query: time bound %q: %v", s, err)
		}
		if end {
			d = d.Add(24*time.Hour - time.Millisecond)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalidf("query: time bound %q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t.UTC(), nil
}

// normalizeScalar turns a Go or decoded-JSON scalar into nil, bool, string
// or json.Number.
func normalizeScalar(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return nil, fmt.Errorf("bad number %q", x)
		}
		return x, nil
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32)), nil
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return json.Number(fmt.Sprint(x)), nil
	default:
		return nil, fmt.Errorf("value must be a JSON scalar, not %T", v)
	}
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool { return IsJSONNumber(s) }

// Source returns the query the compiled form came from.
func (c *CompiledQuery) Source() EventQuery { return c.src }

// Schemas returns the schema filter; nil means none, empty means nothing
// matches.
func (c *CompiledQuery) Schemas() map[string]bool { return c.schemas }

// Producers returns the producer filter; nil means none, empty means nothing
// matches.
func (c *CompiledQuery) Producers() map[string]bool { return c.producers }

// TimeBounds returns the createdAt bounds; a false ok means that side is open.
func (c *CompiledQuery) TimeBounds() (start time.Time, hasStart bool, end time.Time, hasEnd bool) {
	return c.start, c.hasStart, c.end, c.hasEnd
}

// LinkCriteria returns the link filter.
func (c *CompiledQuery) LinkCriteria() []LinkCriterion { return c.links }

// PayloadTerms returns the payload equalities, sorted by path.
func (c *CompiledQuery) PayloadTerms() []PayloadTerm { return c.payload }

// SearchQuery returns the parsed search, or nil.
func (c *CompiledQuery) SearchQuery() *SearchQuery { return c.search }

// AllVersions reports whether superseded versions are considered.
func (c *CompiledQuery) AllVersions() bool { return c.src.AllVersions }

// SortKeys returns the sort keys; empty means position order.
func (c *CompiledQuery) SortKeys() []SortKey { return c.sort }

// Limit returns the limit, or -1 for none.
func (c *CompiledQuery) Limit() int { return c.limit }

// Offset returns the offset.
func (c *CompiledQuery) Offset() int { return c.offset }

// MatchesNothing reports whether the query can match no event at all
// (an empty schema or producer list, limit 0, an empty time range).
func (c *CompiledQuery) MatchesNothing() bool {
	return c.schemas != nil && len(c.schemas) == 0 ||
		c.producers != nil && len(c.producers) == 0 ||
		c.limit == 0 ||
		c.hasStart && c.hasEnd && c.start.After(c.end)
}

// NeedsPayload reports whether Match needs the decoded payload.
func (c *CompiledQuery) NeedsPayload() bool {
	if len(c.payload) > 0 || c.search != nil {
		return true
	}
	for _, k := range c.sort {
		if k.Field == "payload" {
			return true
		}
	}
	return false
}

// Match reports whether e meets every filter of the query except
// AllVersions (which the backend applies). links are e's outgoing links: its
// own and those added with SaveLink.
func (c *CompiledQuery) Match(e *Event, links []EventLink) bool {
	var payload any
	if len(c.payload) > 0 || c.search != nil {
		var err error
		if payload, err = decodeJSON(e.Payload); err != nil {
			return false
		}
	}
	return c.MatchDecoded(e, payload, links)
}

// MatchDecoded is Match with the payload already decoded (with
// json.Decoder.UseNumber).
func (c *CompiledQuery) MatchDecoded(e *Event, payload any, links []EventLink) bool {
	if !c.MatchMeta(e) || !c.MatchLinks(links) {
		return false
	}
	for _, t := range c.payload {
		if !t.Match(payload) {
			return false
		}
	}
	return c.search == nil || c.search.Match(payload)
}

// MatchMeta checks the schema, producer and time filters.
func (c *CompiledQuery) MatchMeta(e *Event) bool {
	if c.schemas != nil && !c.schemas[e.Schema.Identity()] {
		return false
	}
	if c.producers != nil && !c.producers[e.Producer] {
		return false
	}
	if c.hasStart && e.CreatedAt.Before(c.start) {
		return false
	}
	if c.hasEnd && e.CreatedAt.After(c.end) {
		return false
	}
	return true
}

// MatchLinks checks the link criteria against an event's outgoing links.
func (c *CompiledQuery) MatchLinks(links []EventLink) bool {
	for _, cr := range c.links {
		if !slices.ContainsFunc(links, cr.Matches) {
			return false
		}
	}
	return true
}

// Matches reports whether link l meets the criterion.
func (cr LinkCriterion) Matches(l EventLink) bool {
	if cr.Type != "" && cr.Type != l.Type {
		return false
	}
	if cr.TargetEvent != nil && cr.TargetEvent.ID != "" && cr.TargetEvent.ID != l.TargetEvent.ID {
		return false
	}
	return true
}

// Match reports whether the decoded payload holds the term's value.
func (t PayloadTerm) Match(payload any) bool {
	v, ok := Lookup(payload, t.Keys)
	return ok && scalarEqual(v, t.Value)
}

// Lookup follows keys through nested objects of a decoded JSON value. It
// returns false when a key is missing or a step is not an object.
func Lookup(v any, keys []string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// scalarEqual compares two decoded JSON scalars: same JSON type and value,
// numbers numerically. Objects and arrays are never equal to anything here.
func scalarEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && NumberCompare(x, y) == 0
	}
	return false
}

// Sortable is what Sort needs of one result: the event and, when the query
// sorts by a payload path, its decoded payload (nil otherwise).
type Sortable struct {
	Event   Event
	Payload any
}

// SortEvents orders events by the query's sort keys, ties in position order.
// It decodes payloads itself when a key needs them.
func (c *CompiledQuery) SortEvents(events []Event) {
	if len(c.sort) == 0 {
		slices.SortFunc(events, func(a, b Event) int { return cmp.Compare(a.Position, b.Position) })
		return
	}
	items := make([]Sortable, len(events))
	for i, e := range events {
		items[i].Event = e
		if c.NeedsPayload() {
			items[i].Payload, _ = decodeJSON(e.Payload)
		}
	}
	c.Sort(items)
	for i := range items {
		events[i] = items[i].Event
	}
}

// Sort orders items by the query's sort keys, ties in position order.
func (c *CompiledQuery) Sort(items []Sortable) {
	slices.SortStableFunc(items, c.Compare)
}

// Compare orders two results as the query's sort does.
func (c *CompiledQuery) Compare(a, b Sortable) int {
	for _, k := range c.sort {
		if r := compareKey(k, a, b); r != 0 {
			return r
		}
	}
	return cmp.Compare(a.Event.Position, b.Event.Position)
}

func compareKey(k SortKey, a, b Sortable) int {
	dir := 1
	if k.Desc {
		dir = -1
	}
	switch k.Field {
	case "createdAt":
		return dir * a.Event.CreatedAt.Compare(b.Event.CreatedAt)
	case "producer":
		return dir * strings.Compare(a.Event.Producer, b.Event.Producer)
	case "schema":
		return dir * strings.Compare(a.Event.Schema.Identity(), b.Event.Schema.Identity())
	case "id":
		return dir * strings.Compare(a.Event.ID.ID, b.Event.ID.ID)
	case "version":
		return dir * cmp.Compare(a.Event.ID.Version, b.Event.ID.Version)
	case "position":
		return dir * cmp.Compare(a.Event.Position, b.Event.Position)
	}
	va, oka := sortValue(a.Payload, k.Keys)
	vb, okb := sortValue(b.Payload, k.Keys)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return 1 // missing last, whatever the direction
	case !okb:
		return -1
	}
	return dir * CompareScalars(va, vb)
}

// sortValue is the scalar at keys; objects and arrays count as missing.
func sortValue(payload any, keys []string) (any, bool) {
	v, ok := Lookup(payload, keys)
	if !ok {
		return nil, false
	}
	switch v.(type) {
	case map[string]any, []any:
		return nil, false
	}
	return v, true
}

// CompareScalars orders decoded JSON scalars: null < booleans (false < true)
// < numbers (numerically) < strings (bytewise).
func CompareScalars(a, b any) int {
	ra, rb := scalarRank(a), scalarRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case json.Number:
		return NumberCompare(x, b.(json.Number))
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

func scalarRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case json.Number:
		return 2
	case string:
		return 3
	}
	return 4
}

// Page applies offset and limit to sorted results.
func (c *CompiledQuery) Page(events []Event) []Event {
	if c.offset >= len(events) {
		return []Event{}
	}
	events = events[c.offset:]
	if c.limit >= 0 && c.limit < len(events) {
		events = events[:c.limit]
	}
	return events
}

// DecodePayload decodes a payload the way Match and Sort expect (numbers as
// json.Number).
func DecodePayload(p json.RawMessage) (any, error) { return decodeJSON(p) }
