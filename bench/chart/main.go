// Command chart draws the chart of a benchmark run from its JSON results:
//
//	go run ./chart -in results.json -out results.svg
//
// The benchmark (go run . -chart FILE) runs it for you. It is a program of its
// own so that the measured program, which shm re-executes for every child
// process, does not carry the plotting library.
//
// Left: how many times faster shm is than Python's multiprocessing.sharedctypes.
// Right: shm's time over the hardware limit's (the same operation with no
// library). Both on log scales; bars are green when the target is
// met, red when missed, grey when there is none; ticks mark the targets; dots
// mark the hardware limit's own speed-up over Python.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type result struct {
	Name        string  `json:"name"`
	Speedup     float64 `json:"speedup"`
	PythonNever bool    `json:"python_never"`
	Overhead    float64 `json:"overhead"`
	// LimitSpeedup is the hardware limit's speed-up over Python.
	LimitSpeedup float64 `json:"limit_speedup"`
	Target       struct {
		MinSpeedup  float64 `json:"min_speedup"`
		MaxOverhead float64 `json:"max_overhead"`
	} `json:"target"`
	Error string `json:"error"`
}

type report struct {
	Machine struct {
		Cores  int    `json:"cores"`
		CPU    string `json:"cpu"`
		Kernel string `json:"kernel"`
		Go     string `json:"go"`
		Python string `json:"python"`
	} `json:"machine"`
	Config struct {
		Quick   bool `json:"quick"`
		Runs    int  `json:"runs"`
		GoRunsX int  `json:"go_runs_x"`
	} `json:"config"`
	Results []result `json:"results"`
}

var (
	grey  = color.RGBA{150, 150, 150, 255}
	green = color.RGBA{46, 139, 87, 255}
	red   = color.RGBA{205, 55, 55, 255}
)

func main() {
	in := flag.String("in", "results.json", "the benchmark's JSON results")
	out := flag.String("out", "results.svg", "the chart to write: .svg, .png or .pdf")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintf(os.Stderr, "chart: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var rs []result
	for _, r := range rep.Results {
		if r.Error == "" {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return fmt.Errorf("%s: no results", in)
	}

	names := make([]string, len(rs))
	for i, r := range rs {
		names[len(rs)-1-i] = r.Name // the first workload at the top
	}
	left, err := panel(rs, "speed-up over Python: shm (bars) and the hardware limit (dots)", names,
		func(r result) bar {
			switch {
			case r.PythonNever:
				return bar{x: math.Inf(1), met: true, target: r.Target.MinSpeedup, label: "Python never recovers"}
			case r.Speedup <= 0:
				return bar{}
			}
			met := r.Target.MinSpeedup == 0 || r.Speedup >= r.Target.MinSpeedup
			return bar{x: r.Speedup, met: met, target: r.Target.MinSpeedup, label: ratio(r.Speedup), dot: r.LimitSpeedup}
		})
	if err != nil {
		return err
	}
	blank := make([]string, len(names))
	right, err := panel(rs, "shm time / hardware limit time", blank,
		func(r result) bar {
			if r.Overhead <= 0 {
				return bar{}
			}
			met := r.Target.MaxOverhead == 0 || r.Overhead <= r.Target.MaxOverhead
			return bar{x: r.Overhead, met: met, target: r.Target.MaxOverhead, label: ratio(r.Overhead)}
		})
	if err != nil {
		return err
	}

	w, h := 13*vg.Inch, vg.Length(len(rs))*0.32*vg.Inch+1.6*vg.Inch
	var c vg.CanvasWriterTo
	switch format := strings.ToLower(strings.TrimPrefix(filepath.Ext(out), ".")); format {
	case "png":
		// Sharper than the default 96 dpi.
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))}
	default:
		if c, err = draw.NewFormattedCanvas(w, h, format); err != nil {
			return err
		}
	}
	dc := draw.New(c)
	m := rep.Machine
	caption := fmt.Sprintf("shm vs Python multiprocessing.sharedctypes vs the hardware limit: %d cores, %s, Linux %s, %s, %s, medians of %d runs (Python: %d)",
		m.Cores, m.CPU, m.Kernel, m.Go, m.Python, rep.Config.Runs*max(rep.Config.GoRunsX, 1), rep.Config.Runs)
	if rep.Config.Quick {
		caption += " (-quick)"
	}
	sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, 11), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YTop}
	dc.FillText(sty, vg.Point{X: w / 2, Y: h - 0.15*vg.Inch}, caption)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadTop: 0.45 * vg.Inch, PadBottom: 0.1 * vg.Inch,
		PadLeft: 0.1 * vg.Inch, PadRight: 0.2 * vg.Inch, PadX: 0.3 * vg.Inch}
	cs := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(cs[0][0])
	right.Draw(cs[0][1])

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ratio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// A bar is one result's ratio x (0: none; +Inf: drawn to the edge), coloured
// by whether its target (0: none) is met, with a tick at the target, label
// written at its end, and a dot at dot (0: none).
type bar struct {
	x      float64
	met    bool
	target float64
	label  string
	dot    float64
}

