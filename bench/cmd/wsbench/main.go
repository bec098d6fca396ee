// Command wsbench runs the side-by-side benchmarks of ws, its peers and a
// raw-TCP baseline, and writes docs/benchmarks.md.
//
//	cd bench && go run ./cmd/wsbench                 # full run (about an hour)
//	cd bench && go run ./cmd/wsbench -smoke          # each benchmark once, tiny counts
//	cd bench && go run ./cmd/wsbench -bench callgrind,echo -libs raw,ws,gorilla
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dillgo/ws/bench/internal/driver"
	_ "github.com/dillgo/ws/bench/internal/libs/all"
)

func main() {
	smoke := flag.Bool("smoke", false, "each benchmark once with tiny counts")
	reps := flag.Int("reps", 3, "repetitions")
	sizes := flag.String("sizes", "", "comma-separated message sizes (default 16,128,1024,16384,65536,1048576)")
	serverHook()
	libList = flag.String("libs", "", "comma-separated libraries (default all)")
	benches := flag.String("bench", "", "comma-separated benchmarks: "+strings.Join(driver.AllBenches, ","))
	idle := flag.Int("idle", 0, "idle connections (default 10000, smoke 50)")
	out := flag.String("out", "../docs/benchmarks.md", "Markdown report (empty: none)")
	charts := flag.String("charts", "charts", "directory for SVG charts")
	jsonOut := flag.String("json", "results/latest.json", "raw results (empty: none)")
	tags := flag.String("tags", defaultTags, "extra build tags for the peers")
	notes := flag.String("notes", "", "Markdown file included in the report as notes")
	standing := flag.String("standing", "", "Markdown file included after the targets (\"Where ws stands\")")
	from := flag.String("from", "", "only render the report from these results JSON files (comma-separated, merged)")
	keepCG := flag.String("keep-callgrind", "", "directory to keep the profiled callgrind outputs in")
	flag.Parse()
	if runIdleLoad() {
		return
	}
	notesFile, standingFile = *notes, *standing
	if *from != "" {
		var rs []*driver.Results
		for _, f := range split(*from) {
			r, err := driver.ReadJSON(f)
			if err != nil {
				fatal(err)
			}
			rs = append(rs, r)
		}
		res := driver.Merge(rs...)
		res.Command = "cd bench && go run ./cmd/wsbench -from " + *from + " (merging: " + res.Command + ")"
		writeReport(res, *out, *charts)
		return
	}

	cfg := driver.Config{Smoke: *smoke, Reps: *reps, IdleConns: *idle, Log: os.Stderr, MicroDir: ".", Tags: *tags, KeepCallgrind: *keepCG}
	if *smoke {
		cfg.Reps = 1
	}
	for _, s := range split(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil {
			fatal(err)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	cfg.Libs = split(*libList)
	cfg.Benches = split(*benches)
	bin, err := os.MkdirTemp("", "wsbench-bin")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(bin)
	launch, err := buildPeers(bin, *tags)
	if err != nil {
		fatal(err)
	}
	cfg.Launch = launch
	res, err := driver.Run(cfg)
	if err != nil {
		fatal(err)
	}
	res.Command = strings.TrimSpace("cd bench && go run ./cmd/wsbench " + strings.Join(os.Args[1:], " "))
	if *jsonOut != "" {
		os.MkdirAll(filepath.Dir(*jsonOut), 0o755)
		if err := driver.WriteJSON(*jsonOut, res); err != nil {
			fatal(err)
		}
	}
	if *out != "" {
		res.Command = strings.TrimSpace("cd bench && go run ./cmd/wsbench " + strings.Join(os.Args[1:], " "))
		if *jsonOut != "" {
			driver.WriteJSON(*jsonOut, res)
		}
		writeReport(res, *out, *charts)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "%d errors\n", len(res.Errors))
		os.Exit(1)
	}
}

var notesFile, standingFile string

var libList *string

func writeReport(res *driver.Results, out, charts string) {
	var notes string
	if notesFile != "" {
		b, err := os.ReadFile(notesFile)
		if err != nil {
			fatal(err)
		}
		notes = string(b)
	}
	var standing string
	if standingFile != "" {
		b, err := os.ReadFile(standingFile)
		if err != nil {
			fatal(err)
		}
		standing = string(b)
	}
	absOut, _ := filepath.Abs(filepath.Dir(out))
	absCharts, _ := filepath.Abs(charts)
	rel, _ := filepath.Rel(absOut, absCharts)
	cmd := res.Command
	if cmd == "" {
		cmd = "cd bench && go run ./cmd/wsbench"
	}
	if err := driver.WriteReport(res, driver.ReportOptions{Markdown: out, ChartsDir: charts,
		ChartsRel: filepath.ToSlash(rel), Command: cmd, Notes: notes, Standing: standing}); err != nil {
		fatal(err)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "wsbench:", err)
	os.Exit(1)
}

// tagOf maps a library to the build tag of its peer binary.
func tagOf(lib string) string {
	switch lib {
	case "gobwas-frame":
		return "gobwas"
	case "ws-pooled", "ws-poller":
		return "ws"
	}
	return lib
}

// buildPeers builds one peer binary per library, so each measured process
// links only the library it measures.
func buildPeers(dir, extra string) (driver.Launcher, error) {
	built := map[string]bool{}
	for _, t := range []string{"raw", "ws", "gorilla", "coder", "gobwas", "gws"} {
		tags := "single," + t
		if extra != "" {
			tags += "," + extra
		}
		cmd := exec.Command("go", "build", "-tags", tags, "-o", filepath.Join(dir, "peer-"+t), "./cmd/peer")
		cmd.Stderr = os.Stderr
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, no libc: friendlier to valgrind
		if err := cmd.Run(); err != nil {
			if t == "ws" {
				fmt.Fprintln(os.Stderr, "wsbench: ws peer does not build; skipping ws")
				continue
			}
			return nil, fmt.Errorf("building %s peer: %w", t, err)
		}
		built[t] = true
	}
	return func(lib string) (string, []string, []string) {
		return filepath.Join(dir, "peer-"+tagOf(lib)), nil, nil
	}, nil
}
