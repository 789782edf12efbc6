package main

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove/internal/fsutil"
)

// Output file names inside the -out directory.
const (
	reportFile  = "report.md"
	resultsFile = "results.json"
	ingestChart = "ingest.png"
	readChart   = "reads.png"
)

// writeOutputs writes the report, the results JSON and the charts to dir.
func writeOutputs(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, resultsFile), res); err != nil {
		return err
	}
	if err := writeCharts(dir, res); err != nil {
		return err
	}
	return fsutil.WriteFileBytes(filepath.Join(dir, reportFile), []byte(report(res)), 0o644)
}

// primary returns the number a workload is compared by, and whether m has one.
func primary(w Workload, m *Measurement) (float64, bool) {
	if !m.ok() {
		return 0, false
	}
	switch w.Metric {
	case throughput:
		return m.PerSec, m.PerSec > 0
	case latency:
		return m.P50Ms, m.Ops > 0
	default:
		return m.Value, m.Value > 0
	}
}

// cellText is what a table cell says when m has no number.
func cellText(c *ContenderResult, m *Measurement) string {
	switch {
	case c.Status == statusUnavailable:
		return "unavailable"
	case m == nil && c.Status == statusFailed:
		return "failed"
	case m == nil:
		return "—"
	case m.NA != "":
		return "n/a"
	case m.Error != "":
		return "error"
	}
	return ""
}

func baselineOf(res *Results) *ContenderResult {
	for i := range res.Contenders {
		if res.Contenders[i].Name == baseline {
			return &res.Contenders[i]
		}
	}
	return nil
}

// ratio renders x relative to the baseline's number for w.
func ratio(res *Results, w Workload, x float64) string {
	b := baselineOf(res)
	if b == nil {
		return "—"
	}
	bv, ok := primary(w, b.Workloads[w.ID])
	if !ok || bv == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x/bv)
}

// num renders a number with 3 significant digits and thousands separators.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		var out []byte
		for i, c := range []byte(s) {
			if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
				out = append(out, ',')
			}
			out = append(out, c)
		}
		return string(out)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		// Three significant digits, never in exponent form.
		r, _ := strconv.ParseFloat(fmt.Sprintf("%.3g", v), 64)
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
}

func unitOf(w Workload) string {
	switch w.Metric {
	case throughput:
		if strings.HasPrefix(w.ID, "save_") || w.ID == wIngest {
			return "events/s"
		}
		if strings.HasPrefix(w.ID, wFiles) {
			return "files/s"
		}
		return "ops/s"
	case latency:
		return "p50 ms"
	}
	return w.Unit
}

