package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a workload is. Add is safe for concurrent use.
type progress interface {
	Add(n int)
	Finish()
}

// progressFactory makes a progress display for a workload of total steps.
type progressFactory func(desc string, total int) progress

type noProgress struct{}

func (noProgress) Add(int) {}
func (noProgress) Finish() {}

// quietProgress shows nothing (not a terminal, or a test).
func quietProgress(string, int) progress { return noProgress{} }

type bar struct{ b *progressbar.ProgressBar }

func (b bar) Add(n int) { _ = b.b.Add(n) }
func (b bar) Finish()   { _ = b.b.Finish() }

// terminalProgress returns bars drawn on w when w is a terminal, and
// quietProgress otherwise.
func terminalProgress(w *os.File) progressFactory {
	if !term.IsTerminal(int(w.Fd())) {
		return quietProgress
	}
	return func(desc string, total int) progress {
		return bar{progressbar.NewOptions(total,
			progressbar.OptionSetWriter(io.Writer(w)),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)}
	}
}
