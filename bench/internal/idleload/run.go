package idleload

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dillgo/ws/bench/internal/wire"
)

// Config selects a run.
type Config struct {
	Counts  []int         // idle connection counts
	TLSN    int           // connections of the wss:// idle runs (0: none)
	LoadN   int           // watched connections of the echo load (0: none)
	Active  int           // of them, sending
	LoadDur time.Duration // echo load duration
	Sizes   []int         // message sizes of the traffic phase
	PerAddr int           // connections per client source address
	Libs    []string
	Self    string   // executable run as the server (with Env=1)
	Env     []string // extra environment of the server
	Log     io.Writer
}

// Row is one idle measurement.
type Row struct {
	Lib        string
	TLS        bool
	N          int
	Fresh, Hot Snap
}

// Load is one echo load measurement.
type Load struct {
	Lib       string
	N, Active int
	Msgs      int64
	PerSec    float64
	P50, P99  time.Duration
	CPUPerMsg float64 // server ns per echoed message
}

// Results of a run.
type Results struct {
	NoFile uint64
	Idle   []Row
	Loads  []Load
}

func (cfg *Config) logf(f string, a ...any) {
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, f+"\n", a...)
	}
}

type server struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

var srcSeq atomic.Int32

func start(cfg *Config, lib string, useTLS bool) (*server, error) {
	cmd := exec.Command(cfg.Self, "-idleload-server", lib, fmt.Sprintf("-idleload-tls=%v", useTLS))
	cmd.Env = append(append(os.Environ(), cfg.Env...), Env+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	line, err := s.line("ADDR ")
	if err != nil {
		s.stop()
		return nil, err
	}
	s.addr = line
	return s, nil
}

func (s *server) line(prefix string) (string, error) {
	for s.out.Scan() {
		t := s.out.Text()
		if rest, ok := strings.CutPrefix(t, prefix); ok {
			return rest, nil
		}
		if strings.HasPrefix(t, "ERR") {
			return "", errors.New(t)
		}
	}
	return "", fmt.Errorf("idleload: server ended (%v)", s.out.Err())
}

func (s *server) snap(n int) (Snap, error) {
	var sn Snap
	if _, err := fmt.Fprintf(s.in, "snap %d\n", n); err != nil {
		return sn, err
	}
	l, err := s.line("SNAP ")
	if err != nil {
		return sn, err
	}
	return sn, json.Unmarshal([]byte(l), &sn)
}

func (s *server) stop() {
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// dialAll opens n WebSocket connections, PerAddr of them per source
// address 127.1.x.y (fresh addresses each run, so earlier TIME_WAIT ports
// never collide).
func dialAll(cfg *Config, addr string, n int, useTLS bool) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var first error
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	base := int(srcSeq.Add(int32((n+cfg.PerAddr-1)/cfg.PerAddr))) - (n+cfg.PerAddr-1)/cfg.PerAddr
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				k := base + i/cfg.PerAddr + 1
				d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(k>>8), byte(k))}}
				c, err := d.Dial("tcp", addr)
				if err == nil && useTLS {
					t := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
					c = t
				}
				if err == nil {
					c.SetDeadline(time.Now().Add(30 * time.Second))
					_, err = wire.ClientHandshake(c)
					c.SetDeadline(time.Time{})
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("conn %d: %w", i, err)
					}
					mu.Unlock()
					if c != nil {
						c.Close()
					}
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if first != nil {
		closeAll(conns)
		return nil, first
	}
	return conns, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// roundTrip sends msg masked as one binary message and reads the echo.