// panel draws one horizontal bar per result.
func panel(rs []result, title string, names []string, get func(result) bar) (*plot.Plot, error) {
	n := len(rs)
	p := plot.New()
	p.Title.Text = title
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4

	// The range, in log10 of the ratios.
	lo, hi := 0.0, 0.0
	for _, r := range rs {
		b := get(r)
		for _, x := range []float64{b.x, b.target, b.dot} {
			if x > 0 && !math.IsInf(x, 1) {
				lo, hi = math.Min(lo, math.Log10(x)), math.Max(hi, math.Log10(x))
			}
		}
	}
	edge := hi + 0.3 // where infinite bars end
	p.X.Min, p.X.Max = math.Min(lo-0.1, -0.1), edge+0.55

	bars := map[color.Color]plotter.Values{grey: make(plotter.Values, n), green: make(plotter.Values, n), red: make(plotter.Values, n)}
	var labels plotter.XYLabels
	var targets []plotter.XYs
	var dots plotter.XYs
	for i, r := range rs {
		y := float64(n - 1 - i)
		b := get(r)
		if b.x <= 0 {
			continue
		}
		lx := edge
		if !math.IsInf(b.x, 1) {
			lx = math.Log10(b.x)
		}
		col := color.Color(grey)
		if b.target > 0 {
			col = red
			if b.met {
				col = green
			}
			tx := math.Log10(b.target)
			targets = append(targets, plotter.XYs{{X: tx, Y: y - 0.42}, {X: tx, Y: y + 0.42}})
		}
		bars[col][n-1-i] = lx
		at := math.Max(lx, 0)
		if b.dot > 0 {
			d := math.Log10(b.dot)
			dots = append(dots, plotter.XY{X: d, Y: y})
			if d > at-0.05 && d < at+0.3 { // keep the label clear of the dot
				at = d + 0.04
			}
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: at, Y: y})
		labels.Labels = append(labels.Labels, " "+b.label)
	}
	for _, col := range []color.Color{grey, green, red} {
		b, err := plotter.NewBarChart(bars[col], 9)
		if err != nil {
			return nil, err
		}
		b.Horizontal = true
		b.Color = col
		b.LineStyle.Width = 0
		p.Add(b)
	}
	one, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.6}, {X: 0, Y: float64(n) - 0.4}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Color = color.Black
	one.LineStyle.Width = vg.Points(0.5)
	p.Add(one)
	for _, xy := range targets {
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = color.Black
		l.LineStyle.Width = vg.Points(2)
		p.Add(l)
	}
	if len(dots) > 0 {
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(2.5)
		sc.GlyphStyle.Color = color.Black
		p.Add(sc)
	}
	if len(labels.XYs) > 0 {
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(8)
			lb.TextStyle[i].YAlign = draw.YCenter
		}
		p.Add(lb)
	}
	p.X.Tick.Marker = logTicks(p.X.Min, edge)
	p.X.Label.Text = "×, log scale"
	g := plotter.NewGrid()
	g.Horizontal.Width = 0
	p.Add(g)
	return p, nil
}

// logTicks marks 1-2-5 steps between 10^lo and 10^hi.
func logTicks(lo, hi float64) plot.ConstantTicks {
	var ts []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			lv := math.Log10(v)
			if lv < lo-1e-9 || lv > hi+1e-9 {
				continue
			}
			label := ""
			if m == 1 || hi-lo < 2.5 {
				label = strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", v), "0"), ".0") + "×"
				label = strings.Replace(label, ".0×", "×", 1)
			}
			ts = append(ts, plot.Tick{Value: lv, Label: label})
		}
	}
	return ts
}
