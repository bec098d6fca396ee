package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tool is tested as a user runs it: TestMain builds the binary once,
// and the tests start real processes talking over 127.0.0.1.

var wsBin string // path of the built binary

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run()) // fuzz workers run no process tests
	}
	dir, err := os.MkdirTemp("", "ws-tool-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wsBin = filepath.Join(dir, "ws")
	args := []string{"build", "-o", wsBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ws:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// wsEnv is the environment of ws processes: a race-enabled binary exits
// at once (not after the detector's default 1s) and fails on a race.
func wsEnv() []string {
	return append(append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1"), extraEnv...)
}

// extraEnv is added to the environment of the processes start starts
// (serveWithEnv); later entries win.
var extraEnv []string

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// result is what a finished ws process left.
type result struct {
	stdout, stderr string
	code           int
}

// runWS runs ws with args and stdin to completion (bounded) and returns
// its output and exit code.
func runWS(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wsBin, args...)
	cmd.Env = wsEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ws %s: did not finish in time\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ws %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// proc is a long-running ws process with its output read line by line.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    chan string // stdout lines
	errOut *lineLog    // stderr lines
	done   chan struct{}
	code   int
}

// lineLog collects lines and lets a test wait for one.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func newLineLog() *lineLog { return &lineLog{more: make(chan struct{})} }

func (l *lineLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	close(l.more)
	l.more = make(chan struct{})
	l.mu.Unlock()
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// count returns how many lines contain sub.
func (l *lineLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// waitFor waits (bounded) until n lines contain sub.
func (l *lineLog) waitFor(t *testing.T, sub string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		l.mu.Lock()
		more := l.more
		l.mu.Unlock()
		if l.count(sub) >= n {
			return
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("waiting for %d line(s) with %q; got:\n%s", n, sub, l.String())
		}
	}
}

// start runs ws with args in the background; it is killed at the end of
// the test if still running.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(wsBin, args...)
	cmd.Env = wsEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stdin: stdin, out: make(chan string, 4096), errOut: newLineLog(), done: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.out <- sc.Text()
		}
		close(p.out)
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.errOut.add(sc.Text())
		}
	})
	go func() {
		readers.Wait()
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// line returns the next stdout line (bounded wait).
func (p *proc) line() string {
	p.t.Helper()
	select {
	case s, ok := <-p.out:
		if !ok {
			p.t.Fatalf("ws exited before the expected output; stderr:\n%s", p.errOut)
		}
		return s
	case <-time.After(20 * time.Second):
		p.t.Fatalf("no output from ws in time; stderr:\n%s", p.errOut)
	}
	return ""
}

// send writes a line to the process's stdin.
func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits (bounded) for the process to exit and returns its code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(20 * time.Second):
		p.t.Fatalf("ws did not exit in time; stderr:\n%s", p.errOut)
	}
	return -1
}

// served is a running ws serve.
type served struct {
	*proc
	url    string // ws://… or tcp://… from the banner
	addr   string // host:port
	banner string
}

// serve starts ws serve on a free port and reads the URL it prints.
func serve(t *testing.T, args ...string) *served {
	t.Helper()
	p := start(t, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	banner := p.line()
	fields := strings.Fields(banner)
	if len(fields) < 3 || fields[0] != "listening" || fields[1] != "on" {
		t.Fatalf("banner %q", banner)
	}
	u := fields[2]
	addr := u[strings.Index(u, "://")+3:]
	addr = strings.TrimSuffix(addr, "/")
	return &served{proc: p, url: u, addr: addr, banner: banner}
}

// stop sends SIGTERM and returns the exit code.
func (s *served) stop() int {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	return s.wait()
}
