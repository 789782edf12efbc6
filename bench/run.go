package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trovedb/trove"
)

// Config sizes a run. quickConfig and fullConfig give the standard ones.
type Config struct {
	Events    int           // events in the main store
	Seed      uint64        // dataset seed
	Quick     bool          // the -quick sizes
	QueryOps  int           // operations per read workload, at most
	QueryTime time.Duration // time per read workload, at most
	SaveTime  time.Duration // time per single-save workload, at most
	SaveMax   int           // events per single-save workload, at most (all generated before the clock starts)
	VisOps    int           // samples of the ack-to-visible workload, at most
	VisTime   time.Duration // time for the ack-to-visible workload, at most (3 samples at least)
	Writers   []int         // writer counts of the single-save workloads
	DiskMiB   int           // MiB written by the disk bandwidth probe
	FsyncOps  int           // samples of the fsync latency probe
	// Settle bounds the wait after ingest for the contender's background
	// work (indexing, compaction) before the reads; 0: reads start as soon
	// as ingest returns.
	Settle time.Duration
}

// fullConfig is the default run's sizes for events events.
func fullConfig(events int) Config {
	return Config{Events: events, Seed: 1, QueryOps: 2000, QueryTime: 3 * time.Second,
		SaveTime: 4 * time.Second, SaveMax: 60_000, VisOps: 200, VisTime: 10 * time.Second, Writers: []int{1, 8, 64},
		DiskMiB: 256, FsyncOps: 500, Settle: 5 * time.Minute}
}

// quickConfig is -quick: small enough to finish every contender in under
// a minute.
func quickConfig(events int) Config {
	return Config{Events: events, Seed: 1, Quick: true, QueryOps: 100, QueryTime: 150 * time.Millisecond,
		SaveTime: 250 * time.Millisecond, SaveMax: 5_000, VisOps: 10, VisTime: time.Second, Writers: []int{1, 8, 64},
		DiskMiB: 16, FsyncOps: 50, Settle: 30 * time.Second}
}

// runner measures one contender; it is what a child process (or the
// in-process mode) executes.
type runner struct {
	c        Contender
	cfg      Config
	data     *Dataset
	dir      string // the contender's working directory
	log      *slog.Logger
	progress progressFactory
	res      *ContenderResult
	save     func(*ContenderResult) // called after each workload with the results so far
	pool     []Item                 // the single-save workloads' events
}

func (r *runner) set(id string, m *Measurement) {
	r.res.Workloads[id] = m
	if r.save != nil {
		r.save(r.res)
	}
}

func (r *runner) mainDir() string { return mainDirOf(r.dir) }

// mainDirOf is the main store's directory in a contender's directory dir.
func mainDirOf(dir string) string { return filepath.Join(dir, "main") }

// run measures everything but reopen time: ingest and file saves, reads,
// ack-to-visible, disk bytes, peak RSS so far (where the system tells it),
// then single saves on fresh stores.
func (r *runner) run(ctx context.Context) error {
	if err := errors.Join(r.c.remove(ctx, r.mainDir()), os.RemoveAll(r.dir)); err != nil {
		return err
	}
	st, err := r.c.Open(ctx, r.mainDir(), r.log)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	stored, err := r.ingest(ctx, st)
	if err != nil {
		st.Close(ctx)
		return fmt.Errorf("ingest: %w", err)
	}
	r.set(wSettle, r.settle(ctx))
	logStats(r.log, "settled", st)
	rd, reads := st.(Reader)
	for _, qw := range queryWorkloads(r.data) {
		if !reads {
			r.set(qw.id, &Measurement{NA: "no reads"})
			continue
		}
		r.set(qw.id, r.reads(ctx, rd, qw))
	}
	if reads {
		logStats(r.log, "before ack-to-visible", st)
		lag, lookup := r.visibility(ctx, st, rd)
		stored += lag.Ops
		r.set(wUnique, lookup)
		r.set(wVisibility, lag)
	} else {
		r.set(wUnique, &Measurement{NA: "no reads"})
		r.set(wVisibility, &Measurement{NA: "no reads"})
	}
	if err := st.Close(ctx); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if r.c.Persistent {
		size, err := r.c.size(ctx, r.mainDir())
		if err != nil {
			r.set(wDisk, &Measurement{Error: err.Error()})
		} else {
			r.set(wDisk, &Measurement{Value: float64(size) / float64(stored), Ops: stored})
		}
	} else {
		r.set(wDisk, &Measurement{NA: "in memory"})
	}
	if mib, ok := peakRSS(); ok {
		r.set(wRSS, &Measurement{Value: mib})
	}
	for _, w := range r.cfg.Writers {
		r.set(saveWorkload(w), r.singles(ctx, w))
	}
	r.pool = nil
	r.fileSaves(ctx)
	return nil
}

