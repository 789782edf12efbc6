package sqlevents_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

func ptr(s string) *string { return &s }

// Decode sets the payload and the JSON columns; NULL leaves them unset.
func TestDecode(t *testing.T) {
	var r sqlevents.Scanned
	r.Event.ID = trove.EventID{ID: "a", Version: 1}
	err := r.Decode(`{"x":1}`, ptr(`[{"id":"f","size":3}]`), ptr(`[{"type":"t","targetEvent":{"id":"b"}}]`), ptr(`{"m":true}`))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Event
	if string(e.Payload) != `{"x":1}` || len(e.Files) != 1 || e.Files[0].ID != "f" || e.Files[0].Size != 3 ||
		len(e.Links) != 1 || e.Links[0].Type != "t" || e.Links[0].TargetEvent.ID != "b" || string(e.Metadata) != `{"m":true}` {
		t.Fatalf("decoded %+v", e)
	}
	var n sqlevents.Scanned
	if err := n.Decode(`{}`, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n.Event.Files != nil || n.Event.Links != nil || n.Event.Metadata != nil {
		t.Fatalf("NULL columns decoded as %+v", n.Event)
	}
}

// A files or links column that is not their JSON is a CorruptionError
// naming the event and the column.
func TestDecodeBadColumns(t *testing.T) {
	for _, tc := range []struct {
		column       string
		files, links *string
	}{
		{"files", ptr(`{`), nil},
		{"files", ptr(`{"id":"f"}`), nil},
		{"links", nil, ptr(`[1]`)},
		{"links", nil, ptr(``)},
	} {
		var r sqlevents.Scanned
		r.Event.ID = trove.EventID{ID: "bad", Version: 2}
		err := r.Decode(`{}`, tc.files, tc.links, nil)
		var ce *trove.CorruptionError
		if !errors.As(err, &ce) || ce.File != "events" || ce.Reason == "" {
			t.Fatalf("%s: got %v, want a CorruptionError", tc.column, err)
		}
		if want := fmt.Sprintf("event %s: column %s:", r.Event.ID, tc.column); len(ce.Reason) < len(want) || ce.Reason[:len(want)] != want {
			t.Errorf("%s: reason %q does not start with %q", tc.column, ce.Reason, want)
		}
	}
}

// Decode never panics, and what it accepts is what encoding/json makes of
// the columns.
func FuzzDecode(f *testing.F) {
	f.Add(`[{"id":"f"}]`, `[{"type":"t","targetEvent":{"id":"b"}}]`)
	f.Add(`{`, `null`)
	f.Add(`[]`, `[{"type":1}]`)
	f.Fuzz(func(t *testing.T, files, links string) {
		var r sqlevents.Scanned
		err := r.Decode(`{}`, &files, &links, nil)
		var fs []trove.EventFile
		var ls []trove.EventLink
		ferr, lerr := json.Unmarshal([]byte(files), &fs), json.Unmarshal([]byte(links), &ls)
		if (err == nil) != (ferr == nil && lerr == nil) {
			t.Fatalf("Decode: %v; encoding/json: files %v, links %v", err, ferr, lerr)
		}
		if err == nil && (!reflect.DeepEqual(r.Event.Files, fs) || !reflect.DeepEqual(r.Event.Links, ls)) {
			t.Fatalf("decoded %+v %+v, encoding/json %+v %+v", r.Event.Files, r.Event.Links, fs, ls)
		}
	})
}

// Schemas loads a document once, then serves it from the cache; a bad
// document is a CorruptionError and is not cached; load's error is
// returned as it is.
func TestSchemas(t *testing.T) {
	var c sqlevents.Schemas
	loads := 0
	doc := `{"$id":"s+v1","type":"object"}`
	load := func() (string, error) { loads++; return doc, nil }
	for range 3 {
		sc, err := c.Get(7, load)
		if err != nil || sc.Identity() != "s+v1" {
			t.Fatalf("Get: %v, %v", sc.Identity(), err)
		}
	}
	if loads != 1 {
		t.Fatalf("loaded %d times, want 1", loads)
	}
	if _, ok := c.Cached(8); ok {
		t.Fatal("8 is cached before any load")
	}
	_, err := c.Get(8, func() (string, error) { return `{"type":`, nil })
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || ce.File != "schema_docs" {
		t.Fatalf("bad document: got %v, want a CorruptionError", err)
	}
	if _, ok := c.Cached(8); ok {
		t.Fatal("a bad document was cached")
	}
	boom := errors.New("boom")
	if _, err := c.Get(9, func() (string, error) { return "", boom }); err != boom {
		t.Fatalf("load error: got %v", err)
	}
	if _, err := c.Put(10, `[`); !errors.As(err, &ce) {
		t.Fatalf("Put of a bad document: %v", err)
	}
}

// Resolve gives each row its schema, and stops at the first error.
func TestResolve(t *testing.T) {
	a, b := trove.MustSchema(`{"$id":"a+v1"}`), trove.MustSchema(`{"$id":"b+v1"}`)
	rows := []sqlevents.Scanned{{Event: trove.Event{Position: 1}, SchemaPK: 1}, {Event: trove.Event{Position: 2}, SchemaPK: 2}}
	evs, err := sqlevents.Resolve(rows, func(pk int64) (trove.Schema, error) { return map[int64]trove.Schema{1: a, 2: b}[pk], nil })
	if err != nil || len(evs) != 2 || evs[0].Schema.Identity() != "a+v1" || evs[1].Schema.Identity() != "b+v1" || evs[1].Position != 2 {
		t.Fatalf("Resolve: %+v, %v", evs, err)
	}
	boom := errors.New("boom")
	if _, err := sqlevents.Resolve(rows, func(int64) (trove.Schema, error) { return trove.Schema{}, boom }); err != boom {
		t.Fatalf("Resolve error: %v", err)
	}
}

// fakeRows serves rows of values, the scan error at row failAt, and err
// after the last row.
type fakeRows struct {
	rows   [][]any
	i      int
	failAt int
	err    error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.rows) }
