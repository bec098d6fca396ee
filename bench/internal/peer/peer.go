// Package peer is the measured process: it runs one library in one role
// against a connection (or listener) inherited as file descriptor 3 from
// the driver, which plays the other side with a cheap generator, and
// prints a Report. Keeping the measured side alone in its process lets
// getrusage, MemStats and callgrind see only that library's work.
package peer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dillgo/ws/bench/internal/libs"
	"github.com/dillgo/ws/bench/internal/wire"
)

// Env marks a process started to act as a peer (see Main).
const Env = "WSBENCH_PEER"

// Prefix starts the report line on stdout.
const Prefix = "WSBENCH-REPORT "

// Report is what a peer measured. Counters are deltas over the measured loop.
type Report struct {
	Lib        string `json:"lib"`
	Mode       string `json:"mode"`
	Role       string `json:"role,omitempty"`
	Size       int    `json:"size,omitempty"`
	Count      int64  `json:"count"` // messages, round trips, handshakes or connections
	WallNS     int64  `json:"wall_ns"`
	CPUNS      int64  `json:"cpu_ns"`
	Mallocs    uint64 `json:"mallocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	RSS        int64  `json:"rss,omitempty"`   // idle: RSS growth, bytes
	Heap       int64  `json:"heap,omitempty"`  // idle: HeapInuse growth
	Stack      int64  `json:"stack,omitempty"` // idle: StackInuse growth
	Goroutines int    `json:"goroutines,omitempty"`
	Checked    int64  `json:"checked"`            // messages whose content was verified
	WireIn     int64  `json:"wire_in,omitempty"`  // echo-server: bytes read from the connection in the loop
	WireOut    int64  `json:"wire_out,omitempty"` // echo-server: bytes written to it in the loop
	// Read and write system calls of the process in the loop (syscr and
	// syscw of /proc/self/io: read, readv, write, writev), -1 where the
	// kernel does not say. In the loop the only I/O is the connection's
	// (and the runtime's rare netpoller wake-ups), so that they count the
	// calls at the net.Conn without wrapping it: a wrapper would hide
	// *net.TCPConn and turn net.Buffers' one writev into a write per
	// buffer.
	ReadCalls  int64  `json:"read_calls"`
	WriteCalls int64  `json:"write_calls"`
	Err        string `json:"err,omitempty"`
}

// Args are a peer's parameters.
type Args struct {
	Lib     string
	Mode    string // send, recv, echo, echo-server, handshake, idle
	Role    string // client or server (send, recv)
	Size    int
	Count   int
	Dur     time.Duration
	Deflate bool
	JSON    bool // JSON payload instead of random bytes
}

// Flags renders a as command-line arguments for Main.
func (a Args) Flags() []string {
	return []string{"-lib", a.Lib, "-mode", a.Mode, "-role", a.Role,
		"-size", strconv.Itoa(a.Size), "-n", strconv.Itoa(a.Count), "-dur", a.Dur.String(),
		"-deflate=" + strconv.FormatBool(a.Deflate), "-json=" + strconv.FormatBool(a.JSON)}
}

// Main runs a peer with command-line args and returns the exit code.
func Main(args []string) int {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	var a Args
	fs.StringVar(&a.Lib, "lib", "raw", "library")
	fs.StringVar(&a.Mode, "mode", "send", "send|recv|echo|echo-server|handshake|idle")
	fs.StringVar(&a.Role, "role", "client", "client|server")
	fs.IntVar(&a.Size, "size", 16, "message size")
	fs.IntVar(&a.Count, "n", 1000, "messages / handshakes / connections")
	fs.DurationVar(&a.Dur, "dur", 10*time.Second, "time bound of the measured loop")
	fs.BoolVar(&a.Deflate, "deflate", false, "permessage-deflate")
	fs.BoolVar(&a.JSON, "json", false, "JSON payload")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r := Run(a)
	b, _ := json.Marshal(r)
	fmt.Printf("%s%s\n", Prefix, b)
	if r.Err != "" {
		return 1
	}
	return 0
}

// ParseReport finds the report line in a peer's output.
func ParseReport(out []byte) (Report, error) {
	var r Report
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, Prefix); ok {
			err := json.Unmarshal([]byte(rest), &r)
			return r, err
		}
	}
	return r, errors.New("peer: no report in output")
}

// Run executes one peer run.
func Run(a Args) (r Report) {
	r = Report{Lib: a.Lib, Mode: a.Mode, Role: a.Role, Size: a.Size}
	lib, err := libs.Get(a.Lib)
	if err == nil {
		switch a.Mode {
		case "send":
			err = runSend(lib, a, &r)
		case "recv":
			err = runRecv(lib, a, &r)
		case "echo":
			err = runEcho(lib, a, &r)
		case "echo-server":
			err = runEchoServer(lib, a, &r)
		case "handshake":
			err = runHandshake(lib, a, &r)
		case "idle":
			err = runIdle(lib, a, &r)
		default:
			err = fmt.Errorf("peer: unknown mode %q", a.Mode)
		}
	}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// meter snapshots the process counters around a measured loop.
type meter struct {
	t      time.Time
	cpu    int64
	ms     runtime.MemStats
	rd, wr int64 // system calls at start
	done   bool
}

// ioCalls returns the process's read and write system calls so far, or
// -1, -1 if /proc/self/io cannot be read.
func ioCalls() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1, -1
	}
	reads, writes = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func (m *meter) start() {
	// Start every measured loop from a fresh heap, so a collection owed
	// to setup does not land in it (it made callgrind's N/2N subtraction
	// noisy); collections caused by the loop's own garbage still count.
	runtime.GC()
	runtime.ReadMemStats(&m.ms)
	m.rd, m.wr = ioCalls()
	m.cpu = cpuNow()
	m.t = time.Now()
}

func (m *meter) stop(r *Report, count int64) {
	if m.done {
		return
	}
	m.done = true
	wall := time.Since(m.t)
	cpu := cpuNow() - m.cpu
	rd, wr := ioCalls()
	r.ReadCalls, r.WriteCalls = -1, -1
	if rd >= 0 && m.rd >= 0 {
		// The /proc read itself is one read call (ReadFile: open, fstat,
		// read until EOF: two reads), made at start after the snapshot.
		r.ReadCalls, r.WriteCalls = max(rd-m.rd-2, 0), wr-m.wr
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.Count = count
	r.WallNS = wall.Nanoseconds()
	r.CPUNS = cpu
	r.Mallocs = ms.Mallocs - m.ms.Mallocs
	r.AllocBytes = ms.TotalAlloc - m.ms.TotalAlloc
}

func inherited() (*os.File, error) {
	f := os.NewFile(3, "inherited")
	if f == nil {
		return nil, errors.New("peer: no file descriptor 3")
	}
	return f, nil
}

func inheritedConn() (net.Conn, error) {
	f, err := inherited()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileConn(f)
}

func inheritedListener() (net.Listener, error) {
	f, err := inherited()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// Payload returns the payload of a run (the first, with JSON).
func Payload(a Args) []byte { return Payloads(a)[0] }

// Payloads returns the messages of a run, sent in rotation: one random
// payload, or with JSON the wire.JSONDocs distinct JSON documents.
func Payloads(a Args) [][]byte {
	if a.JSON {
		return wire.JSONPayloads(a.Size)
	}
	return [][]byte{wire.Payload(a.Size)}
}

func attach(lib libs.Lib, role string, c net.Conn, a Args) (libs.Conn, error) {
	o := libs.Opts{Deflate: a.Deflate, MaxSize: a.Size}
	if role == "server" {
		return lib.Server(c, o)
	}
	return lib.Client(c, o)
}

func runSend(lib libs.Lib, a Args, r *Report) error {
	u, err := inheritedConn()
	if err != nil {
		return err
	}
	c, err := attach(lib, a.Role, u, a)
	if err != nil {
		return err
	}
	defer c.Close()
	p := Payload(a)
	var m meter
	m.start()
	deadline := m.t.Add(a.Dur)
	i := 0
	for ; i < a.Count; i++ {
		if err := c.Send(p); err != nil {
			m.stop(r, int64(i))
			return err
		}
		if i&63 == 63 && time.Now().After(deadline) {
			i++
			break
		}
	}
	m.stop(r, int64(i))
	return nil
}

// checker verifies received messages: every length, and the content of
// the first and the last. Message k (from 1) must be want[(k-1)%len(want)].
type checker struct {
	want  [][]byte
	n     int64
	ok    int64
	bad   error
	count int
}

func (k *checker) check(msg []byte, last bool) {
	k.n++
	want := k.want[(k.n-1)%int64(len(k.want))]
	if len(msg) != len(want) {
		if k.bad == nil {
			k.bad = fmt.Errorf("message %d: %d bytes, want %d", k.n, len(msg), len(want))
		}
		return
	}
	if k.n == 1 || last {
		if !bytes.Equal(msg, want) {
			if k.bad == nil {
				k.bad = fmt.Errorf("message %d: content differs", k.n)
			}
			return
		}
		k.ok++
	}
}

func runRecv(lib libs.Lib, a Args, r *Report) error {
	u, err := inheritedConn()
	if err != nil {
		return err
	}
	c, err := attach(lib, a.Role, u, a)
	if err != nil {
		return err
	}
	defer c.Close()
	k := checker{want: Payloads(a)}
	buf := make([]byte, max(a.Size, 1))
	var m meter
	m.start()
	deadline := m.t.Add(a.Dur)
	err = c.Serve(buf, func(msg []byte) bool {
		last := k.n+1 >= int64(a.Count) || (k.n&63 == 63 && time.Now().After(deadline))
		k.check(msg, last)
		if last {
			m.stop(r, k.n)
		}
		return !last
	})
	m.stop(r, k.n)
	r.Checked = k.ok
	if err != nil {
		return err
	}
	return k.bad
}

func loopbackPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		s, _ := ln.Accept()
		ch <- s
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	server = <-ch
	if server == nil {
		client.Close()
		return nil, nil, errors.New("peer: accept failed")
	}
	return client, server, nil
}

func runEcho(lib libs.Lib, a Args, r *Report) error {
	cu, su, err := loopbackPair()
	if err != nil {
		return err
	}
	srvErr := make(chan error, 1)
	go func() {
		s, err := attach(lib, "server", su, a)
		if err != nil {
			srvErr <- err
			su.Close()
			return
		}
		defer s.Close()
		buf := make([]byte, max(a.Size, 1))
		s.Serve(buf, func(msg []byte) bool { return s.Send(msg) == nil })
		srvErr <- nil
	}()
	c, err := attach(lib, "client", cu, a)
	if err != nil {
		su.Close()
		return errors.Join(err, <-srvErr)
	}
	defer c.Close()
	ps := Payloads(a)
	k := checker{want: ps}
	buf := make([]byte, max(a.Size, 1))
	var m meter
	m.start()
	deadline := m.t.Add(a.Dur)
	var sendErr error
	if sendErr = c.Send(ps[0]); sendErr == nil {
		err = c.Serve(buf, func(msg []byte) bool {
			last := k.n+1 >= int64(a.Count) || (k.n&15 == 15 && time.Now().After(deadline))
			k.check(msg, last)
			if last {
				m.stop(r, k.n)
				return false
			}
			sendErr = c.Send(ps[k.n%int64(len(ps))])
			return sendErr == nil
		})
	}
	m.stop(r, k.n)
	r.Checked = k.ok
	return errors.Join(err, sendErr, k.bad)
}

// countingConn counts the bytes read from and written to a connection.
type countingConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// runEchoServer is the measured server of an echo: it attaches as server on
// the inherited connection, echoes the messages of the driver's client (the
// same library, see driver.echoClientGen) until Count are echoed or Dur has
// passed, and reports its own CPU and allocations per message, and the bytes
// that crossed the wire each way during the loop (the handshake excluded).
func runEchoServer(lib libs.Lib, a Args, r *Report) error {
	u, err := inheritedConn()
	if err != nil {
		return err
	}
	cu := &countingConn{Conn: u}
	c, err := attach(lib, "server", cu, a)
	if err != nil {
		return err
	}
	defer c.Close()
	k := checker{want: Payloads(a)}
	buf := make([]byte, max(a.Size, 1))
	var m meter
	m.start()
	in0, out0 := cu.in.Load(), cu.out.Load()
	deadline := m.t.Add(a.Dur)
	var sendErr error
	err = c.Serve(buf, func(msg []byte) bool {
		last := k.n+1 >= int64(a.Count) || (k.n&15 == 15 && time.Now().After(deadline))
		k.check(msg, last)
		if sendErr = c.Send(msg); sendErr != nil {
			return false
		}
		if last {
			m.stop(r, k.n)
			r.WireIn, r.WireOut = cu.in.Load()-in0, cu.out.Load()-out0
		}
		return !last
	})
	if !m.done {
		m.stop(r, k.n)
		r.WireIn, r.WireOut = cu.in.Load()-in0, cu.out.Load()-out0
	}
	r.Checked = k.ok
	return errors.Join(err, sendErr, k.bad)
}

func runHandshake(lib libs.Lib, a Args, r *Report) error {
	ln, err := inheritedListener()
	if err != nil {
		return err
	}
	defer ln.Close()
	var m meter
	deadline := time.Now().Add(a.Dur)
	n := 0
	for n < a.Count && time.Now().Before(deadline) {
		u, err := ln.Accept()
		if err != nil {
			return err
		}
		if n == 0 {
			m.start()
		}
		if lib.Raw {
			// The floor: accept and close, nothing else.
			u.Close()
			n++
			continue
		}
		c, err := lib.AcceptFunc()(u, libs.Opts{Deflate: a.Deflate, MaxSize: a.Size})
		if err != nil {
			u.Close()
			return fmt.Errorf("handshake %d: %w", n, err)
		}
		c.Close()
		n++
	}
	m.stop(r, int64(n))
	return nil
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

type memSnap struct {
	rss, heap, stack int64
	g                int
}

func snapshot() memSnap {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{rss: rss(), heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse), g: runtime.NumGoroutine()}
}

// runIdle accepts Count connections, upgrades each and leaves a goroutine
// waiting for its next message (no application receive buffer), then
// reports the memory growth. It exits when stdin closes.
func runIdle(lib libs.Lib, a Args, r *Report) error {
	ln, err := inheritedListener()
	if err != nil {
		return err
	}
	defer ln.Close()
	before := snapshot()
	conns := make([]libs.Conn, 0, a.Count)
	deadline := time.Now().Add(a.Dur)
	for len(conns) < a.Count && time.Now().Before(deadline) {
		u, err := ln.Accept()
		if err != nil {
			return err
		}
		c, err := lib.AcceptFunc()(u, libs.Opts{Deflate: a.Deflate, MaxSize: a.Size})
		if err != nil {
			u.Close()
			return err
		}
		conns = append(conns, c)
		go c.Serve(nil, func([]byte) bool { return true })
	}
	time.Sleep(200 * time.Millisecond) // let every reader park
	after := snapshot()
	n := int64(len(conns))
	r.Count = n
	r.RSS = after.rss - before.rss
	r.Heap = after.heap - before.heap
	r.Stack = after.stack - before.stack
	r.Goroutines = after.g - before.g
	b, _ := json.Marshal(r)
	fmt.Printf("%s%s\n", Prefix, b)
	os.Stdout.Sync()
	// Hold the connections until the driver is done with them.
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	os.Exit(0)
	return nil
}
