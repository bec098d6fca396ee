package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws/bench/internal/driver"
	"github.com/dillgo/ws/bench/internal/idleload"
	"github.com/dillgo/ws/bench/internal/libs"
	"github.com/dillgo/ws/bench/internal/peer"
)

// TestMain lets the test binary act as the peer process of the smoke run.
func TestMain(m *testing.M) {
	if os.Getenv(peer.Env) == "1" {
		os.Exit(peer.Main(os.Args[1:]))
	}
	serverHook()
	os.Exit(m.Run())
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSmoke runs every benchmark once with tiny counts and checks that the
// harness works: every library connected, exchanged and verified messages,
// and the report renders. It asserts nothing about timing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run skipped in -short mode")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	benches := []string{"isolated", "echo", "handshake", "idle", "deflate"}
	if _, err := exec.LookPath("valgrind"); err == nil && !raceEnabled {
		benches = append([]string{"callgrind"}, benches...)
	} else {
		t.Log("callgrind skipped (no valgrind, or race detector on)")
	}
	cfg := driver.Config{
		Smoke:   true,
		Reps:    1,
		Benches: benches,
		Log:     logWriter{t},
		Launch: func(string) (string, []string, []string) {
			return self, nil, []string{peer.Env + "=1"}
		},
	}
	res, err := driver.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		t.Errorf("harness error: %s", e)
	}
	// Every library must have produced verified samples everywhere.
	type key struct{ bench, lib string }
	seen := map[key]bool{}
	for _, s := range res.Samples {
		if c, ok := s.Metrics["checked"]; ok && c < 1 && (s.Bench == "echo" || s.Scenario == "server-recv" || s.Scenario == "client-recv") {
			t.Errorf("%s %s %s: no message content verified", s.Bench, s.Scenario, s.Lib)
		}
		seen[key{s.Bench, s.Lib}] = true
	}
	for _, b := range benches {
		for _, l := range libs.All() {
			if b == "deflate" && !l.Deflate {
				continue
			}
			if (b == "handshake" || b == "idle") && l.ServerVariant || l.IdleOnly && b != "idle" {
				continue
			}
			if !seen[key{b, l.Name}] {
				t.Errorf("%s: no result for %s", b, l.Name)
			}
		}
	}
	// The deflate benchmark measures every library that supports it,
	// ws included, in both scenarios, with the payload compressed on the
	// wire both ways.
	for _, l := range libs.All() {
		if !l.Deflate {
			continue
		}
		for _, sc := range []string{"echo", "server"} {
			found := false
			for _, s := range res.Samples {
				if s.Bench != "deflate" || s.Lib != l.Name || s.Scenario != sc {
					continue
				}
				found = true
				if sc == "server" && (s.Metrics["wire_in"] <= 0 || s.Metrics["wire_in"] >= 0.5 || s.Metrics["wire_out"] <= 0 || s.Metrics["wire_out"] >= 0.5) {
					t.Errorf("deflate server %s: wire/payload in %.3f out %.3f, want compressed (0 < ratio < 0.5)", l.Name, s.Metrics["wire_in"], s.Metrics["wire_out"])
				}
			}
			if !found {
				t.Errorf("deflate %s: no result for %s", sc, l.Name)
			}
		}
	}
	if l, err := libs.Get("ws"); err != nil || !l.Deflate {
		t.Errorf("ws is not in the deflate benchmark (registered: %v, Deflate: %v)", err == nil, l.Deflate)
	}
	if l, err := libs.Get("ws-pooled"); err != nil || !l.ServerVariant || l.ClientOf != "ws" {
		t.Errorf("ws-pooled (the pooled server variant) is not registered")
	}
	// ws-pooled has the derived client→server and server→client sums
	// (with ws's client samples) wherever callgrind ran.
	if slices.Contains(benches, "callgrind") {
		for _, sc := range []string{"c2s", "s2c"} {
			found := false
			for _, s := range res.Samples {
				found = found || (s.Bench == "callgrind" && s.Scenario == sc && s.Lib == "ws-pooled")
			}
			if !found {
				t.Errorf("callgrind %s: no ws-pooled sum", sc)
			}
		}
	}
	dir := t.TempDir()
	md := filepath.Join(dir, "benchmarks.md")
	if err := driver.WriteReport(res, driver.ReportOptions{Markdown: md, ChartsDir: filepath.Join(dir, "charts"), ChartsRel: "charts", Command: "smoke"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Summary", "## Echo round trip", "## Handshakes", "## Memory per idle connection", "### The server alone"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestSmokeIdleLoad runs the idleload benchmark (-idleload) at tiny sizes:
// every server accepts its connections from two source addresses, echoes
// one message of each size whole, and runs a short echo load. The wss://
// run of ws-poller is left out: see the report of the idlebench branch.
func TestSmokeIdleLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run skipped in -short mode")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := idleload.Config{Counts: []int{20}, LoadN: 20, Active: 4, LoadDur: 200 * time.Millisecond,
		Sizes: []int{16, 64 << 10}, PerAddr: 10, Self: self, Log: logWriter{t}}
	res, err := idleload.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Libs, cfg.Counts, cfg.LoadN, cfg.TLSN = []string{"ws-goroutine"}, nil, 0, 5
	tres, err := idleload.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res.Idle = append(res.Idle, tres.Idle...)
	if len(res.Idle) != len(idleload.Libs)+1 || len(res.Loads) != len(idleload.Libs) {
		t.Errorf("%d idle rows and %d loads, want %d and %d", len(res.Idle), len(res.Loads), len(idleload.Libs)+1, len(idleload.Libs))
	}
	for _, r := range res.Idle {
		if r.Fresh.Ready != int64(r.N) || r.Hot.Ready != int64(r.N) {
			t.Errorf("%s: %d and %d of %d connections set up", r.Lib, r.Fresh.Ready, r.Hot.Ready, r.N)
		}
	}
	for _, l := range res.Loads {
		if l.Msgs == 0 {
			t.Errorf("%s: no echo", l.Lib)
		}
	}
	var b strings.Builder
	res.Markdown(&b)
	if !strings.Contains(b.String(), "| ws-poller | 20 |") {
		t.Errorf("report lacks the ws-poller row:\n%s", b.String())
	}
}
