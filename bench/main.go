//go:build linux

// Command bench measures shm against Python's multiprocessing.sharedctypes and
// against the hardware limit: the same memory operation with no library around
// it. Every figure is a ratio against references measured in the same run, on
// the same machine, back to back, so that the noise of a shared machine mostly
// cancels out.
//
// Run it inside bench/:
//
//	go run .                                   # full run: table on stdout
//	go run . -quick                            # short run, for CI
//	go run . -json results.json -chart results.png  # the run in the README
//	go run . -only 'pingpong|start'            # workloads whose ID matches
//	go run . -list                             # the workloads and their IDs
//
// Each workload runs in a fresh process of this program (a "worker"), so that
// what one workload leaves in shm's heap cannot slow down the next (every
// Start passes the child every segment of the heap). The worker runs the shm
// version, the Python versions (bench/python/bench.py) and the bare "limit"
// versions in rounds, rotating their order from round to round; the Go
// versions run in every round, the slower Python ones in every third.
//
// To see where the time goes, profile a workload with perf, which follows the
// child processes and sees the kernel:
//
//	go build -o /tmp/bench . && perf record -F 10000 -g -o /tmp/perf.data -- /tmp/bench -only 2p-update -nopython
//	perf report -i /tmp/perf.data --no-children --comm bench --sort sym
//
// The chart is drawn by a separate program, bench/chart, so that the measured
// program (which shm re-executes for every child process) stays as small as a
// user's program: linking the plotting library would add about 1.5 ms to the
// start of every child.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/shmgo/shm"
)

// Flags.
var (
	quick    = flag.Bool("quick", false, "run a short version (for CI): smaller sizes, fewer runs")
	jsonOut  = flag.String("json", "", "write the results as JSON to `FILE`")
	chartOut = flag.String("chart", "", "draw the chart to `FILE` (.svg, .png or .pdf); needs the go command")
	only     = flag.String("only", "", "run only the workloads whose ID or name matches this `regexp`")
	runsFlag = flag.Int("runs", 0, "runs of each Python version of each workload (default 5, or 3 with -quick); the Go versions run 3 times as often (once with -quick)")
	list     = flag.Bool("list", false, "list the workloads and exit")
	noPython = flag.Bool("nopython", false, "skip the Python references")
	tableOf  = flag.String("table", "", "measure nothing: print the table from the JSON `FILE` of an earlier run, checking the targets again (and write -json, draw -chart)")

	// Internal: run one workload in this process and write its result to -out.
	workerID  = flag.String("worker", "", "internal: run the workload with this ID")
	workerOut = flag.String("out", "", "internal: where the worker writes its result")
)