// ingest saves the dataset's events in batches of 1,000 and returns how
// many it saved. Only the save calls are timed: each batch is generated,
// encoded and laid out (newBatch) before its clock starts. The files of a
// batch's events are saved before it, one SaveFile each, timed apart as
// the file-saves workload.
func (r *runner) ingest(ctx context.Context, st Store) (int, error) {
	const batch = 1000
	bar := r.progress(r.c.Name+": ingest", r.cfg.Events)
	defer bar.Finish()
	var total, fileTotal time.Duration
	var lat, fileLat []time.Duration
	var fileBytes int64
	fileErr := ""
	files := true
	items := make([]Item, 0, batch)
	for start := 0; start < r.cfg.Events; start += batch {
		items = items[:0]
		for i := start; i < min(start+batch, r.cfg.Events); i++ {
			items = append(items, r.data.Item(i))
		}
		for i := range items {
			if items[i].File == nil || !files {
				continue
			}
			t := time.Now()
			err := st.SaveFile(ctx, &items[i])
			d := time.Since(t)
			if errors.Is(err, errUnsupported) {
				files = false
				continue
			}
			if err != nil {
				fileErr, files = err.Error(), false
				continue
			}
			fileTotal += d
			fileLat = append(fileLat, d)
			fileBytes += int64(len(items[i].File))
		}
		b := newBatch(items)
		if p, ok := st.(preparer); ok {
			p.PrepareBatch(b)
		}
		t := time.Now()
		if err := st.SaveBatch(ctx, b); err != nil {
			r.set(wIngest, &Measurement{Error: err.Error()})
			return 0, fmt.Errorf("batch at %d: %w", start, err)
		}
		d := time.Since(t)
		total += d
		lat = append(lat, d)
		bar.Add(len(items))
	}
	m := &Measurement{Ops: r.cfg.Events, Seconds: total.Seconds(), PerSec: float64(r.cfg.Events) / total.Seconds()}
	m.Percentiles = percentiles(lat)
	r.set(wIngest, m)
	switch {
	case fileErr != "":
		r.set(wFiles, &Measurement{Error: fileErr, Ops: len(fileLat)})
	case !files:
		r.set(wFiles, &Measurement{NA: "stores no files"})
	case len(fileLat) == 0:
		r.set(wFiles, &Measurement{NA: "no files in a dataset this small"})
	default:
		fm := &Measurement{Ops: len(fileLat), Seconds: fileTotal.Seconds(), PerSec: float64(len(fileLat)) / fileTotal.Seconds(),
			MBPerSec: float64(fileBytes) / 1e6 / fileTotal.Seconds(), Bytes: fileBytes}
		fm.Percentiles = percentiles(fileLat)
		r.set(wFiles, fm)
	}
	return r.cfg.Events, nil
}

// logStats logs the store's own figures when it reports any.
func logStats(log *slog.Logger, when string, st Store) {
	if s, ok := st.(interface{ Stats() map[string]float64 }); ok {
		if m := s.Stats(); m != nil {
			log.Info("store stats", "when", when, "stats", m)
		}
	}
}

// Idle, for settle: the process used less than settleIdle of one CPU over
// settleWindow (long enough to span a store's once-a-second background
// checks).
const (
	settleIdle   = 0.05
	settleWindow = 2 * time.Second
)