// summaryTable is one table: a row per workload, a column per contender,
// each cell the workload's primary number.
func summaryTable(res *Results) string {
	var b strings.Builder
	b.WriteString("| workload | unit |")
	for _, c := range res.Contenders {
		b.WriteString(" " + c.Name + " |")
	}
	b.WriteString("\n|---|---|")
	for range res.Contenders {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, w := range workloads() {
		fmt.Fprintf(&b, "| %s | %s |", w.Title, unitOf(w))
		for i := range res.Contenders {
			c := &res.Contenders[i]
			m := c.Workloads[w.ID]
			if v, ok := primary(w, m); ok {
				b.WriteString(" " + num(v) + " |")
			} else {
				b.WriteString(" " + cellText(c, m) + " |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// report renders the whole Markdown report.
func report(res *Results) string {
	var b strings.Builder
	m := res.Meta
	b.WriteString("# Trove benchmark\n\n")
	fmt.Fprintf(&b, "Command: `%s` — %s", m.Command, m.Date)
	if m.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", m.Commit)
	}
	b.WriteString(".\n\n")
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, %.1f GiB memory, %s/%s, %s.", orUnknown(m.CPU), m.CPUs, m.MemoryGiB, m.OS, m.Arch, m.GoVersion)
	if res.Disk.Error == "" {
		fmt.Fprintf(&b, " Disk of the data directory: %s MB/s sequential write + fsync, 4 KiB append + fdatasync p50 %s ms, p99 %s ms.",
			num(res.Disk.SeqWriteMBps), num(res.Disk.FsyncP50Ms), num(res.Disk.FsyncP99Ms))
	} else {
		fmt.Fprintf(&b, " Disk probe failed: %s.", res.Disk.Error)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Dataset: %s events (seed %d), %d schemas, %d producers, mean event %s bytes of JSON (payload %s bytes), "+
		"status 1%% / 10%% / 89%%, %d%% of events link to an earlier one, %.0f%% carry a small file, createdAt over %d days.",
		num(float64(m.Events)), m.Seed, numSchemas, numProducers, num(m.AvgEventBytes), num(m.AvgPayloadBytes),
		linkPercent, float64(filePermille)/10, spanDays)
	if m.AvgFileBytes > 0 {
		fmt.Fprintf(&b, " Files average %s bytes; they are saved apart from the events (file saves), so the ingest workloads measure events alone.",
			num(m.AvgFileBytes))
	}
	if m.Quick {
		b.WriteString(" **Quick run**: small sizes, for checking that everything works; the numbers are noisy.")
	}
	if !m.Isolated {
		b.WriteString(" Contenders ran in one process: no peak RSS.")
	}
	b.WriteString("\n\n## Contenders\n\n| contender | kind | status | what |\n|---|---|---|---|\n")
	for _, c := range res.Contenders {
		st := c.Status
		if c.Reason != "" {
			st += ": " + oneLine(c.Reason)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Name, c.Kind, st, c.About)
	}
	b.WriteString("\n## Summary\n\n")
	b.WriteString("Each cell is the workload's main number: events/s (files/s) for saves (higher is better); p50 latency in ms for reads; " +
		"the unit shown otherwise (lower is better). n/a: the contender does not offer the operation. ")
	if res.Meta.SettleSeconds > 0 {
		fmt.Fprintf(&b, "Reads start once the contender's process is idle after ingest (background work after ingest; at most %s), "+
			"so they measure every store at rest; run with -settle 0 to read while background work still runs. ",
			time.Duration(res.Meta.SettleSeconds*float64(time.Second)))
	} else {
		b.WriteString("Reads start as soon as ingest returns, as in production: a backend's background work (sealing, indexing) may still be running " +
			"and shows in p99, or in a workload answered by scanning until its index has caught up. ")
	}
	b.WriteString("On a small shared machine numbers can move by a factor of two between runs: compare contenders within one run.\n\n")
	b.WriteString(summaryTable(res))
	fmt.Fprintf(&b, "\n![ingest](%s)\n\n![reads](%s)\n", ingestChart, readChart)
	b.WriteString("\n## Workloads\n")
	for _, w := range workloads() {
		fmt.Fprintf(&b, "\n### %s\n\n%s.\n\n", w.Title, upperFirst(w.About))
		switch w.Metric {
		case throughput:
			sep := "|---|---:|---:|---:|---:|\n"
			if extraHeader(w) != "" {
				sep = "|---|---:|---:|---:|---:|---:|\n"
			}
			fmt.Fprintf(&b, "| contender | %s | %sp50 ms | p99 ms | ratio to %s (higher is better) |\n%s", unitOf(w), extraHeader(w), baseline, sep)
		case latency:
			fmt.Fprintf(&b, "| contender | p50 ms | p99 ms | ops | ratio to %s, p50 (lower is better) |\n|---|---:|---:|---:|---:|\n", baseline)
		default:
			fmt.Fprintf(&b, "| contender | %s | ratio to %s (lower is better) |\n|---|---:|---:|\n", w.Unit, baseline)
		}
		var notes []string
		for i := range res.Contenders {
			c := &res.Contenders[i]
			ms := c.Workloads[w.ID]
			v, ok := primary(w, ms)
			if !ok {
				text := cellText(c, ms)
				switch {
				case c.Status == statusUnavailable:
					text += ": " + oneLine(c.Reason)
				case ms != nil && ms.NA != "":
					text += " (" + ms.NA + ")"
				case ms != nil && ms.Error != "":
					text += ": " + oneLine(ms.Error)
				}
				cols := map[metric]int{throughput: 4, latency: 4, value: 2}[w.Metric]
				if extraHeader(w) != "" {
					cols++
				}
				fmt.Fprintf(&b, "| %s | %s |%s\n", c.Name, text, strings.Repeat(" |", cols-1))
				continue
			}
			switch w.Metric {
			case throughput:
				fmt.Fprintf(&b, "| %s | %s | %s%s | %s | %s |\n", c.Name, num(v), extraCell(w, ms), num(ms.P50Ms), num(ms.P99Ms), ratio(res, w, v))
			case latency:
				fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", c.Name, num(ms.P50Ms), num(ms.P99Ms), ms.Ops, ratio(res, w, v))
			default:
				fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, num(v), ratio(res, w, v))
			}
		}
		if n := resultMismatch(res, w); n != "" {
			notes = append(notes, n)
		}
		for _, n := range notes {
			b.WriteString("\n" + n + "\n")
		}
	}
	b.WriteString("\nRatios divide each contender's number by " + baseline + "'s. Benchmarks print numbers; nothing here passes or fails on timing.\n")
	return b.String()
}

// resultMismatch notes a read workload whose contenders returned different
// numbers of events for the same queries. Contenders that ran the same
// number of operations ran the same query sequence (it is seeded), so
// their totals must agree; when they do not, their timings are not
// comparable and the report says so.
func resultMismatch(res *Results, w Workload) string {
	if w.Metric != latency || w.ID == wVisibility || w.ID == wUnique {
		return ""
	}
	byOps := map[int]map[int][]string{} // ops -> results -> contenders
	for _, c := range res.Contenders {
		m := c.Workloads[w.ID]
		if !m.ok() || m.Ops == 0 {
			continue
		}
		if byOps[m.Ops] == nil {
			byOps[m.Ops] = map[int][]string{}
		}
		byOps[m.Ops][m.Results] = append(byOps[m.Ops][m.Results], c.Name)
	}
	var parts []string
	for _, ops := range slices.Sorted(maps.Keys(byOps)) {
		rs := byOps[ops]
		if len(rs) < 2 {
			continue
		}
		var p []string
		for _, n := range slices.Sorted(maps.Keys(rs)) {
			p = append(p, fmt.Sprintf("%s returned %d events", strings.Join(rs[n], ", "), n))
		}
		parts = append(parts, fmt.Sprintf("over the same %d queries %s", ops, strings.Join(p, "; ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "**Results differ:** " + strings.Join(parts, "; ") + "."
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// extraHeader is the header of a throughput workload's extra column (file
// saves show MB/s), ending in " | ", or "".
func extraHeader(w Workload) string {
	if strings.HasPrefix(w.ID, wFiles) {
		return "MB/s | "
	}
	return ""
}

// extraCell is m's cell of the extra column, ending in " | ", or "".
func extraCell(w Workload, m *Measurement) string {
	if strings.HasPrefix(w.ID, wFiles) {
		return num(m.MBPerSec) + " | "
	}
	return ""
}
