package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
)

// decodeEvent splits each event into a map it takes from memberMaps and
// gives back: an event decoded after another holds none of the other's
// members, whatever the order, and the maps it gives back are empty.
func TestDecodeEventReusesNoMembers(t *testing.T) {
	c := caps{maxBatch: 10, maxID: 64, schemas: newSchemaCache()}
	full := `{"id":{"id":"e1","version":2},"createdAt":"2025-04-15T08:54:58.123Z","producer":"p",` +
		`"schema":{"$id":"s","type":"object"},"payload":{"a":1},"files":[],` +
		`"links":[{"type":"parent","targetEvent":{"id":"e0"}}],"metadata":{"ip":"::1"}}`
	bare := `{"schema":{"$id":"s","type":"object"},"payload":{"b":2}}`
	want := map[string]any{}
	for _, raw := range []string{full, bare} {
		e, err := c.decodeEvent([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		want[raw] = e
	}
	for _, order := range [][]string{{full, bare, full}, {bare, full, bare}, {full, full, bare, bare}} {
		for _, raw := range order {
			e, err := c.decodeEvent([]byte(raw))
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !reflect.DeepEqual(any(e), want[raw]) {
				t.Errorf("%s after other events: %+v, want %+v", raw, e, want[raw])
			}
		}
	}
	for range 4 {
		if m := memberMaps.Get().(map[string]json.RawMessage); len(m) != 0 {
			t.Fatalf("memberMaps gave a map holding %v", m)
		}
	}
}

// wantsMinimal finds return=minimal among the preferences of every Prefer
// header, comma-separated, in any case and with spaces anywhere.
func TestWantsMinimal(t *testing.T) {
	for _, c := range []struct {
		prefer []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"return=minimal"}, true},
		{[]string{"Return=Minimal"}, true},
		{[]string{" return = minimal "}, true},
		{[]string{"handling=strict, return=minimal"}, true},
		{[]string{"return=minimal,handling=strict"}, true},
		{[]string{",,return=minimal,"}, true},
		{[]string{"handling=strict", "return=minimal"}, true},
		{[]string{"return=representation"}, false},
		{[]string{"return=minimalist"}, false},
		{[]string{"return=minimal;x=1"}, false},
		{[]string{"return", "=minimal"}, false},
		{[]string{","}, false},
	} {
		r := httptest.NewRequest("POST", "/api/events", nil)
		for _, v := range c.prefer {
			r.Header.Add("Prefer", v)
		}
		w := httptest.NewRecorder()
		if got := wantsMinimal(w, r); got != c.want {
			t.Errorf("Prefer %q: wantsMinimal = %v, want %v", c.prefer, got, c.want)
		}
		applied := w.Header().Get("Preference-Applied")
		if (applied == "return=minimal") != c.want || (!c.want && applied != "") {
			t.Errorf("Prefer %q: Preference-Applied %q", c.prefer, applied)
		}
	}
}

// BenchmarkDecodeEvent decodes one event of the bench harness's shape (as
// bench/ posts it over HTTP): the API's own share of a create, apart
// from the network, the core and the store.
func BenchmarkDecodeEvent(b *testing.B) {
	raw := []byte(`{"id":{"id":"01941f29-7cdf-7410-9fd5-f24f5085e990","version":1},"createdAt":"2025-01-01T00:00:00.223Z",` +
		`"producer":"producer-13","schema":{"$id":"bench.job.finished+v1.0.0","type":"object","required":["status","traceId"],` +
		`"properties":{"status":{"type":"string"},"traceId":{"type":"string"},"amount":{"type":"number"}}},` +
		`"payload":{"amount":7080.77,"count":41,"kind":"job.finished","message":"in clicked warehouse pressure account refused",` +
		`"ok":true,"retries":3,"seq":0,"status":"pending","tags":["signature","discount"],"traceId":"t-4cc1c039c89c3d2e",` +
		`"user":{"name":"kofi","region":"us-east","tier":"free"}},"files":[],"links":[],"metadata":{"ip":"10.44.241.131","agent":"bench/1"}}`)
	c := caps{maxBatch: DefaultMaxBatchEvents, maxID: DefaultMaxIDBytes, schemas: newSchemaCache()}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decodeEvent(raw); err != nil {
			b.Fatal(err)
		}
	}
}
