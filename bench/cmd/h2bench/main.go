// Command h2bench measures WebSockets over HTTP/2 (RFC 8441) against a
// bare extended-CONNECT stream echo, in the same process and the same
// interleaved run:
//
//   - ws: ws.Upgrade behind a net/http h2c server, ws.Dial with
//     Config.HTTP2 as client (WebSocket framing, masking, our HTTP/2 client).
//   - raw: the same net/http h2c server, whose handler copies r.Body to w
//     with a Flush after every read, and golang.org/x/net/http2.Transport
//     as client: an extended CONNECT stream, no WebSocket framing.
//
// Both run echo round trips of one message at a time on one stream; the
// CPU per message is the process's user+sys time (getrusage) over the
// loop divided by the messages, so it counts both ends. It also measures
// WebSocket setups (Dial, one message, Close) as streams of one shared
// HTTP/2 connection against new HTTP/1.1 connections, ws on both sides.
//
// net/http's HTTP/2 server accepts extended CONNECT only when the process
// starts with GODEBUG=http2xconnect=1: the command re-executes itself with
// it when it is missing.
//
//	go run ./cmd/h2bench -reps 5 -msgs 20000 -sizes 16,1024,65536 -setups 2000
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/dillgo/ws"
)

const xconnect = "http2xconnect=1"

// sample is one measurement of one variant.
type sample struct {
	ns, cpuNs float64 // per message (or setup): wall and process CPU
}

// opts are the command's knobs.
type opts struct {
	reps, msgs, setups int
	sizes              []int
	only               string // a substring of the variants to run; "" runs all
}

func main() {
	if code, done := reexec(); done {
		os.Exit(code)
	}
	code := 0
	defer func() { os.Exit(code) }()
	reps := flag.Int("reps", 5, "interleaved repetitions (medians are reported)")
	msgs := flag.Int("msgs", 20000, "echo round trips per variant, size and repetition (scaled down above 1 KiB)")
	sizes := flag.String("sizes", "16,1024,65536", "message sizes in bytes")
	setups := flag.Int("setups", 2000, "WebSocket setups per variant and repetition (0: skip)")
	only := flag.String("only", "", "run only the variants whose name contains this (\"echo ws\", \"raw\", \"setup\")")
	prof := flag.String("cpuprofile", "", "write a pprof CPU profile of the whole run to this file")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	o := opts{reps: *reps, msgs: *msgs, setups: *setups, only: *only}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "bad size", s)
			code = 2
			return
		}
		o.sizes = append(o.sizes, n)
	}
	rep, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
		return
	}
	fmt.Print(rep.String())
}

// reexec runs this program again with GODEBUG=http2xconnect=1 unless the
// process has it, and reports the child's exit code.
func reexec() (int, bool) {
	gd := os.Getenv("GODEBUG")
	if strings.Contains(gd, xconnect) {
		return 0, false
	}
	if gd != "" {
		gd += ","
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+gd+xconnect)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	return 0, true
}

// report holds every sample by row name ("echo ws 1024", "setup h2").
type report struct {
	o    opts
	rows map[string][]sample
}

func (r *report) add(name string, s sample) { r.rows[name] = append(r.rows[name], s) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *report) med(name string) (ns, cpu float64) {
	var a, b []float64
	for _, s := range r.rows[name] {
		a, b = append(a, s.ns), append(b, s.cpuNs)
	}
	return median(a), median(b)
}

