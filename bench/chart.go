package main

import (
	"image/color"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeCharts draws the two charts the README embeds: saves (events/s)
// and reads (p50 ms), one marker per contender and workload, on log
// scales because the contenders differ by orders of magnitude.
func writeCharts(dir string, res *Results) error {
	saves := []string{wIngest, wSave1, wSave8, wSave64}
	if err := dotChart(filepath.Join(dir, ingestChart), res, "Durable saves (higher is better)", "events/s",
		saves, []string{"batch of 1,000", "1 writer", "8 writers", "64 writers"}); err != nil {
		return err
	}
	reads := []string{wGet, wFilter, wTime, wLink, wPay1, wPay10, wSearch, wSort, wUnique}
	return dotChart(filepath.Join(dir, readChart), res, "Reads, p50 latency (lower is better)", "ms",
		reads, []string{"get id", "schema+prod", "1h window", "link", "status 1%", "status 10%", "search", "newest 20", "traceId"})
}

// palette gives each contender a colour no other has (storage-log's red
// is reserved for it).
var palette = []color.Color{
	color.RGBA{R: 214, G: 39, B: 40, A: 255},   // red
	color.RGBA{R: 31, G: 119, B: 180, A: 255},  // blue
	color.RGBA{R: 44, G: 160, B: 44, A: 255},   // green
	color.RGBA{R: 255, G: 127, B: 14, A: 255},  // orange
	color.RGBA{R: 188, G: 189, B: 34, A: 255},  // olive
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, // purple
	color.RGBA{R: 23, G: 190, B: 207, A: 255},  // teal
	color.RGBA{R: 80, G: 80, B: 80, A: 255},    // grey
	color.RGBA{R: 227, G: 119, B: 194, A: 255}, // pink
}

func dotChart(path string, res *Results, title, unit string, ids, labels []string) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = shortTicks{plot.LogTicks{Prec: -1}}
	p.NominalX(labels...)
	p.X.Min = -0.7
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	n := 0
	lo, hi := 0.0, 0.0
	// Colours follow the contender table, so every chart and every run
	// draws a contender the same way.
	order := map[string]int{}
	for i, c := range contenders() {
		order[c.Name] = i
	}
	for k, c := range res.Contenders {
		ci, known := order[c.Name]
		if !known {
			ci = len(order) + k
		}
		// Spread contenders a little so their markers do not hide each other.
		off := (float64(k) - float64(len(res.Contenders)-1)/2) * 0.06
		var xys plotter.XYs
		for i, id := range ids {
			w := findWorkload(id)
			if v, ok := primary(w, c.Workloads[id]); ok {
				xys = append(xys, plotter.XY{X: float64(i) + off, Y: v})
				if lo == 0 || v < lo {
					lo = v
				}
				hi = max(hi, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.GlyphStyle.Color = palette[ci%len(palette)]
		s.GlyphStyle.Shape = plotutil.Shape(ci)
		s.GlyphStyle.Radius = vg.Points(3.5)
		if c.Name == baseline {
			s.GlyphStyle.Radius = vg.Points(5)
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			s.GlyphStyle.Color = palette[0]
		}
		p.Add(s)
		p.Legend.Add(c.Name, s)
		n++
	}
	if n == 0 {
		// Nothing measured: still a valid, labelled chart.
		lo, hi = 1, 10
	}
	p.Y.Min, p.Y.Max = lo/2, hi*2
	// Room on the right for the legend.
	p.X.Max += 2.2
	return p.Save(9*vg.Inch, 4*vg.Inch, path)
}

// shortTicks labels log ticks as 0.01, 1, 10, 1k, 1M instead of 1e+06.
type shortTicks struct{ inner plot.Ticker }

func (t shortTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := t.inner.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = short(ts[i].Value)
		}
	}
	return ts
}

func short(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 3, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
