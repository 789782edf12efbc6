package httpapi

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/engine"
	"github.com/trovedb/trove/internal/console"
)

// Figures of GET /api/stats.
const (
	// ingestBucket is the width of one bar of the ingest chart.
	ingestBucket = 10 * time.Second
	// ingestWindow is how far back the ingest chart reaches.
	ingestWindow = 15 * time.Minute
	// maxCountedNames caps the distinct schemas, and separately the
	// distinct producers, counted by name; the others are summed into one
	// "others" figure so that hostile input cannot grow the heap.
	maxCountedNames = 1000
	// sizeTTL is how long a measured store size is reused.
	sizeTTL = 10 * time.Second
)

// storeStats answers GET /api/stats, the figures of the console's overview.
//
// Costs, per request: one Stats() call per plugin that reports figures, the
// last position (the engine's counter, else one query sorted by position,
// descending, limit 1), a directory walk of the plugins that have a
// directory at most every sizeTTL, and reading the last check's small
// file. Counts by schema and producer come from one subscription to the
// log, started by the first request and kept until StopStreams: it reads
// the whole log once in the background (the response says counting until
// it has caught up), then one event at a time as they commit. Its memory
// is bounded by maxCountedNames and the ingest window's buckets.
type storeStats struct {
	s    *Server
	once sync.Once
	mu   struct {
		sync.Mutex
		started   time.Time         // when counting began
		target    uint64            // the last position when counting began: the catch-up's end
		counted   uint64            // the last position counted
		ids       uint64            // events counted at version 1: distinct ids
		schemas   map[string]uint64 // count by schema identity
		producers map[string]uint64 // count by producer
		others    [2]uint64         // events of schemas, producers past maxCountedNames
		ingest    map[int64]uint64  // events per bucket (unix time / ingestBucket)
		err       string            // why counting stopped, "" while it runs
		size      int64             // bytes of the store's directories, -1 unknown
		sizeAt    time.Time         // when size was measured
	}
}

func newStoreStats(s *Server) *storeStats {
	st := &storeStats{s: s}
	st.mu.schemas = map[string]uint64{}
	st.mu.producers = map[string]uint64{}
	st.mu.ingest = map[int64]uint64{}
	st.mu.size = -1
	return st
}

// nameCount is one schema or producer with its events.
type nameCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// statsBody is the body of GET /api/stats.
type statsBody struct {
	Now          string               `json:"now"`
	LastPosition uint64               `json:"lastPosition"`
	Plugins      []pluginStats        `json:"plugins"`
	StoreBytes   *int64               `json:"storeBytes,omitempty"`
	Counting     bool                 `json:"counting"`
	CountedUpTo  uint64               `json:"countedUpTo"`
	IDs          uint64               `json:"ids"`
	CountError   string               `json:"countError,omitempty"`
	Schemas      []nameCount          `json:"schemas"`
	Producers    []nameCount          `json:"producers"`
	OtherCounts  map[string]uint64    `json:"otherCounts,omitempty"`
	Ingest       ingestSeries         `json:"ingest"`
	Check        *console.CheckResult `json:"check,omitempty"`
	Auth         bool                 `json:"auth"`
}

type pluginStats struct {
	Name    string             `json:"name"`
	Roles   []trove.Capability `json:"roles"`
	Figures map[string]float64 `json:"figures,omitempty"`
}

// ingestSeries is events per bucket, oldest first, the last bucket ending
// at End.
type ingestSeries struct {
	BucketSeconds int      `json:"bucketSeconds"`
	End           string   `json:"end"`
	Since         string   `json:"since"` // when the daemon began counting
	Counts        []uint64 `json:"counts"`
}

func (st *storeStats) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := time.Now().UTC()
	last, err := st.lastPosition(ctx)
	if err != nil {
		st.s.fail(w, r, err)
		return
	}
	st.once.Do(func() { st.start(last) })

	body := statsBody{Now: now.Format(trove.TimeLayout), LastPosition: last, Auth: st.s.AuthEnabled()}
	var dirs []string
	for _, p := range st.s.core.PluginInstances() {
		ps := pluginStats{Name: p.Name(), Roles: p.Capabilities()}
		if sr, ok := p.(StatsReporter); ok {
			ps.Figures = sr.Stats()
		}
		body.Plugins = append(body.Plugins, ps)
		if d := pluginDir(p); d != "" {
			dirs = append(dirs, d)
		}
	}
	if size := st.storeSize(dirs, now); size >= 0 {
		body.StoreBytes = &size
	}
	for _, d := range dirs {
		if res, ok, err := console.ReadCheckResult(d); err == nil && ok {
			body.Check = &res
			break
		}
	}

	st.mu.Lock()
	body.CountedUpTo = st.mu.counted
	body.IDs = st.mu.ids
	body.Counting = st.mu.counted < st.mu.target && st.mu.err == ""
	body.CountError = st.mu.err
	body.Schemas = sortedCounts(st.mu.schemas)
	body.Producers = sortedCounts(st.mu.producers)
	if st.mu.others[0] > 0 || st.mu.others[1] > 0 {
		body.OtherCounts = map[string]uint64{"schemas": st.mu.others[0], "producers": st.mu.others[1]}
	}
	end := now.Unix() / int64(ingestBucket/time.Second)
	n := int64(ingestWindow / ingestBucket)
	body.Ingest = ingestSeries{BucketSeconds: int(ingestBucket / time.Second),
		End:    time.Unix((end+1)*int64(ingestBucket/time.Second), 0).UTC().Format(trove.TimeLayout),
		Since:  st.mu.started.Format(trove.TimeLayout),
		Counts: make([]uint64, n)}
	for b, c := range st.mu.ingest {
		if i := b - (end - n + 1); i >= 0 && i < n {
			body.Ingest.Counts[i] = c
		} else if i < 0 {
			delete(st.mu.ingest, b)
		}
	}
	st.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// lastPosition is the engine's counter when a plugin reports one, else the
