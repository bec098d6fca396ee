// Package driver runs every benchmark, interleaving libraries within each
// repetition, and writes the results as JSON and as a Markdown report.
package driver

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/dillgo/ws/bench/internal/libs"
	"github.com/dillgo/ws/bench/internal/peer"
)

// Config selects what a run measures.
type Config struct {
	Smoke     bool     // each benchmark once with tiny counts
	Reps      int      // repetitions (interleaved)
	Sizes     []int    // message sizes
	Libs      []string // libraries, in display order; default all compiled in
	Benches   []string // subset of Benches; default all
	IdleConns int      // connections of the idle-memory benchmark
	Launch    Launcher // how to start a peer
	Log       io.Writer
	Tmp       string // scratch directory (callgrind outputs)
	MicroDir  string // the bench module's directory, for `go test -bench` ("" = skip)
	Tags      string // build tags for `go test -bench`
	// KeepCallgrind, if set, is a directory that receives the profiled
	// callgrind outputs (ws, ws-pooled, raw at 16 B, 1 KiB, 64 KiB) for
	// callgrind_annotate --inclusive=yes.
	KeepCallgrind string
}

// AllBenches lists the benchmarks in run order.
var AllBenches = []string{"callgrind", "isolated", "echo", "handshake", "idle", "deflate", "micro"}

// DefaultSizes are the message sizes of the full run.
var DefaultSizes = []int{16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20}

// Sample is one measurement of one library in one repetition.
type Sample struct {
	Bench    string             `json:"bench"`
	Scenario string             `json:"scenario"`
	Size     int                `json:"size"`
	Lib      string             `json:"lib"`
	Rep      int                `json:"rep"`
	Metrics  map[string]float64 `json:"metrics"`
}

// Results is everything a run measured.
type Results struct {
	Started  time.Time  `json:"started"`
	Duration string     `json:"duration"`
	Smoke    bool       `json:"smoke"`
	Reps     int        `json:"reps"`
	Sizes    []int      `json:"sizes"`
	Libs     []string   `json:"libs"`
	Machine  Machine    `json:"machine"`
	Samples  []Sample   `json:"samples"`
	Profiles []Profile  `json:"profiles,omitempty"`
	Errors   []string   `json:"errors,omitempty"`
	Micro    []MicroRow `json:"micro,omitempty"`
	Command  string     `json:"command,omitempty"`
}

// Driver carries a run's state.
type Driver struct {
	cfg      Config
	launch   Launcher
	tmp      string
	res      *Results
	profiles map[string]string // callgrind outputs kept for profiles
}

func (d *Driver) logf(format string, args ...any) {
	if d.cfg.Log != nil {
		fmt.Fprintf(d.cfg.Log, format+"\n", args...)
	}
}

func (d *Driver) add(s Sample) { d.res.Samples = append(d.res.Samples, s) }

func (d *Driver) fail(err error) {
	d.logf("ERROR: %v", err)
	d.res.Errors = append(d.res.Errors, err.Error())
}

// Run executes the configured benchmarks.
func Run(cfg Config) (*Results, error) {
	if cfg.Reps <= 0 {
		cfg.Reps = 1
	}
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = DefaultSizes
	}
	if len(cfg.Libs) == 0 {
		for _, l := range libs.All() {
			if !l.IdleOnly {
				cfg.Libs = append(cfg.Libs, l.Name)
			}
		}
	}
	if len(cfg.Benches) == 0 {
		cfg.Benches = AllBenches
	}
	if cfg.Tmp == "" {
		dir, err := os.MkdirTemp("", "wsbench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Tmp = dir
	}
	d := &Driver{cfg: cfg, launch: cfg.Launch, tmp: cfg.Tmp, profiles: map[string]string{}}
	d.res = &Results{Started: time.Now(), Smoke: cfg.Smoke, Reps: cfg.Reps, Sizes: cfg.Sizes,
		Libs: cfg.Libs, Machine: describeMachine()}
	for _, b := range cfg.Benches {
		t0 := time.Now()
		d.logf("== %s", b)
		switch b {
		case "callgrind":
			d.benchCallgrind()
		case "isolated":
			d.benchIsolated()
		case "echo":
			d.benchEcho(false)
		case "deflate":
			d.benchEcho(true)
		case "handshake":
			d.benchHandshake()
		case "idle":
			d.benchIdle()
		case "micro":
			d.benchMicro()
		default:
			d.fail(fmt.Errorf("unknown benchmark %q", b))
		}
		d.logf("   %s took %v", b, time.Since(t0).Round(time.Millisecond))
	}
	d.res.Duration = time.Since(d.res.Started).Round(time.Second).String()
	return d.res, nil
}