// settle waits until the contender's process is idle, at most cfg.Settle,
// and returns how long that took. A store that indexes or compacts in the
// background after acknowledging its saves finishes that work here, so the
// reads that follow measure every contender the same way: at rest.
func (r *runner) settle(ctx context.Context) *Measurement {
	if r.cfg.Settle <= 0 {
		return &Measurement{NA: "not waited for (-settle 0)"}
	}
	begin := time.Now()
	prev, ok := processCPU()
	if !ok {
		return &Measurement{NA: "process CPU time unknown here"}
	}
	t := time.NewTicker(settleWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return &Measurement{Error: ctx.Err().Error()}
		case <-t.C:
		}
		now, _ := processCPU()
		if float64(now-prev) < settleIdle*float64(settleWindow) {
			// The idle window itself is not background work.
			el := max(time.Since(begin)-settleWindow, 0)
			return &Measurement{Value: el.Seconds(), Ops: 1}
		}
		prev = now
		if time.Since(begin) > r.cfg.Settle {
			r.log.Warn("still busy after -settle; reads start anyway", "settle", r.cfg.Settle)
			return &Measurement{Value: time.Since(begin).Seconds(), Ops: 1}
		}
	}
}

// reads runs one read workload until QueryOps operations or QueryTime.
func (r *runner) reads(ctx context.Context, rd Reader, qw queryWorkload) *Measurement {
	h := fnv.New64a()
	h.Write([]byte(qw.id))
	rng := rand.New(rand.NewPCG(r.cfg.Seed, h.Sum64())) // the same query sequence for every contender
	bar := r.progress(r.c.Name+": "+qw.id, r.cfg.QueryOps)
	defer bar.Finish()
	var lat []time.Duration
	results := 0
	deadline := time.Now().Add(r.cfg.QueryTime)
	begin := time.Now()
	for len(lat) < r.cfg.QueryOps && (len(lat) < 3 || time.Now().Before(deadline)) {
		var n int
		var err error
		if qw.getID != nil {
			id := qw.getID(rng)
			t := time.Now()
			err = rd.Get(ctx, id)
			lat = append(lat, time.Since(t))
			n = 1
		} else {
			q := qw.next(rng)
			t := time.Now()
			n, err = rd.Query(ctx, q)
			lat = append(lat, time.Since(t))
		}
		if errors.Is(err, errUnsupported) {
			return &Measurement{NA: "query shape not supported"}
		}
		if err != nil {
			return &Measurement{Error: err.Error()}
		}
		results += n
		bar.Add(1)
	}
	el := time.Since(begin)
	m := &Measurement{Ops: len(lat), Seconds: el.Seconds(), PerSec: float64(len(lat)) / el.Seconds(), Results: results}
	m.Percentiles = percentiles(lat)
	return m
}

// visibility saves events one at a time (VisOps of them, or as many as
// VisTime allows) and, after each save returns, queries the event's unique
// traceId until it is found. It returns two measurements: the lag from the
// save's return to the start of the first query that found the event (the
// acknowledgement-to-visible workload: 0 when the first query found it; an
// upper bound, since a query that started just before the event became
// visible delays the next one), and
// the duration of that query (the unique-payload-value workload).
func (r *runner) visibility(ctx context.Context, st Store, rd Reader) (lag, lookup *Measurement) {
	bar := r.progress(r.c.Name+": "+wVisibility, r.cfg.VisOps)
	defer bar.Finish()
	var lags, looks []time.Duration
	base := r.cfg.Events * 5
	deadline := time.Now().Add(r.cfg.VisTime)
	fail := func(m *Measurement) (*Measurement, *Measurement) { return m, m }
	for k := 0; k < r.cfg.VisOps && (k < 3 || time.Now().Before(deadline)); k++ {
		it := r.data.Item(base + k)
		it.Encoded()
		q := trove.EventQuery{Payload: map[string]any{"traceId": r.data.TraceID(base + k)}, Limit: trove.Limit(1)}
		if err := st.Save(ctx, &it); err != nil {
			return fail(&Measurement{Error: err.Error(), Ops: k})
		}
		acked := time.Now()
		for try := 0; ; try++ {
			qs := time.Now()
			n, err := rd.Query(ctx, q)
			qd := time.Since(qs)
			if errors.Is(err, errUnsupported) {
				return fail(&Measurement{NA: "query shape not supported", Ops: k + 1})
			}
			if err != nil {
				return fail(&Measurement{Error: err.Error(), Ops: k + 1})
			}
			if n > 0 {
				if try == 0 {
					lags = append(lags, 0) // visible when the save returned
				} else {
					lags = append(lags, qs.Sub(acked))
				}
				looks = append(looks, qd)
				break
			}
			if time.Since(acked) > 30*time.Second {
				return fail(&Measurement{Error: "event not visible 30s after its save returned", Ops: k + 1})
			}
			time.Sleep(100 * time.Microsecond)
		}
		bar.Add(1)
	}
	lag, lookup = &Measurement{Ops: len(lags)}, &Measurement{Ops: len(looks), Results: len(looks)}
	lag.Percentiles = percentiles(lags)
	lookup.Percentiles = percentiles(looks)
	return lag, lookup
}