func roundTrip(c net.Conn, frame, msg, buf []byte) error {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(frame); err != nil {
		return err
	}
	n := 0
	for {
		var h [10]byte
		if _, err := io.ReadFull(c, h[:2]); err != nil {
			return err
		}
		if h[0]&0x0f > 2 || h[1]&0x80 != 0 {
			return fmt.Errorf("idleload: unexpected frame header %x", h[:2])
		}
		k := int(h[1] & 0x7f)
		switch k {
		case 126:
			if _, err := io.ReadFull(c, h[2:4]); err != nil {
				return err
			}
			k = int(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			if _, err := io.ReadFull(c, h[2:10]); err != nil {
				return err
			}
			k = int(binary.BigEndian.Uint64(h[2:10]))
		}
		if n+k > len(msg) {
			return fmt.Errorf("idleload: echo of %d bytes is longer", len(msg))
		}
		if _, err := io.ReadFull(c, buf[n:n+k]); err != nil {
			return err
		}
		n += k
		if h[0]&0x80 != 0 {
			break
		}
	}
	if n != len(msg) || !bytes.Equal(buf[:n], msg) {
		return fmt.Errorf("idleload: echo of %d bytes differs (%d bytes)", len(msg), n)
	}
	return nil
}

// traffic makes every connection exchange one message of each size.
func traffic(conns []net.Conn, sizes []int) error {
	var frames, msgs [][]byte
	for _, s := range sizes {
		m := wire.Payload(s)
		msgs = append(msgs, m)
		frames = append(frames, wire.AppendFrame(nil, 2, m, true))
	}
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10+16)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) || first.Load() != nil {
					return
				}
				for k := range msgs {
					if err := roundTrip(conns[i], frames[k], msgs[k], buf); err != nil {
						first.CompareAndSwap(nil, fmt.Errorf("conn %d: %w", i, err))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if e, ok := first.Load().(error); ok {
		return e
	}
	return nil
}

func (cfg *Config) idle(lib string, useTLS bool, n int) (Row, uint64, error) {
	r := Row{Lib: lib, TLS: useTLS, N: n}
	s, err := start(cfg, lib, useTLS)
	if err != nil {
		return r, 0, err
	}
	defer s.stop()
	conns, err := dialAll(cfg, s.addr, n, useTLS)
	if err != nil {
		return r, 0, err
	}
	defer closeAll(conns)
	if r.Fresh, err = s.snap(n); err != nil {
		return r, 0, err
	}
	if err := traffic(conns, cfg.Sizes); err != nil {
		return r, 0, err
	}
	if r.Hot, err = s.snap(n); err != nil {
		return r, 0, err
	}
	return r, r.Fresh.NoFile, nil
}

func (cfg *Config) load(lib string) (Load, error) {
	l := Load{Lib: lib, N: cfg.LoadN, Active: cfg.Active}
	s, err := start(cfg, lib, false)
	if err != nil {
		return l, err
	}
	defer s.stop()
	conns, err := dialAll(cfg, s.addr, cfg.LoadN, false)
	if err != nil {
		return l, err
	}
	defer closeAll(conns)
	s0, err := s.snap(cfg.LoadN)
	if err != nil {
		return l, err
	}
	msg := wire.Payload(1024)
	frame := wire.AppendFrame(nil, 2, msg, true)
	lat := make([][]time.Duration, cfg.Active)
	var first atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(cfg.LoadDur)
	step := max(1, cfg.LoadN/cfg.Active)
	for a := range cfg.Active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conns[(a*step)%len(conns)]
			buf := make([]byte, 2048)
			for time.Now().Before(end) {
				t := time.Now()
				if err := roundTrip(c, frame, msg, buf); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				lat[a] = append(lat[a], time.Since(t))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	if e, ok := first.Load().(error); ok {
		return l, e
	}
	s1, err := s.snap(0)
	if err != nil {
		return l, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	l.Msgs = int64(len(all))
	if l.Msgs == 0 {
		return l, errors.New("idleload: no message echoed")
	}
	l.PerSec = float64(l.Msgs) / wall.Seconds()
	l.P50, l.P99 = all[len(all)/2], all[len(all)*99/100]
	l.CPUPerMsg = float64(s1.CPUNS-s0.CPUNS) / float64(l.Msgs)
	return l, nil
}

// Run measures every configured library, interleaved: for each count,
// each library in turn.
func Run(cfg Config) (*Results, error) {
	if cfg.PerAddr <= 0 {
		cfg.PerAddr = 20000
	}
	if len(cfg.Libs) == 0 {
		cfg.Libs = Libs
	}
	RaiseNoFile()
	res := &Results{}
	var errs []error
	for _, n := range cfg.Counts {
		for _, lib := range cfg.Libs {
			r, nf, err := cfg.idle(lib, false, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("idle %s %d: %w", lib, n, err))
				continue
			}
			res.NoFile = nf
			cfg.logf("idle %-13s %6d: fresh %6.0f B RSS/conn, after traffic %6.0f", lib, n, per(r.Fresh.RSS, n), per(r.Hot.RSS, n))
			res.Idle = append(res.Idle, r)
		}
	}
	if cfg.TLSN > 0 {
		for _, lib := range []string{"ws-poller", "ws-goroutine"} {
			if !slices.Contains(cfg.Libs, lib) {
				continue
			}
			r, _, err := cfg.idle(lib, true, cfg.TLSN)
			if err != nil {
				errs = append(errs, fmt.Errorf("idle wss %s: %w", lib, err))
				continue
			}
			cfg.logf("idle wss %-9s %6d: fresh %6.0f B RSS/conn, after traffic %6.0f", lib, cfg.TLSN, per(r.Fresh.RSS, cfg.TLSN), per(r.Hot.RSS, cfg.TLSN))
			res.Idle = append(res.Idle, r)
		}
	}
	if cfg.LoadN > 0 {
		for _, lib := range cfg.Libs {
			l, err := cfg.load(lib)
			if err != nil {
				errs = append(errs, fmt.Errorf("load %s: %w", lib, err))
				continue
			}
			cfg.logf("load %-13s: %8.0f msg/s p50 %v p99 %v %6.0f ns cpu/msg", lib, l.PerSec, l.P50, l.P99, l.CPUPerMsg)
			res.Loads = append(res.Loads, l)
		}
	}
	return res, errors.Join(errs...)
}

func per(v int64, n int) float64 { return float64(v) / float64(max(n, 1)) }

// Markdown renders the tables.
func (r *Results) Markdown(w io.Writer) {
	fmt.Fprintf(w, "RLIMIT_NOFILE of the server process after raising the soft limit to the hard one: %d.\n\n", r.NoFile)
	fmt.Fprintln(w, "| server | conns | fresh RSS/conn | heap | stacks | goroutines/conn | after traffic RSS/conn | heap | stacks |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, x := range r.Idle {
		name := x.Lib
		if x.TLS {
			name += " (wss)"
		}
		fmt.Fprintf(w, "| %s | %d | %.0f B | %.0f B | %.0f B | %.2f | %.0f B | %.0f B | %.0f B |\n", name, x.N,
			per(x.Fresh.RSS, x.N), per(x.Fresh.Heap, x.N), per(x.Fresh.Stack, x.N), float64(x.Fresh.Goroutines)/float64(max(x.N, 1)),
			per(x.Hot.RSS, x.N), per(x.Hot.Heap, x.N), per(x.Hot.Stack, x.N))
	}
	if len(r.Loads) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| server | conns | sending | round trips/s | p50 | p99 | server CPU/msg |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, l := range r.Loads {
			fmt.Fprintf(w, "| %s | %d | %d | %.0f | %v | %v | %.0f ns |\n", l.Lib, l.N, l.Active, l.PerSec,
				l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond), l.CPUPerMsg)
		}
	}
}