// rotated returns the libraries starting at rep, so no library is always first.
func (d *Driver) rotated(rep int, names []string) []string {
	out := slices.Clone(names)
	if len(out) == 0 {
		return out
	}
	k := rep % len(out)
	return append(out[k:], out[:k]...)
}

func lib(name string) libs.Lib {
	l, err := libs.Get(name)
	if err != nil {
		// The driver binary may not link every library the launcher
		// does; the framing only depends on Raw.
		return libs.Lib{Name: name, Raw: name == "raw"}
	}
	return l
}

// roles are the four one-sided scenarios.
var roles = []struct{ name, role, mode string }{
	{"client-send", "client", "send"},
	{"server-recv", "server", "recv"},
	{"server-send", "server", "send"},
	{"client-recv", "client", "recv"},
}

// skipRole reports whether a library is left out of a one-sided scenario:
// server variants are measured on the server side only.
func skipRole(name, role string) bool { return role == "client" && lib(name).ServerVariant }

// connLibs are the libraries of the handshake and idle measurements
// (server variants are left out: those use Lib.Accept).
func (d *Driver) connLibs(names []string) []string {
	var out []string
	for _, n := range names {
		if !lib(n).ServerVariant {
			out = append(out, n)
		}
	}
	return out
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

func (d *Driver) cgCount(size int) int {
	if d.cfg.Smoke {
		return 100
	}
	return clamp((8<<20)/size, 16, 2000)
}

func (d *Driver) benchCallgrind() {
	sizes := d.cfg.Sizes
	if d.cfg.Smoke {
		sizes = sizes[:1]
	}
	type job struct {
		rep  int
		size int
		sc   int
		lib  string
	}
	var jobs []job
	for rep := 0; rep < d.cfg.Reps; rep++ {
		for _, size := range sizes {
			for sc := range roles {
				for _, name := range d.rotated(rep+sc, d.cfg.Libs) {
					if skipRole(name, roles[sc].role) {
						continue
					}
					jobs = append(jobs, job{rep, size, sc, name})
				}
			}
		}
	}
	// Instruction counts do not depend on load: run two at a time.
	type result struct {
		j   job
		irs [2]int64
		err error
	}
	results := make([]result, len(jobs))
	sem := make(chan struct{}, 2)
	done := make(chan int)
	for i, j := range jobs {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := result{j: j}
			n := d.cgCount(j.size)
			for k, cnt := range []int{n, 2 * n} {
				if r.err != nil {
					break
				}
				rl := roles[j.sc]
				a := peer.Args{Lib: j.lib, Mode: rl.mode, Role: rl.role, Size: j.size, Count: cnt, Dur: 10 * time.Minute}
				p, err := d.runConn(a, genFor(lib(j.lib), a), true)
				if err == nil && p.rep.Count != int64(cnt) {
					err = fmt.Errorf("%s %s size %d: %d of %d messages", j.lib, rl.name, j.size, p.rep.Count, cnt)
				}
				r.err = err
				r.irs[k] = p.ir
			}
			results[i] = r
			done <- i
		}()
	}
	for range jobs {
		i := <-done
		r := results[i]
		if r.err != nil {
			d.fail(r.err)
			continue
		}
		n := d.cgCount(r.j.size)
		per := float64(r.irs[1]-r.irs[0]) / float64(n)
		d.logf("   callgrind rep %d %-12s %-11s %7d B: %10.0f instr/msg", r.j.rep, r.j.lib, roles[r.j.sc].name, r.j.size, per)
		d.add(Sample{Bench: "callgrind", Scenario: roles[r.j.sc].name, Size: r.j.size, Lib: r.j.lib, Rep: r.j.rep,
			Metrics: map[string]float64{"ir": per, "ir_total_n": float64(r.irs[0])}})
	}
	d.deriveDirections()
	d.buildProfiles()
}