// singlesPool returns the events the single-save workloads save: SaveMax
// of them, generated and encoded once, before any clock starts, and shared
// by every writer count (each runs on a fresh store).
func (r *runner) singlesPool() []Item {
	if r.pool == nil {
		r.pool = make([]Item, r.cfg.SaveMax)
		base := r.cfg.Events * 10
		for n := range r.pool {
			r.pool[n] = r.data.Item(base + n)
			r.pool[n].Encoded()
		}
	}
	return r.pool
}

// timedWriters has writers goroutines call op with the indexes first,
// first+1, … below max, each index once, until SaveTime has passed or a
// call fails. It returns every call's latency, the wall time and the first
// error.
func (r *runner) timedWriters(writers, first, max int, bar progress, op func(k int) error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	next.Store(int64(first))
	var failed atomic.Pointer[error]
	stop := time.Now().Add(r.cfg.SaveTime)
	lats := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && failed.Load() == nil {
				k := int(next.Add(1)) - 1
				if k >= max {
					return
				}
				t := time.Now()
				if err := op(k); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lats[w] = append(lats[w], time.Since(t))
				bar.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(begin)
	if e := failed.Load(); e != nil {
		return nil, el, *e
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, el, nil
}

// singles opens a fresh store and has writers goroutines save one event
// per call, the pool's events in order, until SaveTime or SaveMax events.
// The events are generated before the clock starts.
func (r *runner) singles(ctx context.Context, writers int) *Measurement {
	pool := r.singlesPool()
	dir := filepath.Join(r.dir, fmt.Sprintf("singles-%d", writers))
	r.removeStore(ctx, dir)
	defer r.removeStore(ctx, dir)
	st, err := r.c.Open(ctx, dir, r.log)
	if err != nil {
		return &Measurement{Error: "open: " + err.Error()}
	}
	defer st.Close(ctx)
	if p, ok := st.(preparer); ok {
		for i := range pool {
			p.PrepareItem(&pool[i])
		}
	}
	bar := r.progress(fmt.Sprintf("%s: %d writers", r.c.Name, writers), r.cfg.SaveMax)
	defer bar.Finish()
	all, el, err := r.timedWriters(writers, 0, r.cfg.SaveMax, bar, func(k int) error { return st.Save(ctx, &pool[k]) })
	if err != nil {
		return &Measurement{Error: err.Error()}
	}
	m := &Measurement{Ops: len(all), Seconds: el.Seconds(), PerSec: float64(len(all)) / el.Seconds()}
	m.Percentiles = percentiles(all)
	return m
}

// reopen opens the populated main store, gets one event by id (when the
// store reads) and closes it; the time to the first answer is reopen time.
func (r *runner) reopen(ctx context.Context) *Measurement {
	if !r.c.Persistent {
		return &Measurement{NA: "in memory"}
	}
	t := time.Now()
	st, err := r.c.Open(ctx, r.mainDir(), r.log)
	if err != nil {
		return &Measurement{Error: err.Error()}
	}
	defer st.Close(ctx)
	if rd, ok := st.(Reader); ok {
		if err := rd.Get(ctx, r.data.ID(r.cfg.Events/2)); err != nil {
			return &Measurement{Error: "get after reopen: " + err.Error()}
		}
	}
	el := time.Since(t)
	return &Measurement{Value: float64(el) / float64(time.Millisecond), Ops: 1}
}

// removeStore deletes the store on dir (Contender.remove), once it is
// closed.
func (r *runner) removeStore(ctx context.Context, dir string) {
	if err := r.c.remove(ctx, dir); err != nil {
		r.log.Warn("could not remove a store", "dir", dir, "err", err)
	}
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
