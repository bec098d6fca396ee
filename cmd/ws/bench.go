package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dillgo/ws"
)

const benchDoc = `
Usage: ws bench [flags] [URL]

Measures an echo server: -c connections each keep --inflight messages of
-s bytes in flight, for -d or until -n messages in all have come back.
Without URL, ws bench starts an echo server in the process (on
127.0.0.1) and measures that.

It reports throughput (messages echoed per second, and MB/s of their
payload, 1 MB = 10^6 bytes) and the round-trip latency of each message
(from the start of its send to the end of its echo) as min, p50, p90,
p99, p99.9 and max, with a histogram in power-of-two ranges. With
--inflight above 1, latency includes the time queued behind the others.
On a terminal a progress line is shown on stderr. --json prints one JSON
object instead.

Examples:
  ws bench -c 8 -s 1024 -d 5s
  ws bench -n 100000 --inflight 16 ws://127.0.0.1:8080/
`

type benchOpts struct {
	conns    int
	size     int
	dur      time.Duration
	count    int64
	inflight int
	text     bool
	compress bool
	json     bool
	timeout  time.Duration
	tls      tlsFlags
}

func runBench(e *env, args []string) int {
	var o benchOpts
	fs := newFlags(e, "bench", benchDoc)
	fs.IntVar(&o.conns, "c", 4, "connections")
	fs.IntVar(&o.size, "s", 64, "message size in bytes")
	fs.DurationVar(&o.dur, "d", 5*time.Second, "duration (ignored with -n)")
	fs.Int64Var(&o.count, "n", 0, "stop after this many messages in all (0: run for -d)")
	fs.IntVar(&o.inflight, "inflight", 1, "messages in flight per connection")
	fs.BoolVar(&o.text, "text", false, "send text messages (default binary)")
	fs.BoolVar(&o.compress, "compress", false, "offer permessage-deflate")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "limit for each handshake and for each echo once sending stopped")
	o.tls.register(fs.FlagSet)
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return parseExit(err)
	}
	switch {
	case len(pos) > 1:
		return fs.usageError(e, fmt.Errorf("unexpected argument %q", pos[1]))
	case o.conns < 1 || o.inflight < 1 || o.size < 0 || o.count < 0 || (o.count == 0 && o.dur <= 0):
		return fail(e, "bench", exitUsage, errors.New("-c and --inflight must be positive, -s and -n not negative, -d positive without -n"))
	}
	cfg := &ws.Config{}
	if cfg.TLSConfig, err = o.tls.config(); err != nil {
		return fail(e, "bench", exitUsage, err)
	}
	if o.compress {
		if err := setCompression(cfg); err != nil {
			return fail(e, "bench", exitUsage, fmt.Errorf("--compress: %w", err))
		}
	}
	url, local := "", false
	if len(pos) == 1 {
		url = pos[0]
	} else {
		stop, addr, err := startEchoServer(cfg)
		if err != nil {
			return fail(e, "bench", exitUsage, err)
		}
		defer stop()
		url, local = "ws://"+addr+"/", true
	}
	b := &bench{o: &o, cfg: cfg, url: url, local: local}
	conns, code := b.dial(e)
	if conns == nil {
		return code
	}
	progress := !o.json && isTerminal(os.Stderr)
	res := b.run(e, conns, progress)
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.print(e.stdout)
	}
	if res.Errors > 0 {
		fmt.Fprintf(e.stderr, "ws: bench: %d connection(s) failed: %s\n", res.Errors, res.FirstError)
		return exitAbnormal
	}
	return exitOK
}

// startEchoServer runs the echo mode of ws serve on a free loopback port.
func startEchoServer(cfg *ws.Config) (stop func(), addr string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cfg.Upgrade(w, r, ws.Binary)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		echo(ctx, c, nil)
	})}
	go srv.Serve(ln)
	return func() {
		srv.Close()
		cancel()
		wg.Wait()
	}, ln.Addr().String(), nil
}

