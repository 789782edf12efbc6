package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	events     int
	quick      bool
	out        string
	data       string
	only       string
	inProcess  bool
	timeout    time.Duration
	seed       uint64
	contender  string // child mode: run this contender
	phase      string // child mode: "run" or "reopen"
	resultFile string // child mode: where to write the ContenderResult
	cpuProfile string // write a CPU profile of the measuring process here
	render     string // only render this results.json into -out
	settle     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.events, "events", 0, "events in the main store (default 100000, or 2000 with -quick)")
	fs.BoolVar(&o.quick, "quick", false, "small sizes: every contender in under a minute")
	fs.StringVar(&o.out, "out", filepath.Join("bench", "results"), "directory for report.md, results.json and the charts")
	fs.StringVar(&o.data, "data", "", "directory for the stores (default: a new temporary directory, removed after)")
	fs.StringVar(&o.only, "contenders", "", "comma-separated contender names to run (default: all)")
	fs.BoolVar(&o.inProcess, "inprocess", false, "run every contender in this process (no peak RSS, reopen in a warm process)")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up on a contender after this long (default 30m, or 3m with -quick)")
	fs.Uint64Var(&o.seed, "seed", 1, "dataset seed")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile here (with -inprocess, or of each contender's process as FILE.NAME)")
	fs.StringVar(&o.render, "render", "", "measure nothing: render this results.json into -out (report and charts)")
	fs.DurationVar(&o.settle, "settle", -1, "wait at most this long after ingest for the contender's background work before the reads (default 5m, or 30s with -quick; 0: do not wait)")
	fs.StringVar(&o.contender, "contender", "", "internal: run one contender in this process and write its results to -result")
	fs.StringVar(&o.phase, "phase", "run", "internal: run or reopen")
	fs.StringVar(&o.resultFile, "result", "", "internal: results file of -contender")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.events == 0 {
		o.events = 100_000
		if o.quick {
			o.events = 2_000
		}
	}
	if o.timeout == 0 {
		o.timeout = 30 * time.Minute
		if o.quick {
			o.timeout = 3 * time.Minute
		}
	}
	return o, nil
}