// deriveDirections adds client→server (client-send + server-recv) and
// server→client (server-send + client-recv) samples.
func (d *Driver) deriveDirections() {
	type key struct {
		sc, lib   string
		size, rep int
	}
	ir := map[key]float64{}
	for _, s := range d.res.Samples {
		if s.Bench == "callgrind" {
			ir[key{s.Scenario, s.Lib, s.Size, s.Rep}] = s.Metrics["ir"]
		}
	}
	for k, v := range ir {
		// A server variant's sums use the client samples of ClientOf.
		for _, name := range d.cfg.Libs {
			if l := lib(name); l.ServerVariant && l.ClientOf == k.lib {
				for _, pair := range [][3]string{{"client-send", "server-recv", "c2s"}, {"client-recv", "server-send", "s2c"}} {
					if k.sc != pair[0] {
						continue
					}
					if w, ok := ir[key{pair[1], name, k.size, k.rep}]; ok {
						d.add(Sample{Bench: "callgrind", Scenario: pair[2], Size: k.size, Lib: name, Rep: k.rep,
							Metrics: map[string]float64{"ir": v + w}})
					}
				}
			}
		}
		for _, pair := range [][3]string{{"client-send", "server-recv", "c2s"}, {"server-send", "client-recv", "s2c"}} {
			if k.sc != pair[0] {
				continue
			}
			w, ok := ir[key{pair[1], k.lib, k.size, k.rep}]
			if !ok {
				continue
			}
			d.add(Sample{Bench: "callgrind", Scenario: pair[2], Size: k.size, Lib: k.lib, Rep: k.rep,
				Metrics: map[string]float64{"ir": v + w}})
		}
	}
}

func (d *Driver) wallCount(size int) (int, time.Duration) {
	if d.cfg.Smoke {
		return 50, 2 * time.Second
	}
	return clamp((512<<20)/size, 200, 300000), 700 * time.Millisecond
}

func perMsg(r peer.Report) map[string]float64 {
	n := float64(max(r.Count, 1))
	m := map[string]float64{
		"msgs_per_s": float64(r.Count) / (float64(r.WallNS) / 1e9),
		"cpu_ns":     float64(r.CPUNS) / n,
		"allocs":     float64(r.Mallocs) / n,
		"alloc_b":    float64(r.AllocBytes) / n,
		"count":      float64(r.Count),
		"checked":    float64(r.Checked),
	}
	if r.ReadCalls >= 0 && r.WriteCalls >= 0 && r.Count > 0 {
		m["read_calls"] = float64(r.ReadCalls) / n
		m["write_calls"] = float64(r.WriteCalls) / n
	}
	return m
}

func (d *Driver) benchIsolated() {
	for rep := 0; rep < d.cfg.Reps; rep++ {
		for _, size := range d.cfg.Sizes {
			for sc, rl := range roles {
				for _, name := range d.rotated(rep+sc, d.cfg.Libs) {
					if skipRole(name, rl.role) {
						continue
					}
					cnt, dur := d.wallCount(size)
					a := peer.Args{Lib: name, Mode: rl.mode, Role: rl.role, Size: size, Count: cnt, Dur: dur}
					p, err := d.runConn(a, genFor(lib(name), a), false)
					if err != nil {
						d.fail(err)
						continue
					}
					m := perMsg(p.rep)
					d.logf("   isolated rep %d %-12s %-11s %7d B: %9.0f msg/s %7.0f ns cpu/msg %5.2f allocs/msg",
						rep, name, rl.name, size, m["msgs_per_s"], m["cpu_ns"], m["allocs"])
					d.add(Sample{Bench: "isolated", Scenario: rl.name, Size: size, Lib: name, Rep: rep, Metrics: m})
				}
			}
		}
	}
}

func (d *Driver) benchEcho(deflate bool) {
	sizes := d.cfg.Sizes
	bench := "echo"
	names := d.cfg.Libs
	if deflate {
		bench = "deflate"
		sizes = []int{16 << 10}
		names = nil
		for _, n := range d.cfg.Libs {
			if lib(n).Deflate {
				names = append(names, n)
			}
		}
	}
	for rep := 0; rep < d.cfg.Reps; rep++ {
		for _, size := range sizes {
			for _, name := range d.rotated(rep, names) {
				cnt, dur := d.wallCount(size)
				cnt = cnt / 2
				if deflate && !d.cfg.Smoke {
					cnt, dur = 50000, 2*time.Second
				}
				a := peer.Args{Lib: name, Mode: "echo", Size: size, Count: cnt, Dur: dur, Deflate: deflate, JSON: deflate}
				p, err := d.runSelf(a)
				if err != nil {
					d.fail(err)
					continue
				}
				m := perMsg(p.rep)
				d.logf("   %s rep %d %-12s %7d B: %9.0f rt/s %7.0f ns cpu/rt %5.2f allocs/rt",
					bench, rep, name, size, m["msgs_per_s"], m["cpu_ns"], m["allocs"])
				d.add(Sample{Bench: bench, Scenario: "echo", Size: size, Lib: name, Rep: rep, Metrics: m})
				if deflate {
					d.deflateServer(rep, name, size, cnt, dur)
				}
			}
		}
	}
}

