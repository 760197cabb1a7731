//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

type machine struct {
	Cores  int    `json:"cores"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
	OS     string `json:"os"`
	Go     string `json:"go"`
	Python string `json:"python"`
	// Library is the version of shm measured.
	Library string `json:"library,omitempty"`
}

type report struct {
	Machine machine   `json:"machine"`
	Config  config    `json:"config"`
	Started string    `json:"started"`
	Seconds float64   `json:"seconds"`
	Results []*result `json:"results"`
}

// stats summarizes the runs of one version of a workload.
type stats struct {
	Name    string    `json:"name"`
	N       int       `json:"n"` // size of one run
	Median  float64   `json:"median,omitempty"`
	Min     float64   `json:"min,omitempty"`
	Max     float64   `json:"max,omitempty"`
	Samples []float64 `json:"samples,omitempty"`
	// Lost updates, where counted: median, min and max over the runs, and
	// the number of updates made in one run.
	Lost    *[3]float64 `json:"lost,omitempty"`
	Updates float64     `json:"updates,omitempty"`
	// Failed says why the runs measured nothing (for Python's owner death:
	// the lock is never recovered).
	Failed string `json:"failed,omitempty"`
}

func (s stats) ok() bool { return s.Failed == "" && len(s.Samples) > 0 }

type result struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Group          string  `json:"group"`
	Unit           string  `json:"unit"`
	HigherIsBetter bool    `json:"higher_is_better,omitempty"`
	Shm            stats   `json:"shm"`
	Python         []stats `json:"python,omitempty"`
	Limit          []stats `json:"limit,omitempty"`
	// Speedup is how many times faster shm is than the fastest Python
	// version; PythonNever says that Python never completes the workload.
	Speedup     float64 `json:"speedup,omitempty"`
	SpeedupVs   string  `json:"speedup_vs,omitempty"`
	PythonNever bool    `json:"python_never,omitempty"`
	// LimitSpeedup is how many times faster the fastest limit is than the
	// fastest Python version: the most any library could reach.
	LimitSpeedup float64 `json:"limit_speedup,omitempty"`
	// Overhead is shm's time over the fastest limit's time, or over the
	// time of the limit that the target names.
	Overhead   float64  `json:"overhead,omitempty"`
	OverheadVs string   `json:"overhead_vs,omitempty"`
	Target     target   `json:"target"`
	Status     []string `json:"target_status,omitempty"`
	Missed     bool     `json:"missed,omitempty"`
	Note       string   `json:"note,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func summarize(name string, n int, unit string, lost bool, ss []sample) stats {
	st := stats{Name: name, N: n}
	var lo []float64
	for _, s := range ss {
		if s.Failed != "" {
			st.Failed = s.Failed
			continue
		}
		st.Samples = append(st.Samples, metric(unit, s))
		lo = append(lo, s.Lost)
		st.Updates = s.Ops
	}
	if len(st.Samples) == 0 {
		st.Samples = nil
		return st
	}
	st.Failed = "" // some runs measured: report those
	st.Median, st.Min, st.Max = median(st.Samples), slices.Min(st.Samples), slices.Max(st.Samples)
	if lost {
		st.Lost = &[3]float64{median(lo), slices.Min(lo), slices.Max(lo)}
	} else {
		st.Updates = 0
	}
	return st
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// better reports whether figure a is better than b.
func (r *result) better(a, b float64) bool {
	if r.HigherIsBetter {
		return a > b
	}
	return a < b
}

// timeRatio returns how many times longer a takes than b.
func (r *result) timeRatio(a, b float64) float64 {
	if r.HigherIsBetter {
		return b / a
	}
	return a / b
}

func (r *result) best(ss []stats) (stats, bool) {
	var best stats
	found := false
	for _, s := range ss {
		if s.ok() && (!found || r.better(s.Median, best.Median)) {
			best, found = s, true
		}
	}
	return best, found
}

// compare computes the ratios and checks the targets.
func (r *result) compare() {
	if !r.Shm.ok() {
		return
	}
	if p, ok := r.best(r.Python); ok {
		r.Speedup, r.SpeedupVs = r.timeRatio(p.Median, r.Shm.Median), p.Name
	} else if len(r.Python) > 0 {
		r.PythonNever = true
	}
	if l, ok := r.best(r.Limit); ok {
		r.Overhead, r.OverheadVs = r.timeRatio(r.Shm.Median, l.Median), l.Name
		if p, ok := r.best(r.Python); ok {
			r.LimitSpeedup = r.timeRatio(p.Median, l.Median)
		}
	}
	if vs := r.Target.Vs; vs != "" {
		r.Overhead, r.OverheadVs = 0, ""
		for _, l := range r.Limit {
			if l.Name == vs && l.ok() {
				r.Overhead, r.OverheadVs = r.timeRatio(r.Shm.Median, l.Median), l.Name
			}
		}
	}
	r.Status = nil
	r.Missed = false
	if t := r.Target.MinSpeedup; t > 0 && (r.Speedup > 0 || r.PythonNever) {
		met := r.PythonNever || r.Speedup >= t
		r.Status = append(r.Status, fmt.Sprintf("≥%g× Python: %s%s", t, metStr(met), close(r.Speedup, t)))
		r.Missed = r.Missed || !met
	}
	if t := r.Target.MaxOverhead; t > 0 && r.Overhead > 0 {
		met := r.Overhead <= t
		vs := "limit"
		if r.Target.Vs != "" {
			vs = r.Target.Vs
		}
		r.Status = append(r.Status, fmt.Sprintf("≤%g× %s: %s%s", t, vs, metStr(met), close(r.Overhead, t)))
		r.Missed = r.Missed || !met
	}
}

// close gives x more precisely when its rounded figure would look like the
// target t.
func close(x, t float64) string {
	if x > 0 && math.Abs(x-t) < 0.01*t {
		return fmt.Sprintf(" (%.4g×)", x)
	}
	return ""
}

func metStr(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

// summary is the one-line progress report of a finished workload.
func (r *result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shm %s %s", fmtNum(r.Shm.Median), r.Unit)
	if r.Speedup > 0 {
		fmt.Fprintf(&b, ", %s× Python (%s)", fmtNum(r.Speedup), r.SpeedupVs)
	} else if r.PythonNever {
		b.WriteString(", Python never")
	}
	if r.Overhead > 0 {
		fmt.Fprintf(&b, ", %s× limit (%s)", fmtNum(r.Overhead), r.OverheadVs)
	}
	if len(r.Status) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(r.Status, ", "))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\n        warning: %s", w)
	}
	return b.String()
}