func main() {
	shm.Main() // a child started by shm.Start runs its function here and exits
	if role := os.Getenv(envRole); role != "" {
		os.Exit(bareChild(role)) // a child of a bare "limit" workload
	}
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run . [-quick] [-json FILE] [-chart FILE] [-only REGEXP]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg := newConfig(*quick, *runsFlag)
	if *workerID != "" {
		if err := runWorker(cfg, *workerID, *workerOut); err != nil {
			fmt.Fprintf(os.Stderr, "bench: worker %s: %v\n", *workerID, err)
			os.Exit(1)
		}
		return
	}
	if *tableOf != "" {
		if err := reprint(*tableOf); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *list {
		for _, w := range workloads(cfg) {
			fmt.Printf("%-16s %s\n", w.ID, w.Name)
		}
		return
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// config holds what depends on -quick.
type config struct {
	Quick bool `json:"quick"`
	Runs  int  `json:"runs"` // runs of each Python version
	// GoRunsX times Runs is the number of runs of each Go version (shm and
	// limit).
	GoRunsX int `json:"go_runs_x"`
	// scale divides the sizes of the workloads.
	scale int
}

func newConfig(quick bool, runs int) config {
	c := config{Quick: quick, Runs: 5, GoRunsX: 3, scale: 1}
	if quick {
		c.Runs, c.GoRunsX, c.scale = 3, 1, 10
	}
	if runs > 0 {
		c.Runs = runs
	}
	return c
}

// n scales a full-run size down for -quick.
func (c config) n(full int) int { return max(full/c.scale, 1) }

// run is the parent: it runs each selected workload in a worker process, then
// reports.
func run(cfg config) error {
	var re *regexp.Regexp
	if *only != "" {
		var err error
		if re, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	var sel []*workload
	for _, w := range workloads(cfg) {
		if re == nil || re.MatchString(w.ID) || re.MatchString(w.Name) {
			sel = append(sel, w)
		}
	}
	if len(sel) == 0 {
		return fmt.Errorf("-only %q matches no workload; see -list", *only)
	}
	mach := describeMachine()
	mach.Library = libraryVersion()
	py, pyErr := findPython()
	switch {
	case *noPython:
		mach.Python = "skipped (-nopython)"
	case pyErr != nil:
		fmt.Fprintf(os.Stderr, "bench: warning: no Python references: %v\n", pyErr)
		mach.Python = "unavailable: " + pyErr.Error()
	default:
		mach.Python = pythonVersion(py)
	}
	fmt.Fprintf(os.Stderr, "bench: %d workloads, %d runs of shm and limit, %d of Python; %d cores, %s, Linux %s\n",
		len(sel), cfg.Runs*cfg.GoRunsX, cfg.Runs, mach.Cores, mach.CPU, mach.Kernel)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "shm-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	for _, w := range sel {
		if w.Etcd {
			srv, err := startDist(tmp)
			if err != nil {
				return err
			}
			defer srv.stop()
			break
		}
	}

	start := time.Now()
	rep := &report{Machine: mach, Config: cfg, Started: start.UTC().Format(time.RFC3339)}
	failed := 0
	for i, w := range sel {
		fmt.Fprintf(os.Stderr, "[%2d/%d] %s (%s)\n", i+1, len(sel), w.Name, w.ID)
		t := time.Now()
		res, err := runInWorker(exe, tmp, cfg, w)
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "        FAILED: %v\n", err)
			res = &result{ID: w.ID, Name: w.Name, Group: w.Group, Unit: w.Unit, Error: err.Error()}
		} else {
			fmt.Fprintf(os.Stderr, "        %s [%.1f s]\n", res.summary(), time.Since(t).Seconds())
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Seconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "bench: done in %.0f s\n", rep.Seconds)

	rep.printTable(os.Stdout)

	jsonFile := *jsonOut
	if jsonFile == "" && *chartOut != "" {
		jsonFile = filepath.Join(tmp, "results.json")
	}
	if jsonFile != "" {
		if err := rep.writeJSON(jsonFile); err != nil {
			return err
		}
		if *jsonOut != "" {
			fmt.Fprintf(os.Stderr, "bench: wrote %s\n", jsonFile)
		}
	}
	if *chartOut != "" {
		if err := drawChart(jsonFile, *chartOut); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", *chartOut)
	}
	if failed > 0 {
		return fmt.Errorf("%d workload(s) failed", failed)
	}
	return nil
}

// reprint prints the table of an earlier run from its JSON, with the ratios
// and targets checked again, and draws -chart from it.
func reprint(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, r := range rep.Results {
		if r.Error == "" {
			r.compare()
		}
	}
	rep.printTable(os.Stdout)
	if *jsonOut != "" {
		if err := rep.writeJSON(*jsonOut); err != nil {
			return err
		}
		name = *jsonOut
	}
	if *chartOut != "" {
		return drawChart(name, *chartOut)
	}
	return nil
}

// runInWorker runs w in a fresh process of this program and returns its result.
func runInWorker(exe, tmp string, cfg config, w *workload) (*result, error) {
	out := filepath.Join(tmp, w.ID+".json")
	args := []string{"-worker", w.ID, "-out", out, fmt.Sprintf("-runs=%d", cfg.Runs)}
	if cfg.Quick {
		args = append(args, "-quick")
	}
	if *noPython {
		args = append(args, "-nopython")
	}
	timeout := 10 * time.Minute
	if cfg.Quick {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // the table alone goes to stdout
	err := cmd.Run()
	if cmd.Process != nil && w.Setup != nil {
		removeBenchSeg(cmd.Process.Pid) // if the worker could not
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("timed out after %v", timeout)
		}
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// sourceDir returns the directory of bench's sources, for python/ and chart/.
func sourceDir() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "python", "bench.py")); err == nil {
			return dir
		}
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "."
}

// drawChart runs bench/chart, a program of its own (see the package comment).
func drawChart(jsonFile, out string) error {
	goCmd, err := goCommand()
	if err != nil {
		return fmt.Errorf("drawing the chart: %w", err)
	}
	in, err := filepath.Abs(jsonFile)
	if err != nil {
		return err
	}
	dst, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command(goCmd, "run", "./chart", "-in", in, "-out", dst)
	cmd.Dir = sourceDir()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// goCommand finds the go command, which builds bench's other programs.
func goCommand() (string, error) {
	if g, err := exec.LookPath("go"); err == nil {
		return g, nil
	}
	if g := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(g) {
		return g, nil
	}
	return "", errors.New("the go command is not in PATH")
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// describeMachine reports what the results depend on.
func describeMachine() machine {
	m := machine{
		Cores: runtime.NumCPU(),
		OS:    runtime.GOOS + "/" + runtime.GOARCH,
		Go:    runtime.Version(),
		CPU:   "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// libraryVersion names the commit of shm measured, when the sources are a git
// checkout. It only reads: --no-optional-locks keeps git status from
// refreshing the index.
func libraryVersion() string {
	root := filepath.Dir(sourceDir())
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", root, "--no-optional-locks"}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "--short", "HEAD")
	if err != nil || rev == "" {
		return ""
	}
	v := "at commit " + rev
	if st, err := git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench"); err == nil && st != "" {
		v += " with uncommitted changes"
	}
	return v
}

var errNoPython = errors.New("python3 not found in PATH")

func findPython() (string, error) {
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", errNoPython
	}
	if !fileExists(filepath.Join(sourceDir(), "python", "bench.py")) {
		return "", errors.New("python/bench.py not found next to the sources")
	}
	return p, nil
}

func pythonVersion(py string) string {
	out, err := exec.Command(py, "-c", "import sys; print(sys.version.split()[0])").Output()
	if err != nil {
		return "unknown"
	}
	return "Python " + strings.TrimSpace(string(out))
}

// progress writes to the terminal (stderr) without a newline.
func progress(format string, a ...any) { fmt.Fprintf(os.Stderr, format, a...) }
