package storagetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// The model test saves random events and compares random queries with a
// brute-force evaluator written from the contract alone. It does not use
// trove.CompiledQuery (Compile, Match, Sort): it is the second opinion.

const (
	modelEvents  = 2000
	modelLinks   = 150
	modelQueries = 400
)

func modelTests() []test {
	return []test{{"RandomQueries", testModel}}
}

// modelSeed is the seed of a run: STORAGETEST_SEED when set (to replay a
// failure), else the clock.
func modelSeed(t testing.TB) uint64 {
	if s := os.Getenv("STORAGETEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STORAGETEST_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// model is the kit's own picture of the store.
type model struct {
	events  []*mevent // in position order
	byID    map[string][]*mevent
	ids     []string
	linkLog []mlink // every link in save order
	withLnk bool
}

type mevent struct {
	ev      trove.Event
	schema  string // identity, computed by the model
	payload any    // decoded with UseNumber
	links   []trove.EventLink
}

var (
	modelSchemas   = []string{"m.order", "m.user", "m.log", "m.other"}
	modelProducers = []string{"", "api", "worker", "cron"}
	modelWords     = []string{"alpha", "beta", "Gamma", "delta", "disk full", "Disk-Error", "ok", "failed", "x", "two words", "émile", "42"}
	modelKeys      = []string{"status", "amount", "n", "name", "tags", "author", "flag", "note", "text", "level"}
	modelTypes     = []string{"parent", "ref", "tag"}
	modelBase      = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
)

type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int           { return g.r.IntN(n) }
func (g gen) chance(p float64) bool    { return g.r.Float64() < p }
func (g gen) str(list []string) string { return list[g.r.IntN(len(list))] }
func (g gen) minutes(max int) time.Time {
	return modelBase.Add(time.Duration(g.r.IntN(max)) * time.Minute)
}
func (g gen) createdAt() time.Time {
	return g.minutes(10 * 24 * 60).Add(time.Duration(g.r.IntN(3)*500) * time.Millisecond)
}
func (g gen) zone() *time.Location { return time.FixedZone("", (g.r.IntN(27)-12)*1800) }
func (g gen) number() string {
	return g.str([]string{"0", "1", "1.0", "2", "2e0", "-3", "1.5", "150", "100.25", "7", "-0.5", "1e2"})
}
func (g gen) word() string       { return g.str(modelWords) }
func (g gen) scalarText() string { return g.scalarTextOf(g.pick(5)) }
func (g gen) scalarTextOf(kind int) string {
	switch kind {
	case 0:
		return "null"
	case 1:
		return strconv.FormatBool(g.chance(0.5))
	case 2, 3:
		return g.number()
	}
	b, _ := json.Marshal(g.word())
	return string(b)
}

// value writes a random JSON value, nested up to depth.
func (g gen) value(depth int) string {
	switch k := g.pick(10); {
	case k < 6 || depth == 0:
		return g.scalarText()
	case k < 8:
		n := g.pick(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = g.scalarText()
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return g.object(depth - 1)
	}
}

func (g gen) object(depth int) string {
	n := 1 + g.pick(4)
	seen := map[string]bool{}
	var parts []string
	for range n {
		k := g.str(modelKeys)
		if seen[k] {
			continue
		}
		seen[k] = true
		parts = append(parts, fmt.Sprintf("%q:%s", k, g.value(depth)))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func testModel(t *testing.T, k *kit) {
	s := k.open(t, "events")
	seed := modelSeed(t)
	t.Logf("model seed %d (set STORAGETEST_SEED=%d to repeat this run)", seed, seed)
	defer func() {
		if t.Failed() {
			t.Logf("model test failed with seed %d: STORAGETEST_SEED=%d go test -run '%s' reproduces it", seed, seed, t.Name())
		}
	}()
	g := gen{rand.New(rand.NewPCG(seed, seed^0x5eed))}
	m := &model{byID: map[string][]*mevent{}, withLnk: k.caps[trove.CapLinks]}
	m.populate(t, s, g, k.batch)
	t.Logf("model: %d event versions of %d ids", len(m.events), len(m.ids))
	checked, invalid, hits := 0, 0, 0
	for i := range modelQueries {
		q := m.randomQuery(g)
		want, wantErr := m.eval(q)
		if g.chance(0.25) {
			// Some queries travel as JSON first, as they do over HTTP.
			b, err := json.Marshal(q)
			if err != nil {
				t.Fatalf("query %d: marshal %+v: %v", i, q, err)
			}
			q = trove.EventQuery{}
			if err := json.Unmarshal(b, &q); err != nil {
				if wantErr != nil && isInvalid(err) {
					invalid++
					continue
				}
				t.Fatalf("query %d: unmarshal %s: %v; seed %d", i, b, err, seed)
			}
		}
		got, err := s.ev.QueryEvents(s.ctx, q)
		if wantErr != nil {
			if !isInvalid(err) {
				t.Fatalf("query %d %s: got %v (%d events), want ErrInvalid (%v); seed %d", i, queryString(q), err, len(got), wantErr, seed)
			}
			invalid++
			continue
		}
		if err != nil {
			t.Fatalf("query %d %s: %v; seed %d", i, queryString(q), err, seed)
		}
		if d := m.diff(got, want); d != "" {
			t.Fatalf("query %d %s: %s; seed %d", i, queryString(q), d, seed)
		}
		checked++
		if len(want) > 0 {
			hits++
		}
	}
	t.Logf("model: %d queries agreed with the model (%d with results), %d invalid ones refused", checked, hits, invalid)
	if m.withLnk {
		m.checkLinks(t, s, g, seed)
	}
}

func isInvalid(err error) bool { return err != nil && errorsIs(err, trove.ErrInvalid) }

// populate saves random events (through batches for some, when offered)
// and links, recording what the store returned.
func (m *model) populate(t *testing.T, s *store, g gen, batch bool) {
	var pending []trove.Event
	flush := func() {
		if len(pending) == 0 {
			return
		}
		out, err := s.ev.(trove.BatchSaver).SaveEvents(s.ctx, pending)
		if err != nil {
			t.Fatalf("SaveEvents of %d model events: %v", len(pending), err)
		}
		for _, e := range out {
			m.record(t, e)
		}
		pending = nil
	}
	latest := map[string]int{} // including pending
	for i := range modelEvents {
		e := trove.Event{Producer: g.str(modelProducers), Payload: json.RawMessage(g.object(3))}
		if len(m.ids) > 0 && g.chance(0.15) {
			e.ID.ID = m.ids[g.pick(len(m.ids))]
			e.ID.Version = latest[e.ID.ID] + 1
		} else {
			e.ID.ID = fmt.Sprintf("m-%04d", i)
			m.ids = append(m.ids, e.ID.ID)
			if g.chance(0.5) {
				e.ID.Version = 1
			}
		}
		latest[e.ID.ID] = max(latest[e.ID.ID], 1, e.ID.Version)
		if g.chance(0.1) {
			e.Schema = trove.SchemaRef("m.ref", strconv.Itoa(1+g.pick(2)))
		} else {
			e.Schema = schema(g.str(modelSchemas))
		}
		if g.chance(0.95) {
			e.CreatedAt = g.createdAt().In(g.zone())
		}
		if m.withLnk {
			for range g.pick(3) {
				target := fmt.Sprintf("m-%04d", g.pick(modelEvents+100)) // may dangle
				v := 0
				if g.chance(0.2) {
					v = 1
				}
				e.Links = append(e.Links, lnk(g.str(modelTypes), target, v))
			}
		}
		if batch && i%400 >= 200 {
			pending = append(pending, e)
			if len(pending) == 50 {
				flush()
			}
			continue
		}
		flush()
		m.record(t, s.save(e))
	}
	flush()
	if !m.withLnk {
		return
	}
	for range modelLinks {
		src := m.ids[g.pick(len(m.ids))]
		versions := m.byID[src]
		sid := trove.EventID{ID: src}
		target := versions[len(versions)-1]
		if g.chance(0.3) {
			target = versions[g.pick(len(versions))]
			sid.Version = target.ev.ID.Version
		}
		l := lnk(g.str(modelTypes), fmt.Sprintf("m-%04d", g.pick(modelEvents+100)), 0)
		s.saveLink(sid, l)
		if slices.ContainsFunc(target.links, l.Same) {
			continue // a link the version has already: a no-op
		}
		target.links = append(target.links, l)
		m.linkLog = append(m.linkLog, mlink{source: target.ev.ID, link: l})
	}
}

func (m *model) record(t *testing.T, e trove.Event) {
	me := &mevent{ev: e, links: slices.Clone(e.Links)}
	var head map[string]any
	if err := json.Unmarshal(e.Schema.Raw(), &head); err != nil {
		t.Fatalf("model: schema of %s: %v", e.ID, err)
	}
	if id, ok := head["$id"].(string); ok && id != "" {
		me.schema = id
	} else {
		me.schema, _ = head["id"].(string)
	}
	p, err := decodeNumbers(e.Payload)
	if err != nil {
		t.Fatalf("model: payload of %s: %v", e.ID, err)
	}
	me.payload = p
	if n := len(m.events); n > 0 && e.Position <= m.events[n-1].ev.Position {
		t.Fatalf("model: %s saved at position %d after %d", e.ID, e.Position, m.events[n-1].ev.Position)
	}
	if len(m.byID[e.ID.ID]) != e.ID.Version-1 {
		t.Fatalf("model: %s saved as version %d after %d versions", e.ID.ID, e.ID.Version, len(m.byID[e.ID.ID]))
	}
	m.events = append(m.events, me)
	m.byID[e.ID.ID] = append(m.byID[e.ID.ID], me)
	for _, l := range e.Links {
		m.linkLog = append(m.linkLog, mlink{source: e.ID, link: l})
	}
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// diff compares a result with the model's answer.
func (m *model) diff(got []trove.Event, want []*mevent) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d events %s, the model has %d %s", len(got), shortIDs(got), len(want), shortModel(want))
	}
	for i := range want {
		if got[i].ID != want[i].ev.ID {
			return fmt.Sprintf("event %d is %s, the model has %s\n got  %s\n want %s", i, got[i].ID, want[i].ev.ID, shortIDs(got), shortModel(want))
		}
		if got[i].Position != want[i].ev.Position {
			return fmt.Sprintf("event %d (%s) has position %d, the model %d", i, got[i].ID, got[i].Position, want[i].ev.Position)
		}
	}
	// Whole events are compared for a few results of each query (comparing
	// every field of every result costs more than the query).
	for _, i := range []int{0, len(want) / 2, len(want) - 1} {
		if i < 0 || i >= len(want) {
			continue
		}
		if d := sameStored(got[i], want[i].ev); d != "" {
			return fmt.Sprintf("event %d (%s): %s", i, got[i].ID, d)
		}
	}
	return ""
}

func shortIDs(events []trove.Event) string {
	if len(events) > 30 {
		return ids(events[:30]) + "…"
	}
	return ids(events)
}

func shortModel(events []*mevent) string {
	evs := make([]trove.Event, 0, min(len(events), 30))
	for _, e := range events[:min(len(events), 30)] {
		evs = append(evs, e.ev)
	}
	s := ids(evs)
	if len(events) > 30 {
		s += "…"
	}
	return s
}

// randomQuery builds a query from the stored data, so that filters hit.
func (m *model) randomQuery(g gen) trove.EventQuery {
	var q trove.EventQuery
	some := func() *mevent { return m.events[g.pick(len(m.events))] }
	if g.chance(0.3) {
		q.Schema = []string{}
		for range g.pick(4) {
			q.Schema = append(q.Schema, g.str(append(modelSchemas, "m.ref", "m.none")))
		}
	}
	if g.chance(0.25) {
		q.Producer = []string{}
		for range g.pick(3) {
			q.Producer = append(q.Producer, g.str([]string{"core", "api", "worker", "cron", "nobody"}))
		}
	}
	if g.chance(0.3) {
		q.TimeRange = &trove.TimeRange{}
		bound := func() string {
			var t time.Time
			if g.chance(0.5) {
				t = some().ev.CreatedAt // exact: inclusivity matters
			} else {
				t = g.createdAt()
			}
			switch g.pick(4) {
			case 0:
				return t.Format("2006-01-02")
			case 1:
				return t.In(g.zone()).Format(time.RFC3339Nano)
			case 2:
				return t.In(g.zone()).Format("2006-01-02T15:04:05.000Z07:00")
			}
			return trove.FormatTime(t)
		}
		if g.chance(0.8) {
			q.TimeRange.Start = bound()
		}
		if g.chance(0.8) {
			q.TimeRange.End = bound()
		}
	}
	if m.withLnk && g.chance(0.2) {
		for range 1 + g.pick(2) {
			var c trove.LinkCriterion
			switch g.pick(4) {
			case 0:
				c.Type = g.str(modelTypes)
			case 1:
				c.TargetEvent = &trove.EventID{ID: fmt.Sprintf("m-%04d", g.pick(modelEvents+100))}
			case 2:
				c.Type = g.str(modelTypes)
				c.TargetEvent = &trove.EventID{ID: fmt.Sprintf("m-%04d", g.pick(modelEvents+100))}
			}
			q.Links = append(q.Links, c)
		}
	}
	if g.chance(0.4) {
		q.Payload = map[string]any{}
		for range 1 + g.pick(2) {
			path, v := randomPath(g, some().payload)
			q.Payload[path] = v
		}
	}
	if g.chance(0.2) {
		q.Search = randomSearch(g, some().payload)
	}
	q.AllVersions = g.chance(0.3)
	if g.chance(0.45) {
		for range 1 + g.pick(2) {
			f := trove.SortField{Field: g.str([]string{"createdAt", "producer", "schema", "id", "version", "position", "payload"})}
			if f.Field == "payload" {
				p, _ := randomPath(g, some().payload)
				f.Field = "payload." + p
			}
			f.Direction = g.str([]string{"", "asc", "desc", "desc"})
			q.Sort = append(q.Sort, f)
		}
	}
	if g.chance(0.2) {
		q.Offset = g.pick(40)
	}
	if g.chance(0.3) {
		q.Limit = trove.Limit(g.pick(60))
	}
	if g.chance(0.05) {
		switch g.pick(6) {
		case 0:
			q.Limit = trove.Limit(-1 - g.pick(5))
		case 1:
			q.Offset = -1
		case 2:
			q.TimeRange = &trove.TimeRange{Start: g.str([]string{"2025-03-01 10:00", "03/01/2025", "2025-3-1", "today"})}
		case 3:
			q.Payload = map[string]any{"author": map[string]any{"name": "x"}}
		case 4:
			q.Sort = []trove.SortField{{Field: g.str([]string{"title", "payload.", "created", "payload"})}}
		case 5:
			q.Sort = []trove.SortField{{Field: "id", Direction: "sideways"}}
		}
	}
	return q
}

// randomPath picks a dotted path in payload and a value for it: mostly the
// value there (with its number respelled), sometimes another.
func randomPath(g gen, payload any) (string, any) {
	var path []string
	v := payload
	for {
		obj, ok := v.(map[string]any)
		if !ok || len(obj) == 0 {
			break
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		k := keys[g.pick(len(keys))]
		path = append(path, k)
		v = obj[k]
		if g.chance(0.3) {
			break
		}
	}
	if len(path) == 0 || g.chance(0.1) {
		path = append(path, g.str(modelKeys))
	}
	p := strings.Join(path, ".")
	switch x := v.(type) {
	case json.Number:
		if g.chance(0.7) {
			r, _ := new(big.Rat).SetString(string(x))
			switch g.pick(3) {
			case 0:
				f, _ := r.Float64()
				return p, f
			case 1:
				if r.IsInt() {
					return p, int(r.Num().Int64())
				}
				return p, json.Number(r.FloatString(6))
			}
			return p, x
		}
	case string, bool, nil:
		if g.chance(0.7) {
			return p, x
		}
	}
	switch g.pick(4) {
	case 0:
		return p, nil
	case 1:
		return p, g.chance(0.5)
	case 2:
		return p, json.Number(g.number())
	}
	return p, g.word()
}

// randomSearch builds a search string of one to three clauses.
func randomSearch(g gen, payload any) string {
	var clauses []string
	for range 1 + g.pick(3) {
		prefix := g.str([]string{"", "", "+", "-"})
		path, v := randomPath(g, payload)
		var c string
		switch x := v.(type) {
		case string:
			toks := modelTokens(x)
			switch {
			case len(toks) > 1 && g.chance(0.5):
				c = fmt.Sprintf("%s:%q", path, strings.Join(toks, " "))
			case len(toks) > 0:
				c = path + ":" + toks[g.pick(len(toks))]
			default:
				c = path + ":" + "x"
			}
			if g.chance(0.3) && len(toks) > 0 {
				c = toks[g.pick(len(toks))] // a bare word
			}
		case json.Number, float64, int:
			op := g.str([]string{">", ">=", "<", "<=", ""})
			c = fmt.Sprintf("%s:%s%s", path, op, g.number())
		case bool:
			c = fmt.Sprintf("%s:%t", path, x)
		default:
			c = path + ":" + strings.ReplaceAll(g.word(), " ", "")
		}
		clauses = append(clauses, prefix+c)
	}
	return strings.Join(clauses, " ")
}