// deflateServer measures a library's server alone in the peer process,
// echoing compressed messages of its own client played by the driver:
// CPU and allocations per echoed message, and the wire bytes per payload
// byte in each direction (the compression ratio, framing included).
func (d *Driver) deflateServer(rep int, name string, size, cnt int, dur time.Duration) {
	a := peer.Args{Lib: name, Mode: "echo-server", Role: "server", Size: size, Count: cnt, Dur: dur, Deflate: true, JSON: true}
	p, err := d.runConn(a, echoClientGen(lib(name), a), false)
	if err != nil {
		d.fail(err)
		return
	}
	m := perMsg(p.rep)
	payload := float64(max(p.rep.Count, 1)) * float64(size)
	m["wire_in"] = float64(p.rep.WireIn) / payload
	m["wire_out"] = float64(p.rep.WireOut) / payload
	d.logf("   deflate rep %d %-12s server %7d B: %7.0f ns cpu/msg %5.2f allocs/msg wire/payload in %.3f out %.3f",
		rep, name, size, m["cpu_ns"], m["allocs"], m["wire_in"], m["wire_out"])
	d.add(Sample{Bench: "deflate", Scenario: "server", Size: size, Lib: name, Rep: rep, Metrics: m})
}

func (d *Driver) benchHandshake() {
	cnt, dur := 5000, 2*time.Second
	if d.cfg.Smoke {
		cnt, dur = 20, 5*time.Second
	}
	for rep := 0; rep < d.cfg.Reps; rep++ {
		for _, name := range d.rotated(rep, d.connLibs(d.cfg.Libs)) {
			a := peer.Args{Lib: name, Mode: "handshake", Role: "server", Count: cnt, Dur: dur}
			p, err := d.runListen(a, handshakeGen(lib(name).Raw, cnt, 2), false)
			if err != nil {
				d.fail(err)
				continue
			}
			m := perMsg(p.rep)
			d.logf("   handshake rep %d %-12s: %8.0f hs/s %7.0f ns cpu/hs %6.1f allocs/hs %7.0f B/hs",
				rep, name, m["msgs_per_s"], m["cpu_ns"], m["allocs"], m["alloc_b"])
			d.add(Sample{Bench: "handshake", Scenario: "server", Lib: name, Rep: rep, Metrics: m})
		}
	}
}

func (d *Driver) benchIdle() {
	n := d.cfg.IdleConns
	if n <= 0 {
		n = 10000
		if d.cfg.Smoke {
			n = 50
		}
	}
	names := d.connLibs(d.cfg.Libs)
	for _, l := range libs.All() { // idle-only variants of the libraries measured
		if l.IdleOnly && slices.Contains(names, l.ClientOf) && !slices.Contains(names, l.Name) {
			names = append(names, l.Name)
		}
	}
	for rep := 0; rep < d.cfg.Reps; rep++ {
		for _, name := range d.rotated(rep, names) {
			d.idleOne(rep, name, n)
		}
	}
}

func (d *Driver) idleOne(rep int, name string, n int) {
	{
		a := peer.Args{Lib: name, Mode: "idle", Role: "server", Count: n, Dur: time.Minute}
		p, err := d.runListen(a, idleGen(lib(name).Raw, n), true)
		if err != nil {
			d.fail(err)
			return
		}
		r := p.rep
		c := float64(max(r.Count, 1))
		m := map[string]float64{"rss": float64(r.RSS) / c, "heap": float64(r.Heap) / c,
			"stack": float64(r.Stack) / c, "goroutines": float64(r.Goroutines) / c, "count": float64(r.Count)}
		d.logf("   idle rep %d %-12s %d conns: %6.0f B RSS/conn %6.0f B heap/conn %6.0f B stack/conn",
			rep, name, r.Count, m["rss"], m["heap"], m["stack"])
		d.add(Sample{Bench: "idle", Scenario: "server", Lib: name, Rep: rep, Metrics: m})
	}
}

// ReadJSON loads results stored by WriteJSON.
func ReadJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	return &r, json.Unmarshal(b, &r)
}

// WriteJSON stores results.
func WriteJSON(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