// ratios returns the median over repetitions of a's CPU over b's, pairing
// samples of the same repetition.
func (r *report) ratio(a, b string) float64 {
	var q []float64
	for i, s := range r.rows[a] {
		if i < len(r.rows[b]) && r.rows[b][i].cpuNs > 0 {
			q = append(q, s.cpuNs/r.rows[b][i].cpuNs)
		}
	}
	return median(q)
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Medians of %d interleaved repetitions; CPU is process user+sys (both ends) per message.\n\n", r.o.reps)
	echo := slices.ContainsFunc(r.o.sizes, func(n int) bool { return len(r.rows[echoName("ws", n)])+len(r.rows[echoName("raw", n)]) > 0 })
	if echo {
		b.WriteString("| echo round trip | ws µs wall | ws µs CPU | raw µs wall | raw µs CPU | ws/raw CPU (median of per-rep ratios) |\n|---|---|---|---|---|---|\n")
		for _, n := range r.o.sizes {
			if len(r.rows[echoName("ws", n)])+len(r.rows[echoName("raw", n)]) == 0 {
				continue
			}
			wn, wc := r.med(echoName("ws", n))
			rn, rc := r.med(echoName("raw", n))
			fmt.Fprintf(&b, "| %d B | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", n, wn/1e3, wc/1e3, rn/1e3, rc/1e3, r.ratio(echoName("ws", n), echoName("raw", n)))
		}
	}
	if r.o.setups > 0 {
		b.WriteString("\n| WebSocket setup (Dial, one 16 B echo, Close) | setups/s (wall) | µs CPU per setup |\n|---|---|---|\n")
		for _, v := range []string{"h2", "h1"} {
			if len(r.rows["setup "+v]) == 0 {
				continue
			}
			ns, cpu := r.med("setup " + v)
			what := "stream of one shared HTTP/2 connection"
			if v == "h1" {
				what = "new HTTP/1.1 connection"
			}
			fmt.Fprintf(&b, "| %s | %.0f | %.1f |\n", what, 1e9/ns, cpu/1e3)
		}
		fmt.Fprintf(&b, "\nSetup CPU, HTTP/2 stream / new HTTP/1.1 connection: %.2fx\n", r.ratio("setup h2", "setup h1"))
	}
	return b.String()
}

func echoName(v string, n int) string { return "echo " + v + " " + strconv.Itoa(n) }

// cpuNow returns the process's user+sys time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f(n) and returns its wall and CPU time per unit.
func measure(n int, f func(int) error) (sample, error) {
	t0, c0 := time.Now(), cpuNow()
	if err := f(n); err != nil {
		return sample{}, err
	}
	d, c := time.Since(t0), cpuNow()-c0
	return sample{ns: float64(d.Nanoseconds()) / float64(n), cpuNs: float64(c.Nanoseconds()) / float64(n)}, nil
}

// server is the h2c (and HTTP/1.1) server of every variant.
type server struct {
	srv  *http.Server
	ln   net.Listener
	addr string
}

func startServer() (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", wsEcho)
	mux.HandleFunc("/raw", rawEcho)
	s := &server{ln: ln, addr: ln.Addr().String()}
	s.srv = &http.Server{Handler: mux, Protocols: new(http.Protocols),
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1 << 16, MaxReceiveBufferPerConnection: 64 << 20, MaxReceiveBufferPerStream: 4 << 20}}
	s.srv.Protocols.SetHTTP1(true)
	s.srv.Protocols.SetUnencryptedHTTP2(true)
	go s.srv.Serve(ln)
	return s, nil
}

func (s *server) close() { s.srv.Close() }

// echoBufs holds wsEcho's buffers, so that a setup does not measure the
// allocation of one.
var echoBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// wsEcho echoes WebSocket messages until the peer closes.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := ws.Upgrade(w, r, ws.Binary)
	if err != nil {
		return
	}
	defer c.Close()
	bp := echoBufs.Get().(*[]byte)
	defer echoBufs.Put(bp)
	ctx, buf := context.Background(), *bp
	for {
		n, f, err := c.Recv(ctx, buf)
		var ce ws.CloseError
		if errors.As(err, &ce) {
			c.Detach(ctx, ce.Code, "")
			return
		}
		if err != nil || c.Send(ctx, f, buf[:n]) != nil {
			return
		}
	}
}