// position of the last event by a query.
func (st *storeStats) lastPosition(ctx context.Context) (uint64, error) {
	if sr, ok := st.s.core.Events().(StatsReporter); ok {
		if v, ok := sr.Stats()["events"]; ok && v >= 0 {
			return uint64(v), nil
		}
	}
	evs, err := st.s.core.QueryEvents(ctx, trove.EventQuery{AllVersions: true,
		Sort: []trove.SortField{{Field: "position", Direction: "desc"}}, Limit: trove.Limit(1)})
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return evs[0].Position, nil
}

// start begins counting the log from its first event in the background,
// until StopStreams. Events up to target (the last position now) are
// history: they count in the ingest chart by their createdAt when it falls
// in the window. Later events count at the moment they arrive.
func (st *storeStats) start(target uint64) {
	st.mu.Lock()
	st.mu.started = time.Now().UTC()
	st.mu.target = target
	st.mu.Unlock()
	source := st.s.streamSource()
	if source == nil {
		st.mu.Lock()
		st.mu.err = "the event storage cannot stream its log, so events are not counted by schema and producer"
		st.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-st.s.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	go func() {
		defer cancel()
		err := source(ctx, 0, st.count)
		st.mu.Lock()
		defer st.mu.Unlock()
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, trove.ErrClosed):
			st.mu.err = "counting stopped: the server is shutting down"
		case err != nil:
			st.s.log.Error("httpapi: counting events for /api/stats", "err", err)
			st.mu.err = "counting stopped: the storage failed"
		}
	}()
}

// count adds one event to the counts.
func (st *storeStats) count(e trove.Event) error {
	at := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if e.Position <= st.mu.target {
		at = e.CreatedAt
	}
	if time.Since(at) <= ingestWindow {
		st.mu.ingest[at.Unix()/int64(ingestBucket/time.Second)]++
	}
	addCount(st.mu.schemas, e.Schema.Identity(), &st.mu.others[0])
	addCount(st.mu.producers, e.Producer, &st.mu.others[1])
	st.mu.counted = e.Position
	if e.ID.Version == 1 {
		st.mu.ids++ // every id's history starts at version 1
	}
	if st.mu.counted > st.mu.target {
		st.mu.target = st.mu.counted
	}
	return nil
}

func addCount(m map[string]uint64, name string, others *uint64) {
	if _, ok := m[name]; ok || len(m) < maxCountedNames {
		m[name]++
		return
	}
	*others++
}

// sortedCounts lists m by count, descending, then by name.
func sortedCounts(m map[string]uint64) []nameCount {
	out := make([]nameCount, 0, len(m))
	for k, v := range m {
		out = append(out, nameCount{k, v})
	}
	slices.SortFunc(out, func(a, b nameCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// pluginDir is the directory a plugin keeps its data in: the engine's, or
// that of any plugin with a Dir method; "" when unknown.
func pluginDir(p trove.Plugin) string {
	switch p := p.(type) {
	case *engine.Plugin:
		if st, err := p.Store(); err == nil {
			return st.Dir()
		}
	case interface{ Dir() string }:
		return p.Dir()
	}
	return ""
}

// storeSize sums the sizes of the files under dirs, measured at most every
// sizeTTL; -1 when there is no directory or it cannot be read.
func (st *storeStats) storeSize(dirs []string, now time.Time) int64 {
	if len(dirs) == 0 {
		return -1
	}
	st.mu.Lock()
	if now.Sub(st.mu.sizeAt) < sizeTTL {
		size := st.mu.size
		st.mu.Unlock()
		return size
	}
	st.mu.Unlock()
	var total int64
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		err := filepath.WalkDir(d, func(_ string, de fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed while walking: a sealed WAL part
				}
				return err
			}
			if de.Type().IsRegular() {
				if info, err := de.Info(); err == nil {
					total += info.Size()
				}
			}
			return nil
		})
		if err != nil {
			total = -1
			break
		}
	}
	st.mu.Lock()
	st.mu.size, st.mu.sizeAt = total, now
	st.mu.Unlock()
	return total
}