type bench struct {
	o     *benchOpts
	cfg   *ws.Config
	url   string
	local bool
	recvd atomic.Int64 // echoes received, for the progress line
	sent  atomic.Int64 // messages claimed, for -n
}

// dial opens the connections, or returns nil and the exit code.
func (b *bench) dial(e *env) ([]*ws.Conn, int) {
	conns := make([]*ws.Conn, 0, b.o.conns)
	for range b.o.conns {
		ctx, cancel := context.WithTimeout(context.Background(), b.o.timeout)
		c, resp, err := b.cfg.Dial(ctx, b.url, ws.Binary)
		cancel()
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			code := fail(e, "bench", exitHandshake, libError(err))
			if resp != nil {
				fmt.Fprintf(e.stderr, "ws: bench: server answered %s %s\n", escapeLine(resp.Proto), escapeLine(resp.Status))
			}
			return nil, code
		}
		conns = append(conns, c)
	}
	return conns, exitOK
}

// run drives every connection until the duration or the count is
// reached, then collects the echoes still in flight and closes.
func (b *bench) run(e *env, conns []*ws.Conn, progress bool) *benchResult {
	payload := make([]byte, b.o.size)
	f := ws.Binary
	if b.o.text {
		f = ws.Text
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
	} else {
		rand.Read(payload)
	}
	ctx := context.Background()
	var cancel context.CancelFunc = func() {}
	if b.o.count == 0 {
		ctx, cancel = context.WithTimeout(ctx, b.o.dur)
	}
	defer cancel()
	hists := make([]*histogram, len(conns))
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		hists[i] = newHistogram()
		wg.Go(func() { errs[i] = b.drive(ctx, c, f, payload, hists[i]) })
	}
	stopProgress := b.progress(e, start, progress)
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	b.closeAll(conns)
	r := b.result(hists, errs, elapsed)
	r.Extensions = conns[0].Extensions()
	return r
}

// drive runs one connection: a sender keeps up to --inflight messages
// outstanding, the receiver matches echoes to send times in order.
func (b *bench) drive(ctx context.Context, c *ws.Conn, f ws.Flags, payload []byte, h *histogram) error {
	slots := make(chan struct{}, b.o.inflight)
	times := make(chan time.Time, b.o.inflight)
	done := make(chan struct{})
	var serr error
	go func() {
		defer close(times)
		for b.claim() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
			times <- time.Now()
			if serr = c.Send(context.Background(), f, payload); serr != nil {
				return
			}
		}
	}()
	// Room beyond the payload, so that a wrong echo is seen as one.
	buf := make([]byte, len(payload)+4096)
	var rerr error
	for t := range times {
		rctx, cancel := context.WithTimeout(context.Background(), b.o.timeout)
		n, _, err := c.Recv(rctx, buf)
		cancel()
		if rerr = err; err == nil && n != len(payload) {
			rerr = fmt.Errorf("echo of %d bytes for a message of %d", n, len(payload))
		}
		if rerr != nil {
			close(done)
			c.Close() // unblocks the sender
			for range times {
			}
			break
		}
		h.record(uint64(time.Since(t)))
		b.recvd.Add(1)
		<-slots
	}
	if rerr != nil {
		return rerr
	}
	return serr
}

// claim reports whether another message may be sent under -n.
func (b *bench) claim() bool {
	return b.o.count == 0 || b.sent.Add(1) <= b.o.count
}

// progress shows a live line on stderr until the returned func is called.
func (b *bench) progress(e *env, start time.Time, on bool) func() {
	if !on {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				fmt.Fprint(e.stderr, "\r\033[K")
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				n := b.recvd.Load()
				fmt.Fprintf(e.stderr, "\r\033[K  %5.1fs  %10d msgs  %10.0f msg/s", el, n, float64(n)/el)
			}
		}
	}()
	return func() { close(stop); <-done }
}

// closeAll closes every connection with 1000, in parallel, bounded.
func (b *bench) closeAll(conns []*ws.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { detach(c, ws.StatusNormalClosure, "") })
	}
	wg.Wait()
}