// rawEcho is the baseline: an extended CONNECT stream whose bytes come
// back as they arrive, with no WebSocket framing.
func rawEcho(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
		http.Error(w, "extended CONNECT only (GODEBUG=http2xconnect=1)", http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil || rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// rawStream is the baseline's client end: x/net's Transport carrying one
// extended CONNECT stream.
type rawStream struct {
	tr   *http2.Transport
	pw   *io.PipeWriter
	body io.ReadCloser
}

func dialRaw(ctx context.Context, addr string) (*rawStream, error) {
	tr := &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	return openRaw(ctx, tr, addr)
}

func openRaw(ctx context.Context, tr *http2.Transport, addr string) (*rawStream, error) {
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, "http://"+addr+"/raw", pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set(":protocol", "websocket")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("raw: server answered %s (is GODEBUG=%s set?)", resp.Status, xconnect)
	}
	return &rawStream{tr: tr, pw: pw, body: resp.Body}, nil
}

func (s *rawStream) close() {
	s.pw.Close()
	s.body.Close()
	s.tr.CloseIdleConnections()
}

// msgsFor scales the round trips down for large messages.
func msgsFor(msgs, size int) int {
	n := msgs
	if size > 1024 {
		n = msgs * 1024 / size * 4
	}
	return max(n, 10)
}

func run(o opts) (*report, error) {
	s, err := startServer()
	if err != nil {
		return nil, err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	rep := &report{o: o, rows: make(map[string][]sample)}

	wcfg := &ws.Config{HTTP2: true}
	wc, resp, err := wcfg.Dial(ctx, "ws://"+s.addr+"/ws", ws.Binary)
	if err != nil {
		return nil, fmt.Errorf("ws dial: %w", err)
	}
	defer wc.Close()
	if resp.ProtoMajor != 2 {
		return nil, fmt.Errorf("ws dial came over %s, want HTTP/2 (is GODEBUG=%s set?)", resp.Proto, xconnect)
	}
	rs, err := dialRaw(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	defer rs.close()

	maxSize := slices.Max(o.sizes)
	out, in := make([]byte, maxSize), make([]byte, maxSize)
	for i := range out {
		out[i] = byte(i*7 + 1)
	}
	wsEchoN := func(size int) func(int) error {
		return func(n int) error {
			for range n {
				if err := wc.Send(ctx, ws.Binary, out[:size]); err != nil {
					return err
				}
				m, _, err := wc.Recv(ctx, in)
				if err != nil {
					return err
				}
				if m != size {
					return fmt.Errorf("ws echo: %d bytes back, sent %d", m, size)
				}
			}
			return nil
		}
	}
	rawEchoN := func(size int) func(int) error {
		return func(n int) error {
			for range n {
				if _, err := rs.pw.Write(out[:size]); err != nil {
					return err
				}
				if _, err := io.ReadFull(rs.body, in[:size]); err != nil {
					return fmt.Errorf("raw echo: %w", err)
				}
			}
			return nil
		}
	}
	type variant struct {
		name string
		f    func(int) error
		n    int
	}
	var vs []variant
	for _, size := range o.sizes {
		n := msgsFor(o.msgs, size)
		vs = append(vs, variant{echoName("ws", size), wsEchoN(size), n}, variant{echoName("raw", size), rawEchoN(size), n})
	}
	if o.setups > 0 {
		h2cfg, h1cfg := &ws.Config{HTTP2: true}, &ws.Config{}
		// The shared connection stays up between setups: one WebSocket
		// is kept open on it, as a page keeps its connection.
		keep, _, err := h2cfg.Dial(ctx, "ws://"+s.addr+"/ws", ws.Binary)
		if err != nil {
			return nil, err
		}
		defer keep.Close()
		vs = append(vs, variant{"setup h2", setupN(ctx, h2cfg, s.addr, 2), o.setups}, variant{"setup h1", setupN(ctx, h1cfg, s.addr, 1), o.setups})
	}
	if o.only != "" {
		vs = slices.DeleteFunc(vs, func(v variant) bool { return !strings.Contains(v.name, o.only) })
	}
	// Warm up every variant once, then interleave: each repetition runs
	// every variant, the order rotating so that none always runs first.
	for _, v := range vs {
		if _, err := measure(max(v.n/10, 1), v.f); err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	for r := range o.reps {
		for i := range vs {
			v := vs[(i+r)%len(vs)]
			smp, err := measure(v.n, v.f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
			rep.add(v.name, smp)
		}
	}
	return rep, nil
}

// setupN returns a loop of n WebSocket setups with cfg: Dial, one 16 B
// echo, Close, checking the protocol the WebSocket came over.
func setupN(ctx context.Context, cfg *ws.Config, addr string, major int) func(int) error {
	msg, buf := make([]byte, 16), make([]byte, 64)
	return func(n int) error {
		for range n {
			c, resp, err := cfg.Dial(ctx, "ws://"+addr+"/ws", ws.Binary)
			if err != nil {
				return err
			}
			if resp.ProtoMajor != major {
				c.Close()
				return fmt.Errorf("setup came over %s, want HTTP/%d", resp.Proto, major)
			}
			err = c.Send(ctx, ws.Binary, msg)
			if err == nil {
				_, _, err = c.Recv(ctx, buf)
			}
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
}
