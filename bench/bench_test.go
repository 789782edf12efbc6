package main

import (
	"context"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// tinyConfig is a -quick-like run small enough for CI under -race.
func tinyConfig() Config {
	return Config{Events: 300, Seed: 7, Quick: true, QueryOps: 5, QueryTime: 20 * time.Millisecond,
		SaveTime: 30 * time.Millisecond, SaveMax: 40, VisOps: 3, VisTime: time.Second, Writers: []int{1, 8, 64},
		DiskMiB: 1, FsyncOps: 5}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// mustRun are the contenders that must run in the test: the in-memory
// backend and every peer. The others run when they are linked in.
var mustRun = []string{"storage-memory", "tidwall/wal", "pebble", "sqlite (hand-tuned)", "nats jetstream", "disk"}

func TestHarnessWritesAWellFormedReport(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	o := options{out: out, data: t.TempDir(), inProcess: true, quick: true, events: 300, seed: 7,
		only: strings.Join(mustRun, ",")}
	res, err := runAll(ctx, o, tinyConfig(), quietLog, quietProgress)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeOutputs(out, res); err != nil {
		t.Fatal(err)
	}

	if len(res.Contenders) != len(mustRun) {
		t.Fatalf("ran %d contenders, want %d", len(res.Contenders), len(mustRun))
	}
	for _, c := range res.Contenders {
		if c.Status != statusOK {
			t.Errorf("%s: status %s (%s)", c.Name, c.Status, c.Reason)
			continue
		}
		for _, w := range workloads() {
			m := c.Workloads[w.ID]
			if m == nil {
				t.Errorf("%s: no result for %s", c.Name, w.ID)
				continue
			}
			if m.Error != "" {
				t.Errorf("%s: %s failed: %s", c.Name, w.ID, m.Error)
			}
		}
		if m := c.Workloads[wIngest]; m.ok() && m.Ops != 300 {
			t.Errorf("%s: ingested %d events, want 300", c.Name, m.Ops)
		}
	}
	// The readers answer every read workload, and all return the same
	// number of events for the same queries.
	for _, name := range []string{"storage-memory", "sqlite (hand-tuned)"} {
		c := find(t, res, name)
		for _, qw := range queryWorkloads(NewDataset(7, 300)) {
			if m := c.Workloads[qw.id]; !m.ok() || m.Ops == 0 {
				t.Errorf("%s: %s has no measurement: %+v", name, qw.id, m)
			}
		}
	}
	// Files are measured apart from events, for every contender here
	// (all of them store files).
	files := 0
	for i := 0; i < 300; i++ {
		if it := NewDataset(7, 300).Item(i); it.File != nil {
			files++
		}
	}
	for _, c := range res.Contenders {
		if m := c.Workloads[wFiles]; !m.ok() || m.Ops != files || m.MBPerSec <= 0 {
			t.Errorf("%s: file saves %+v, want %d files", c.Name, m, files)
		}
	}
	if m := find(t, res, "tidwall/wal").Workloads[wGet]; m.NA == "" {
		t.Errorf("tidwall/wal get by id should be n/a, got %+v", m)
	}
	if m := find(t, res, "storage-memory").Workloads[wReopen]; m.NA == "" {
		t.Errorf("storage-memory reopen should be n/a, got %+v", m)
	}
	if m := find(t, res, "sqlite (hand-tuned)").Workloads[wDisk]; !m.ok() || m.Value <= 0 {
		t.Errorf("sqlite disk bytes: %+v", m)
	}

	// results.json reads back.
	b, err := os.ReadFile(filepath.Join(out, resultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if back.Meta.Events != 300 || len(back.Contenders) != len(mustRun) {
		t.Errorf("results.json: events %d, contenders %d", back.Meta.Events, len(back.Contenders))
	}

	// report.md: a section per workload with a row per contender, every
	// table row with as many cells as its header.
	rb, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	rep := string(rb)
	for _, w := range workloads() {
		sec := section(rep, "### "+w.Title)
		if sec == "" {
			t.Errorf("report has no section %q", w.Title)
			continue
		}
		for _, c := range mustRun {
			if !strings.Contains(sec, "| "+c+" |") {
				t.Errorf("section %q has no row for %s", w.Title, c)
			}
		}
	}
	checkTables(t, rep)

	// -render reproduces the report from results.json alone.
	again := t.TempDir()
	if err := render(filepath.Join(out, resultsFile), again); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(again, reportFile)); err != nil || string(b) != rep {
		t.Errorf("the report rendered from results.json differs (err %v)", err)
	}

	for _, name := range []string{ingestChart, readChart} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 || b.Dx() > 1600 {
			t.Errorf("%s: %v", name, b)
		}
	}
}

func TestUnavailableContenderIsReported(t *testing.T) {
	res := &Results{Contenders: []ContenderResult{
		{Name: baseline, Status: statusUnavailable, Reason: "plugin storage-log is not built into this binary", Workloads: map[string]*Measurement{}},
		{Name: "disk", Status: statusOK, Workloads: map[string]*Measurement{wIngest: {Ops: 10, PerSec: 100}}},
	}}
	rep := report(res)
	if !strings.Contains(rep, "| storage-log |  | unavailable: plugin storage-log is not built into this binary |") {
		t.Errorf("the report does not say storage-log is unavailable:\n%s", rep)
	}
	checkTables(t, rep)
}

func TestChildWritesItsResults(t *testing.T) {
	dir := t.TempDir()
	o := options{contender: "disk", phase: "run", resultFile: filepath.Join(dir, "r.json"), data: filepath.Join(dir, "d"),
		events: 200, quick: true, seed: 3}
	if err := child(context.Background(), o, quietLog); err != nil {
		t.Fatal(err)
	}
	var r ContenderResult
	b, err := os.ReadFile(o.resultFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != statusOK || !r.Workloads[wIngest].ok() || r.Workloads[wIngest].Ops != 200 {
		t.Fatalf("child result: %+v", r)
	}
	o.phase = "reopen"
	if err := child(context.Background(), o, quietLog); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(o.resultFile)
	r = ContenderResult{}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Workloads[wReopen].ok() {
		t.Fatalf("reopen result: %+v", r.Workloads[wReopen])
	}
}

func TestDatasetIsDeterministicAndShaped(t *testing.T) {
	a, b := NewDataset(5, 10_000), NewDataset(5, 10_000)
	status := map[string]int{}
	links, files, payload := 0, 0, 0
	for i := 0; i < 10_000; i++ {
		x, y := a.Item(i), b.Item(i)
		if string(x.Encoded()) != string(y.Encoded()) {
			t.Fatalf("event %d differs between two datasets of the same seed", i)
		}
		status[a.Status(i)]++
		if len(x.Event.Links) > 0 {
			links++
			if a.LinkTarget(i) >= i {
				t.Fatalf("event %d links forward", i)
			}
		}
		if x.File != nil {
			files++
		}
		payload += len(x.Event.Payload)
		if i > 0 && a.CreatedAt(i).Before(a.CreatedAt(i-1).Add(-a.step)) {
			t.Fatalf("createdAt of %d goes back more than a step", i)
		}
	}
	within := func(name string, got, want, tol int) {
		if got < want-tol || got > want+tol {
			t.Errorf("%s: %d, want %d±%d", name, got, want, tol)
		}
	}
	within("failed", status[statusRare], 100, 40)
	within("pending", status[statusCommon], 1000, 120)
	within("links", links, 3000, 200)
	within("files", files, 200, 60)
	within("mean payload bytes", payload/10_000, 300, 60)
	if a.ID(1) == a.ID(2) || NewDataset(6, 10_000).ID(1) == a.ID(1) {
		t.Error("ids collide")
	}
}

func find(t *testing.T, res *Results, name string) *ContenderResult {
	t.Helper()
	for i := range res.Contenders {
		if res.Contenders[i].Name == name {
			return &res.Contenders[i]
		}
	}
	t.Fatalf("no contender %s in the results", name)
	return nil
}

// section returns the text from heading to the next heading.
func section(doc, heading string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading)+1:]
	if j := strings.Index(rest, "\n#"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// checkTables checks that every row of every Markdown table has as many
// cells as the table's header.
func checkTables(t *testing.T, doc string) {
	t.Helper()
	cells := -1
	for n, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			continue
		}
		c := strings.Count(line, "|")
		if cells < 0 {
			cells = c
			continue
		}
		if c != cells {
			t.Errorf("report line %d has %d cell borders, its table %d: %s", n+1, c, cells, line)
		}
	}
}

// TestIngestSavesEventsAndFilesApart checks what ingest hands a store: the
// disk peer's event log holds exactly the events' JSON (no file bytes), and
// its file log exactly the dataset's files.
func TestIngestSavesEventsAndFilesApart(t *testing.T) {
	ctx := context.Background()
	c, _ := findContender("disk")
	cfg := tinyConfig()
	res := &ContenderResult{Workloads: map[string]*Measurement{}}
	r := &runner{c: c, cfg: cfg, data: NewDataset(cfg.Seed, cfg.Events), dir: t.TempDir(), log: quietLog, progress: quietProgress, res: res}
	st, err := c.Open(ctx, r.mainDir(), quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.ingest(ctx, st); err != nil || n != cfg.Events {
		t.Fatalf("ingest: %d, %v", n, err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var events, files int64
	nfiles := 0
	for i := 0; i < cfg.Events; i++ {
		it := r.data.Item(i)
		events += int64(len(it.Encoded())) + 1
		if it.File != nil {
			files += int64(len(it.File))
			nfiles++
		}
	}
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(r.mainDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if got := size("log"); got != events {
		t.Errorf("event log: %d bytes, want the events' JSON, %d", got, events)
	}
	if got := size("files"); got != files {
		t.Errorf("file log: %d bytes, want the files' bytes, %d", got, files)
	}
	if m := res.Workloads[wFiles]; !m.ok() || m.Ops != nfiles || m.Bytes != files {
		t.Errorf("file saves: %+v, want %d files of %d bytes", m, nfiles, files)
	}
	if m := res.Workloads[wIngest]; !m.ok() || m.Ops != cfg.Events {
		t.Errorf("ingest: %+v", m)
	}
}

// TestSourceCommit names the commit from the build's record, marks a
// build of a changed tree, and falls back to git without one.
func TestSourceCommit(t *testing.T) {
	info := func(settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Settings: settings}, true }
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "9e1f7482c3d0aa11"}
	if got := sourceCommit(info(rev)); got != "9e1f748" {
		t.Errorf("clean build: %q", got)
	}
	if got := sourceCommit(info(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})); got != "9e1f748-dirty" {
		t.Errorf("build of a changed tree: %q", got)
	}
	// Without a record: git's answer for this directory, a checkout of
	// the project (or nothing, where git is missing).
	want := ""
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		want = strings.TrimSpace(string(out))
	}
	if got := sourceCommit(func() (*debug.BuildInfo, bool) { return nil, false }); got != want {
		t.Errorf("no build record: %q, want git's %q", got, want)
	}
}