func (r *fakeRows) Err() error { return r.err }
func (r *fakeRows) Scan(dest ...any) error {
	if r.i == r.failAt {
		return errors.New("scan failed")
	}
	row := r.rows[r.i-1]
	if len(dest) != len(row) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(row))
	}
	for i, v := range row {
		reflect.ValueOf(dest[i]).Elem().Set(reflect.ValueOf(v))
	}
	return nil
}

func TestReadLinks(t *testing.T) {
	rows := &fakeRows{rows: [][]any{
		{"a", 1, "t", "b", 0, (*string)(nil)},
		{"a", 2, "u", "c", 3, ptr(`{"k":1}`)},
	}}
	got, err := sqlevents.ReadLinks(rows, "links of a")
	if err != nil {
		t.Fatal(err)
	}
	want := []trove.EventLink{
		{SourceEvent: &trove.EventID{ID: "a", Version: 1}, Type: "t", TargetEvent: trove.EventID{ID: "b"}},
		{SourceEvent: &trove.EventID{ID: "a", Version: 2}, Type: "u", TargetEvent: trove.EventID{ID: "c", Version: 3}, Metadata: []byte(`{"k":1}`)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got, err := sqlevents.ReadLinks(&fakeRows{}, "x"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no rows: %#v, %v", got, err)
	}
	if _, err := sqlevents.ReadLinks(&fakeRows{rows: rows.rows, failAt: 2}, "links of a"); err == nil || err.Error() != "links of a: scan failed" {
		t.Fatalf("scan error: %v", err)
	}
	if _, err := sqlevents.ReadLinks(&fakeRows{err: errors.New("gone")}, "links of a"); err == nil || err.Error() != "links of a: gone" {
		t.Fatalf("rows error: %v", err)
	}
}

func TestReadSchemas(t *testing.T) {
	rows := &fakeRows{rows: [][]any{{"s", "1.0.0", `{"a":1}`}, {"s", "2.0.0", `{}`}}}
	got, err := sqlevents.ReadSchemas(rows, "list schemas")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "s" || got[0].Version != "1.0.0" || string(got[0].Schema) != `{"a":1}` || got[1].Version != "2.0.0" {
		t.Fatalf("got %+v", got)
	}
	if got, err := sqlevents.ReadSchemas(&fakeRows{}, "x"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no rows: %#v, %v", got, err)
	}
	if _, err := sqlevents.ReadSchemas(&fakeRows{rows: rows.rows, failAt: 1}, "list schemas"); err == nil || err.Error() != "list schemas: scan failed" {
		t.Fatalf("scan error: %v", err)
	}
}

// One maps the driver's no-rows error to ErrNotFound, wraps others and
// resolves the row.
func TestOne(t *testing.T) {
	noRows := errors.New("no rows")
	id := trove.EventID{ID: "a", Version: 2}
	resolve := func(rows []sqlevents.Scanned) ([]trove.Event, error) {
		out := make([]trove.Event, len(rows))
		for i, r := range rows {
			out[i] = r.Event
			out[i].Producer = "resolved"
		}
		return out, nil
	}
	if _, err := sqlevents.One("pkg", id, sqlevents.Scanned{}, noRows, noRows, resolve); !errors.Is(err, trove.ErrNotFound) || err.Error() != trove.ErrNotFound.Error()+": pkg: event "+id.String() {
		t.Fatalf("no rows: %v", err)
	}
	boom := errors.New("boom")
	if _, err := sqlevents.One("pkg", id, sqlevents.Scanned{}, boom, noRows, resolve); !errors.Is(err, boom) || errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("scan error: %v", err)
	}
	e, err := sqlevents.One("pkg", id, sqlevents.Scanned{Event: trove.Event{ID: id, Position: 5}}, nil, noRows, resolve)
	if err != nil || e.Position != 5 || e.Producer != "resolved" {
		t.Fatalf("row: %+v, %v", e, err)
	}
}

// LinkedEvents loads the far end of each link in the direction asked.
func TestLinkedEvents(t *testing.T) {
	links := []trove.EventLink{
		{SourceEvent: &trove.EventID{ID: "a", Version: 1}, Type: "t", TargetEvent: trove.EventID{ID: "b", Version: 1}},
		{SourceEvent: &trove.EventID{ID: "c", Version: 1}, Type: "t", TargetEvent: trove.EventID{ID: "b", Version: 1}},
	}
	load := func(id trove.EventID) (trove.Event, error) { return trove.Event{ID: id}, nil }
	out, err := sqlevents.LinkedEvents(links, trove.Outgoing, load)
	if err != nil || len(out) != 1 || out[0].ID.ID != "b" {
		t.Fatalf("outgoing: %+v, %v", out, err)
	}
	in, err := sqlevents.LinkedEvents(links, trove.Incoming, load)
	if err != nil || len(in) != 2 || in[0].ID.ID != "a" || in[1].ID.ID != "c" {
		t.Fatalf("incoming: %+v, %v", in, err)
	}
}

// OrderBy renders sort keys on event columns, position last, and refuses
// a key without a column.
func TestOrderBy(t *testing.T) {
	cols := map[string]string{"createdAt": "e.c", "id": "e.i", "position": "e.p"}
	for _, tc := range []struct {
		sort   []trove.SortField
		want   string
		native bool
	}{
		{nil, ` ORDER BY e.p`, true},
		{[]trove.SortField{{Field: "createdAt", Direction: "desc"}}, ` ORDER BY e.c DESC, e.p`, true},
		{[]trove.SortField{{Field: "id"}, {Field: "createdAt"}}, ` ORDER BY e.i, e.c, e.p`, true},
		{[]trove.SortField{{Field: "payload.a"}}, ``, false},
	} {
		c, err := trove.EventQuery{Sort: tc.sort}.Compile()
		if err != nil {
			t.Fatal(err)
		}
		got, native := sqlevents.OrderBy(c, cols, "e.p")
		if got != tc.want || native != tc.native {
			t.Errorf("%+v: got %q %v, want %q %v", tc.sort, got, native, tc.want, tc.native)
		}
	}
}
