package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dillgo/ws/bench/internal/libs"
	"github.com/dillgo/ws/bench/internal/peer"
	"github.com/dillgo/ws/bench/internal/wire"
)

// Launcher says how to start a peer process for a library.
type Launcher func(lib string) (path string, args, env []string)

// tcpPair returns both ends of a fresh loopback TCP connection.
func tcpPair() (*net.TCPConn, *net.TCPConn, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	ch := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		ch <- c
	}()
	a, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, nil, err
	}
	b := <-ch
	if b == nil {
		a.Close()
		return nil, nil, errors.New("driver: accept failed")
	}
	return a, b, nil
}

// proc is one peer run's outcome.
type proc struct {
	rep peer.Report
	ir  int64 // callgrind instructions, when run under callgrind
	out string
}

// command builds the peer command, optionally under callgrind writing cgOut.
func (d *Driver) command(ctx context.Context, a peer.Args, cgOut string) *exec.Cmd {
	path, pre, env := d.launch(a.Lib)
	args := append(append([]string{}, pre...), a.Flags()...)
	if cgOut != "" {
		args = append([]string{"--tool=callgrind", "--callgrind-out-file=" + cgOut,
			"--dump-line=no", path}, args...)
		path = "valgrind"
		// Async preemption signals trip callgrind's signal bookkeeping, and
		// valgrind 3.19 does not decode RDTSCP, which Go 1.26's cputicks
		// uses when CPUID offers it (it does under valgrind on some hosts):
		// the peer would die of SIGILL.
		env = append(env, "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off")
	}
	if dir := os.Getenv("WSBENCH_STRACE"); dir != "" && cgOut == "" {
		sargs := []string{"-f", "-c"}
		if x := os.Getenv("WSBENCH_STRACE_ARGS"); x != "" {
			sargs = strings.Fields(x)
		}
		args = append(append(sargs, "-o", filepath.Join(dir, a.Lib+"."+a.Mode+"."+a.Role), path), args...)
		path = "strace"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// runConn runs a peer on one end of a loopback connection (its fd 3) while
// gen drives the other end.
func (d *Driver) runConn(a peer.Args, gen func(net.Conn) error, callgrind bool) (proc, error) {
	mine, theirs, err := tcpPair()
	if err != nil {
		return proc{}, err
	}
	defer mine.Close()
	f, err := theirs.File()
	theirs.Close()
	if err != nil {
		return proc{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.procTimeout(callgrind))
	defer cancel()
	var cg string
	if callgrind {
		cg = filepath.Join(d.tmp, fmt.Sprintf("cg.%s.%s.%s.%d.%d.out", a.Lib, a.Mode, a.Role, a.Size, a.Count))
	}
	cmd := d.command(ctx, a, cg)
	cmd.ExtraFiles = []*os.File{f}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		f.Close()
		return proc{}, err
	}
	f.Close()
	genErr := make(chan error, 1)
	go func() { genErr <- gen(mine) }()
	werr := cmd.Wait()
	mine.Close()
	gerr := <-genErr
	p := proc{out: out.String()}
	rep, perr := peer.ParseReport(out.Bytes())
	p.rep = rep
	if perr != nil {
		return p, fmt.Errorf("%s %s/%s: %v (wait: %v, gen: %v) stderr: %s", a.Lib, a.Mode, a.Role, perr, werr, gerr, tail(errb.String()))
	}
	if rep.Err != "" {
		return p, fmt.Errorf("%s %s/%s size %d: peer: %s (gen: %v)", a.Lib, a.Mode, a.Role, a.Size, rep.Err, gerr)
	}
	if callgrind {
		p.ir, err = callgrindTotal(cg)
		if err != nil {
			return p, err
		}
		if d.keepProfile(a) {
			d.setProfile(profileKey(a), cg)
		} else {
			os.Remove(cg)
		}
	}
	return p, nil
}

func (d *Driver) procTimeout(callgrind bool) time.Duration {
	if callgrind {
		return 10 * time.Minute
	}
	return 2 * time.Minute
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

var totalsRe = regexp.MustCompile(`(?m)^(?:summary|totals):\s+(\d+)`)

func callgrindTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	m := totalsRe.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("driver: no totals in %s", path)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// genFor returns the generator that plays the other side of a send or
// recv peer: it completes the handshake, then sinks what the peer sends or
// sources Count pre-encoded frames.
func genFor(lib libs.Lib, a peer.Args) func(net.Conn) error {
	var frame []byte
	if a.Mode == "recv" {
		frame = wire.Encode(lib.Raw, a.Role == "server", peer.Payload(a))
	}
	return func(c net.Conn) error {
		if !lib.Raw {
			var err error
			if a.Role == "server" {
				_, err = wire.ClientHandshake(c)
			} else {
				_, err = wire.ServerHandshake(c)
			}
			if err != nil {
				return err
			}
		}
		if a.Mode == "send" {
			_, err := wire.Sink(c)
			return err
		}
		err := wire.Source(c, frame, a.Count)
		if err != nil {
			return err
		}
		// Keep the connection open until the peer is done reading.
		_, err = wire.Sink(c)
		return err
	}
}

// echoClientGen plays the client of an echo-server peer with the same
// library: it sends a.Count messages, each after the echo of the previous.
func echoClientGen(l libs.Lib, a peer.Args) func(net.Conn) error {
	ps := peer.Payloads(a)
	return func(c net.Conn) error {
		cl, err := l.Client(c, libs.Opts{Deflate: a.Deflate, MaxSize: a.Size})
		if err != nil {
			c.Close()
			return err
		}
		defer cl.Close()
		if err := cl.Send(ps[0]); err != nil {
			return err
		}
		n := 0
		var sendErr error
		err = cl.Serve(make([]byte, max(a.Size, 1)), func([]byte) bool {
			n++
			if n >= a.Count {
				return false
			}
			sendErr = cl.Send(ps[n%len(ps)])
			return sendErr == nil
		})
		return errors.Join(err, sendErr)
	}
}

// runEcho runs a self-contained echo peer.
func (d *Driver) runSelf(a peer.Args) (proc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.procTimeout(false))
	defer cancel()
	cmd := d.command(ctx, a, "")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	werr := cmd.Run()
	rep, perr := peer.ParseReport(out.Bytes())
	if perr != nil {
		return proc{}, fmt.Errorf("%s %s: %v (wait: %v) stderr: %s", a.Lib, a.Mode, perr, werr, tail(errb.String()))
	}
	if rep.Err != "" {
		return proc{rep: rep}, fmt.Errorf("%s %s size %d: peer: %s", a.Lib, a.Mode, a.Size, rep.Err)
	}
	return proc{rep: rep}, nil
}

// runListen runs a peer on a listener (its fd 3); gen dials addr. For idle
// runs the peer reports before gen's connections are released: hold is
// called with the report, then the peer's stdin is closed.
func (d *Driver) runListen(a peer.Args, gen func(addr string, stop <-chan struct{}) error, idle bool) (proc, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return proc{}, err
	}
	f, err := ln.File()
	addr := ln.Addr().String()
	ln.Close()
	if err != nil {
		return proc{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.procTimeout(false))
	defer cancel()
	cmd := d.command(ctx, a, "")
	cmd.ExtraFiles = []*os.File{f}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		f.Close()
		return proc{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return proc{}, err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		f.Close()
		return proc{}, err
	}
	f.Close()
	stop := make(chan struct{})
	genErr := make(chan error, 1)
	go func() { genErr <- gen(addr, stop) }()
	var rep peer.Report
	var perr error
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if strings.HasPrefix(line, peer.Prefix) {
			rep, perr = peer.ParseReport([]byte(line))
			found = true
			break
		}
	}
	close(stop)
	stdin.Close()
	io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	gerr := <-genErr
	if !found {
		return proc{}, fmt.Errorf("%s %s: no report (wait: %v, gen: %v) stderr: %s", a.Lib, a.Mode, werr, gerr, tail(errb.String()))
	}
	if perr != nil {
		return proc{}, perr
	}
	if rep.Err != "" {
		return proc{rep: rep}, fmt.Errorf("%s %s: peer: %s (gen: %v)", a.Lib, a.Mode, rep.Err, gerr)
	}
	if gerr != nil {
		return proc{rep: rep}, fmt.Errorf("%s %s: generator: %v", a.Lib, a.Mode, gerr)
	}
	return proc{rep: rep, out: out.String()}, nil
}

// handshakeGen dials addr count times with conc workers, sending the
// canned request and reading until the server closes.
func handshakeGen(raw bool, count, conc int) func(string, <-chan struct{}) error {
	return func(addr string, stop <-chan struct{}) error {
		var mu sync.Mutex
		var first error
		next := 0
		var wg sync.WaitGroup
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 1024)
				for {
					mu.Lock()
					if next >= count || first != nil {
						mu.Unlock()
						return
					}
					next++
					mu.Unlock()
					err := oneHandshake(addr, raw, buf)
					if err != nil {
						select {
						case <-stop:
							return
						default:
						}
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		return first
	}
}

func oneHandshake(addr string, raw bool, buf []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(wire.Request); err != nil {
		return err
	}
	n := 0
	for {
		k, err := c.Read(buf[n:])
		n += k
		if err != nil || n == len(buf) {
			break
		}
	}
	if !raw && !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101")) {
		return fmt.Errorf("handshake answered %q", buf[:min(n, 40)])
	}
	return nil
}

// idleGen opens count connections, upgrading each, and holds them until stop.
func idleGen(raw bool, count int) func(string, <-chan struct{}) error {
	return func(addr string, stop <-chan struct{}) error {
		conns := make([]net.Conn, 0, count)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < count; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return fmt.Errorf("conn %d: %w", i, err)
			}
			conns = append(conns, c)
			if !raw {
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := wire.ClientHandshake(c); err != nil {
					return fmt.Errorf("conn %d: %w", i, err)
				}
				c.SetDeadline(time.Time{})
			}
		}
		<-stop
		return nil
	}
}