// fmtNum formats x with about three significant digits.
func fmtNum(x float64) string {
	a := math.Abs(x)
	switch {
	case math.IsInf(x, 0) || math.IsNaN(x):
		return fmt.Sprint(x)
	case a >= 1000:
		return commas(int64(math.Round(x)))
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	case a == 0:
		return "0"
	}
	return fmt.Sprintf("%.3g", x)
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func cell(ss []stats) string {
	var parts []string
	for _, s := range ss {
		v := fmtNum(s.Median)
		if !s.ok() {
			v = "never"
			if !strings.HasPrefix(s.Failed, "never") {
				v = "failed"
			}
		}
		if len(ss) > 1 {
			v = s.Name + " " + v
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

// printTable writes the results as one Markdown table, followed by the notes.
func (rep *report) printTable(w io.Writer) {
	head := []string{"Workload", "Unit", "shm median (min–max)", "Python median", "limit median", "shm vs Python", "shm / limit", "Target", "Lost updates shm / Python / limit"}
	rows := [][]string{head}
	for _, r := range rep.Results {
		if r.Error != "" {
			rows = append(rows, []string{r.Name, r.Unit, "error", "", "", "", "", "", ""})
			continue
		}
		shmCell := fmt.Sprintf("%s (%s–%s)", fmtNum(r.Shm.Median), fmtNum(r.Shm.Min), fmtNum(r.Shm.Max))
		sp := "–"
		switch {
		case r.PythonNever:
			sp = "∞ (Python never)"
		case r.Speedup > 0:
			sp = fmtNum(r.Speedup) + "× faster"
			if r.Speedup < 1 {
				sp = fmtNum(1/r.Speedup) + "× slower"
			}
		}
		ov := "–"
		if r.Overhead > 0 {
			ov = fmtNum(r.Overhead) + "×"
		}
		tgt := strings.Join(r.Status, ", ")
		if tgt == "" {
			tgt = "–"
		}
		rows = append(rows, []string{r.Name, r.Unit, shmCell, cell(r.Python), cell(r.Limit), sp, ov, tgt, lostCell(r)})
	}
	widths := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range row {
			b.WriteString(" " + c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	fmt.Fprintln(w, "| "+strings.Join(sep, " | ")+" |")
	for _, row := range rows[1:] {
		line(row)
	}

	fmt.Fprintln(w)
	m := rep.Machine
	fmt.Fprintf(w, "Machine: %d cores, %s, Linux %s, %s, %s, %s.", m.Cores, m.CPU, m.Kernel, m.OS, m.Go, m.Python)
	if m.Library != "" {
		fmt.Fprintf(w, " shm %s.", m.Library)
	}
	fmt.Fprintf(w, " %d runs of each shm and limit version and %d of each Python version, interleaved", rep.Config.Runs*rep.Config.GoRunsX, rep.Config.Runs)
	if rep.Config.Quick {
		fmt.Fprint(w, "; -quick: sizes divided by 10 (arrays: 200,000 elements)")
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		var notes []string
		if r.Note != "" {
			notes = append(notes, r.Note)
		}
		if t := r.Target.MinSpeedup; t > 0 && r.Speedup > 0 && r.Speedup < t && r.LimitSpeedup > 0 {
			notes = append(notes, fmt.Sprintf("missed ≥%g× Python: even the limit is only %s× faster than Python here", t, fmtNum(r.LimitSpeedup)))
		}
		if l := lostNote(r); l != "" {
			notes = append(notes, l)
		}
		for _, p := range r.Python {
			if p.Failed != "" {
				notes = append(notes, "Python "+p.Name+": "+p.Failed)
			}
		}
		if r.Group == "scaling" && r.ID == "scale-8" {
			notes = append(notes, fmt.Sprintf("%d cores: beyond %d processes the lock holder gets preempted", m.Cores, m.Cores))
		}
		notes = append(notes, r.Warnings...)
		if r.Error != "" {
			notes = append(notes, "error: "+r.Error)
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "- %s: %s.\n", r.Name, strings.Join(notes, "; "))
		}
	}
}

// lostCell gives the median share of updates lost by shm, the best Python
// version and the limit, where counted.
func lostCell(r *result) string {
	pct := func(s stats) string {
		if s.Lost == nil || s.Updates == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", 100*s.Lost[0]/s.Updates)
	}
	if r.Shm.Lost == nil {
		return "–"
	}
	py, lim := "–", "–"
	if len(r.Python) > 0 {
		py = pct(r.Python[0])
	}
	if len(r.Limit) > 0 {
		lim = pct(r.Limit[0])
	}
	return pct(r.Shm) + " / " + py + " / " + lim
}

// lostNote details the lost updates: median and range of each version.
func lostNote(r *result) string {
	var parts []string
	add := func(who string, s stats) {
		if s.Lost != nil && s.Updates > 0 {
			parts = append(parts, fmt.Sprintf("%s %s (%s–%s)", who, commas(int64(s.Lost[0])), commas(int64(s.Lost[1])), commas(int64(s.Lost[2]))))
		}
	}
	add("shm", r.Shm)
	for _, p := range r.Python {
		add("Python "+p.Name, p)
	}
	for _, l := range r.Limit {
		add("limit "+l.Name, l)
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("updates lost out of %s, median (min–max): %s", commas(int64(r.Shm.Updates)), strings.Join(parts, ", "))
}

func (rep *report) writeJSON(name string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
}