type benchResult struct {
	URL         string       `json:"url"`
	Local       bool         `json:"in_process_server"`
	Connections int          `json:"connections"`
	Inflight    int          `json:"inflight"`
	Size        int          `json:"size"`
	Text        bool         `json:"text"`
	Compress    bool         `json:"compress"`
	Extensions  string       `json:"extensions"`
	Seconds     float64      `json:"seconds"`
	Messages    int64        `json:"messages"`
	MsgsPerSec  float64      `json:"msgs_per_sec"`
	MBPerSec    float64      `json:"mb_per_sec"`
	Latency     latencyStats `json:"latency_ns"`
	Histogram   []histBin    `json:"histogram"`
	Errors      int          `json:"errors"`
	FirstError  string       `json:"first_error,omitempty"`
}

type latencyStats struct {
	Min  uint64  `json:"min"`
	Mean float64 `json:"mean"`
	P50  uint64  `json:"p50"`
	P90  uint64  `json:"p90"`
	P99  uint64  `json:"p99"`
	P999 uint64  `json:"p999"`
	Max  uint64  `json:"max"`
}

func (b *bench) result(hists []*histogram, errs []error, elapsed time.Duration) *benchResult {
	all := newHistogram()
	for _, h := range hists {
		all.merge(h)
	}
	r := &benchResult{
		URL: b.url, Local: b.local, Connections: b.o.conns, Inflight: b.o.inflight,
		Size: b.o.size, Text: b.o.text, Compress: b.o.compress,
		Seconds: elapsed.Seconds(), Messages: int64(all.n),
		Histogram: all.bins(),
	}
	if r.Seconds > 0 {
		r.MsgsPerSec = float64(all.n) / r.Seconds
		r.MBPerSec = r.MsgsPerSec * float64(b.o.size) / 1e6
	}
	if all.n > 0 {
		r.Latency = latencyStats{
			Min: all.min, Mean: all.mean(), P50: all.quantile(0.5), P90: all.quantile(0.9),
			P99: all.quantile(0.99), P999: all.quantile(0.999), Max: all.max,
		}
	}
	for _, err := range errs {
		if err != nil {
			if r.Errors == 0 {
				r.FirstError = libError(err).Error()
			}
			r.Errors++
		}
	}
	return r
}

func (r *benchResult) print(w io.Writer) {
	kind := "binary"
	if r.Text {
		kind = "text"
	}
	server := ""
	if r.Local {
		server = " (in-process echo server)"
	}
	ext := ""
	if r.Extensions != "" {
		ext = ", " + r.Extensions
	}
	fmt.Fprintf(w, "%s%s: %d connections × %d in flight, %d-byte %s messages%s\n",
		r.URL, server, r.Connections, r.Inflight, r.Size, kind, ext)
	fmt.Fprintf(w, "  messages  %d in %.2fs: %.0f msg/s, %.2f MB/s\n", r.Messages, r.Seconds, r.MsgsPerSec, r.MBPerSec)
	l := r.Latency
	fmt.Fprintf(w, "  latency   min %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		ns(l.Min), ns(l.P50), ns(l.P90), ns(l.P99), ns(l.P999), ns(l.Max))
	var top uint64
	for _, b := range r.Histogram {
		top = max(top, b.Count)
	}
	for _, b := range r.Histogram {
		bar := 0
		if top > 0 {
			bar = int(b.Count * 40 / top)
		}
		fmt.Fprintf(w, "  %9s – %-9s %-40s %6.2f%%\n", ns(b.Lo), ns(b.Hi), strings.Repeat("#", bar),
			100*float64(b.Count)/float64(max(r.Messages, 1)))
	}
}

// ns formats nanoseconds with a unit and three significant digits.
func ns(v uint64) string {
	d := float64(v)
	switch {
	case d < 1e3:
		return fmt.Sprintf("%.0fns", d)
	case d < 1e6:
		return fmt.Sprintf("%.3gµs", d/1e3)
	case d < 1e9:
		return fmt.Sprintf("%.3gms", d/1e6)
	}
	return fmt.Sprintf("%.3gs", d/1e9)
}