func (o options) config() Config {
	cfg := fullConfig(o.events)
	if o.quick {
		cfg = quickConfig(o.events)
	}
	cfg.Seed = o.seed
	if o.settle >= 0 {
		cfg.Settle = o.settle
	}
	return cfg
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if o.render != "" {
		if err := render(o.render, o.out); err != nil {
			log.Error("render", "err", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" && (o.contender != "" || o.inProcess) {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			os.Exit(1)
		}
		defer stopProfile()
	}
	if o.contender != "" {
		if err := child(ctx, o, log); err != nil {
			log.Error("contender failed", "contender", o.contender, "err", err)
			os.Exit(1)
		}
		return
	}
	res, err := runAll(ctx, o, o.config(), log, terminalProgress(os.Stderr))
	if err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
	if err := writeOutputs(o.out, res); err != nil {
		log.Error("writing the report", "err", err)
		os.Exit(1)
	}
	fmt.Println(summaryTable(res))
	log.Info("report written", "dir", o.out)
}

// child runs one contender's phase and writes its ContenderResult.
func child(ctx context.Context, o options, log *slog.Logger) error {
	c, ok := findContender(o.contender)
	if !ok {
		return fmt.Errorf("bench: unknown contender %q", o.contender)
	}
	if err := c.Available(); err != nil {
		return err
	}
	cfg := o.config()
	res := &ContenderResult{Name: c.Name, Kind: c.Kind, About: c.About, Status: statusOK, Workloads: map[string]*Measurement{}}
	save := func(r *ContenderResult) {
		if err := writeJSON(o.resultFile, r); err != nil {
			log.Error("writing results", "err", err)
		}
	}
	r := &runner{c: c, cfg: cfg, data: NewDataset(cfg.Seed, cfg.Events), dir: o.data,
		log: log.With("contender", c.Name), progress: terminalProgress(os.Stderr), res: res, save: save}
	switch o.phase {
	case "reopen":
		r.set(wReopen, r.reopen(ctx))
		return nil
	case "run":
		if err := r.run(ctx); err != nil {
			res.Status, res.Reason = statusFailed, err.Error()
			save(res)
			return err
		}
		return nil
	}
	return fmt.Errorf("bench: unknown phase %q", o.phase)
}

// runAll runs every selected contender, each in a child process unless
// o.inProcess, and gathers the results.
func runAll(ctx context.Context, o options, cfg Config, log *slog.Logger, prog progressFactory) (*Results, error) {
	data := o.data
	if data == "" {
		d, err := os.MkdirTemp("", "trove-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		data = d
	}
	res := &Results{Meta: machineMeta(cfg)}
	res.Meta.Isolated = !o.inProcess
	res.Meta.Command = "go run ./bench " + strings.Join(os.Args[1:], " ")
	log.Info("measuring the disk", "dir", data)
	res.Disk = measureDisk(filepath.Join(data, "disk-probe"), cfg.DiskMiB, cfg.FsyncOps)
	var want map[string]bool
	if o.only != "" {
		want = map[string]bool{}
		for _, n := range strings.Split(o.only, ",") {
			want[strings.TrimSpace(n)] = true
		}
	}
	all := contenders()
	for i, c := range all {
		if want != nil && !want[c.Name] {
			continue
		}
		dir := filepath.Join(data, fmt.Sprintf("c%d", i))
		cr := ContenderResult{Name: c.Name, Kind: c.Kind, About: c.About, Status: statusOK, Workloads: map[string]*Measurement{}}
		if err := c.Available(); err != nil {
			cr.Status, cr.Reason = statusUnavailable, err.Error()
			log.Warn("contender unavailable", "contender", c.Name, "reason", err)
			res.Contenders = append(res.Contenders, cr)
			continue
		}
		log.Info("running", "contender", c.Name, "n", fmt.Sprintf("%d/%d", i+1, len(all)), "events", cfg.Events)
		start := time.Now()
		if o.inProcess {
			cr = inProcess(ctx, c, cfg, dir, log, prog)
		} else {
			cr = isolated(ctx, c, o, dir, log)
		}
		if err := c.remove(ctx, mainDirOf(dir)); err != nil {
			log.Warn("could not remove a store", "contender", c.Name, "err", err)
		}
		os.RemoveAll(dir)
		log.Info("done", "contender", c.Name, "status", cr.Status, "took", time.Since(start).Round(time.Millisecond))
		res.Contenders = append(res.Contenders, cr)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return res, nil
}

// inProcess runs c in this process.
func inProcess(ctx context.Context, c Contender, cfg Config, dir string, log *slog.Logger, prog progressFactory) ContenderResult {
	res := &ContenderResult{Name: c.Name, Kind: c.Kind, About: c.About, Status: statusOK, Workloads: map[string]*Measurement{}}
	r := &runner{c: c, cfg: cfg, data: NewDataset(cfg.Seed, cfg.Events), dir: dir, log: log.With("contender", c.Name), progress: prog, res: res}
	if err := r.run(ctx); err != nil {
		res.Status, res.Reason = statusFailed, err.Error()
		return *res
	}
	r.set(wReopen, r.reopen(ctx))
	r.set(wRSS, &Measurement{NA: "in-process run"}) // the process holds every contender run so far
	return *res
}

// isolated runs c in two child processes of this binary: the workloads,
// then reopen in a fresh process. Peak RSS is the first child's, as it
// stood before the single-save workloads (or, where the system does not
// tell that, the child's whole peak).
func isolated(ctx context.Context, c Contender, o options, dir string, log *slog.Logger) ContenderResult {
	cr := ContenderResult{Name: c.Name, Kind: c.Kind, About: c.About, Status: statusOK, Workloads: map[string]*Measurement{}}
	runRes, rss, err := runChild(ctx, o, c.Name, "run", dir)
	if runRes != nil {
		cr.Workloads = runRes.Workloads
		cr.Status, cr.Reason = runRes.Status, runRes.Reason
	}
	if err != nil {
		cr.Status = statusFailed
		if cr.Reason == "" {
			cr.Reason = err.Error()
		}
		return cr
	}
	if m := cr.Workloads[wRSS]; m == nil || !m.ok() {
		// The system gave no peak before the single saves: use the
		// whole process's.
		cr.Workloads[wRSS] = &Measurement{Value: float64(rss) / (1 << 20)}
	}
	if !c.Persistent {
		cr.Workloads[wReopen] = &Measurement{NA: "in memory"}
		return cr
	}
	reo, _, err := runChild(ctx, o, c.Name, "reopen", dir)
	switch {
	case reo != nil && reo.Workloads[wReopen] != nil:
		cr.Workloads[wReopen] = reo.Workloads[wReopen]
	case err != nil:
		cr.Workloads[wReopen] = &Measurement{Error: err.Error()}
	}
	return cr
}

// runChild re-executes this binary for one contender phase and returns
// what it wrote and its peak RSS in bytes.
func runChild(ctx context.Context, o options, name, phase, dir string) (*ContenderResult, int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	resultFile := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-"+phase+".json")
	defer os.Remove(resultFile)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	args := []string{"-contender", name, "-phase", phase, "-result", resultFile, "-data", dir,
		"-events", strconv.Itoa(o.events), "-seed", strconv.FormatUint(o.seed, 10), "-settle", o.settle.String()}
	if o.quick {
		args = append(args, "-quick")
	}
	if o.cpuProfile != "" {
		args = append(args, "-cpuprofile", o.cpuProfile+"."+strings.NewReplacer("/", "-", " ", "-", "(", "", ")", "").Replace(name)+"."+phase)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout = os.Stderr
	tail := &tailWriter{max: 4096}
	cmd.Stderr = io.MultiWriter(os.Stderr, tail)
	runErr := cmd.Run()
	var rss int64
	if cmd.ProcessState != nil {
		rss = childRSS(cmd.ProcessState)
	}
	var res *ContenderResult
	if b, err := os.ReadFile(resultFile); err == nil {
		res = &ContenderResult{}
		if err := json.Unmarshal(b, res); err != nil {
			res = nil
		}
	}
	if runErr != nil {
		if ctx.Err() == context.DeadlineExceeded {
			runErr = fmt.Errorf("timed out after %s", o.timeout)
		} else if last := tail.lastLine(); last != "" {
			runErr = fmt.Errorf("%v: %s", runErr, last)
		}
		return res, rss, runErr
	}
	if res == nil {
		return nil, rss, errors.New("bench: the contender's process wrote no results")
	}
	return res, rss, nil
}

// tailWriter keeps the last bytes written to it.
type tailWriter struct {
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) lastLine() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// sourceCommit names the commit the binary was built from: the build's
// own record (go build stamps it; "-dirty" when the tree had changes),
// else, for go run, the git commit of the working directory.
func sourceCommit(buildInfo func() (*debug.BuildInfo, bool)) string {
	if info, ok := buildInfo(); ok {
		var rev string
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			rev = rev[:min(len(rev), 7)]
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

// machineMeta describes this machine and run.
func machineMeta(cfg Config) Meta {
	m := Meta{Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), OS: runtime.GOOS,
		Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Events: cfg.Events, Seed: cfg.Seed, Quick: cfg.Quick,
		SettleSeconds: cfg.Settle.Seconds()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	m.Commit = sourceCommit(debug.ReadBuildInfo)
	if kb, err := strconv.ParseFloat(strings.Fields(procField("/proc/meminfo", "MemTotal") + " 0")[0], 64); err == nil {
		m.MemoryGiB = float64(int(kb/(1<<20)*10+0.5)) / 10
	}
	d := NewDataset(cfg.Seed, cfg.Events)
	const sample = 2000
	var ev, pl, fb, files int
	for i := 0; i < sample; i++ {
		it := d.Item(i * max(1, cfg.Events/sample) % cfg.Events)
		ev += len(it.Encoded())
		pl += len(it.Event.Payload)
		if it.File != nil {
			fb += len(it.File)
			files++
		}
	}
	m.AvgEventBytes, m.AvgPayloadBytes = float64(ev)/sample, float64(pl)/sample
	if files > 0 {
		m.AvgFileBytes = float64(fb) / float64(files)
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// startCPUProfile profiles this process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// render rewrites the report and charts of a saved results.json into out.
func render(resultsPath, out string) error {
	b, err := os.ReadFile(resultsPath)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("bench: %s: %w", resultsPath, err)
	}
	return writeOutputs(out, &res)
}
