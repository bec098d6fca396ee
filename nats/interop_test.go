package wsnats

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dillgo/ws"
	"github.com/nats-io/nats.go"
)

// wsServe is a `ws serve --broadcast --nats` process (the tool of the
// root module, built for the test): its URL and its stderr lines.
type wsServe struct {
	url  string
	cmd  *exec.Cmd
	mu   sync.Mutex
	errs []string
	more chan struct{}
	done chan struct{}
}

// startWSServe builds cmd/ws from the root module and runs ws serve with
// args on a free port.
func startWSServe(t *testing.T, args ...string) *wsServe {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ws")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/ws")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ws: %v\n%s", err, out)
	}
	s := &wsServe{more: make(chan struct{}), done: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	stdout, _ := s.cmd.StdoutPipe()
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.errs = append(s.errs, sc.Text())
			close(s.more)
			s.more = make(chan struct{})
			s.mu.Unlock()
		}
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	banner := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		banner <- line
		// The rest of stdout is not read: ws serve prints only the banner.
	}()
	select {
	case line := <-banner:
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "listening" {
			t.Fatalf("ws serve banner %q; stderr:\n%s", line, s.stderr())
		}
		s.url = f[2]
	case <-time.After(20 * time.Second):
		t.Fatalf("no banner from ws serve; stderr:\n%s", s.stderr())
	}
	return s
}

func (s *wsServe) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.errs, "\n")
}

// waitFor waits (bounded) until n stderr lines contain sub.
func (s *wsServe) waitFor(t *testing.T, sub string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		more, count := s.more, 0
		for _, l := range s.errs {
			if strings.Contains(l, sub) {
				count++
			}
		}
		s.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("waiting for %d line(s) with %q; ws serve's stderr:\n%s", n, sub, s.stderr())
		}
	}
}

// stop sends SIGTERM and waits (bounded) for the exit.
func (s *wsServe) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("ws serve did not exit; stderr:\n%s", s.stderr())
	}
}

// TestInteropWSServe: a wsnats.Bridge node (in this process) and a `ws
// serve --broadcast --nats` process share one broadcast on one subject.
// The tool's messages carry the bridge's conventions (a Ws-Node header of
// its own, Ws-Type, the payload as is: seen by a plain NATS subscriber);
// binary and text cross both ways with their type; then a publisher on
// each side sends 1,000 messages: every client on either side gets every
// message of the other publisher and of the remote one exactly once, in
// order, and a fence from each side proves no duplicate followed.
func TestInteropWSServe(t *testing.T) {
	ns := startNATS(t, 0)
	defer ns.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bridgeNode := newNode(t, ns.ClientURL(), "room")
	tool := startWSServe(t, "--broadcast", "--nats", ns.ClientURL(), "--subject", "room", "-v",
		"--queue-bytes", strconv.Itoa(64<<20), "--max-lag", "1m")

	// A plain NATS subscriber sees what goes over the subject.
	watch, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	wire, err := watch.SubscribeSync("room")
	if err != nil {
		t.Fatal(err)
	}
	watch.Flush()

	const perSide = 5
	var bc, tc []*ws.Conn
	bc = bridgeNode.dialAll(perSide)
	for range perSide {
		c, _, err := ws.Dial(ctx, tool.url, ws.Text)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc = append(tc, c)
	}
	tool.waitFor(t, `msg="joined the broadcast"`, perSide)
	all := append(append([]*ws.Conn{}, bc...), tc...)

	// Types cross both ways: binary from the tool's side, text from the
	// bridge's, each received by every client with its type (but the
	// tool's sender: ws serve skips it; newNode's handler publishes to
	// its own sender too).
	for _, m := range []struct {
		from  *ws.Conn
		flags ws.Flags
		p     []byte
	}{{tc[0], ws.Binary, []byte{0, 1, 2, 0xff}}, {bc[0], ws.Text, []byte("héllo")}, {tc[0], ws.Text, []byte("from the tool")}} {
		if err := m.from.Send(ctx, m.flags, m.p); err != nil {
			t.Fatal(err)
		}
		for i, c := range all {
			if c == m.from && i >= perSide {
				continue // the tool skips the sender; this test's bridge node does not
			}
			buf := make([]byte, 64)
			k, f, err := c.Recv(ctx, buf)
			if err != nil || f&(ws.Text|ws.Binary) != m.flags&(ws.Text|ws.Binary) || !bytes.Equal(buf[:k], m.p) {
				t.Fatalf("client %d: %q flags %v, %v; want %q flags %v", i, buf[:k], f, err, m.p, m.flags)
			}
		}
	}
	// On the wire: the tool's first message, as the bridge writes them.
	var toolNode string
	for range 3 {
		msg, err := wire.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		node, typ := msg.Header.Get(hdrNode), msg.Header.Get(hdrType)
		if node == bridgeNode.bridge.Node() {
			if typ != "text" || string(msg.Data) != "héllo" {
				t.Fatalf("the bridge's message on the wire: %v %q", msg.Header, msg.Data)
			}
			continue
		}
		if len(node) != 16 || (toolNode != "" && node != toolNode) {
			t.Fatalf("the tool's Ws-Node %q (before: %q)", node, toolNode)
		}
		toolNode = node
		if want := map[bool]string{true: "binary", false: "text"}[msg.Data[0] == 0]; typ != want {
			t.Fatalf("the tool's message %q with Ws-Type %q, want %q", msg.Data, typ, want)
		}
	}

	// Order, loss and duplicates: a publisher on each side.
	const perPub = 1000
	pubs := []*ws.Conn{bc[1], tc[1]}
	fencers := []*ws.Conn{bc[2], tc[2]}
	var counted, recv sync.WaitGroup
	errs := make(chan error, len(all)+2)
	for i, c := range all {
		own, fences := 0, 2
		if i >= perSide { // the tool's clients do not get their own
			if c == tc[1] {
				own = perPub
			}
			if c == tc[2] {
				fences = 1
			}
		}
		counted.Add(1)
		recv.Add(1)
		go func() {
			defer recv.Done()
			next, got, buf := map[string]int{}, 0, make([]byte, 64)
			fail := func(err error) { errs <- fmt.Errorf("client %d after %d: %w", i, got, err) }
			for got < 2*perPub-own {
				k, _, err := c.Recv(ctx, buf)
				if err != nil {
					fail(err)
					counted.Done()
					return
				}
				pub, seq, _ := strings.Cut(string(buf[:k]), " ")
				if n, err := strconv.Atoi(seq); err != nil || n != next[pub] {
					fail(fmt.Errorf("%q, want %s %d (lost, repeated or reordered)", buf[:k], pub, next[pub]))
					counted.Done()
					return
				}
				next[pub]++
				got++
			}
			counted.Done()
			for range fences {
				k, _, err := c.Recv(ctx, buf)
				if err != nil || !strings.HasPrefix(string(buf[:k]), "fence") {
					fail(fmt.Errorf("%q (%v) where a fence was due: a duplicate", buf[:k], err))
					return
				}
			}
		}()
	}
	var pub sync.WaitGroup
	for p, c := range pubs {
		pub.Go(func() {
			for i := range perPub {
				if err := c.Send(ctx, ws.Text, fmt.Appendf(nil, "p%d %d", p, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	pub.Wait()
	counted.Wait()
	for _, c := range fencers {
		if err := c.Send(ctx, ws.Text, []byte("fence")); err != nil {
			t.Fatal(err)
		}
	}
	recv.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tool.stop(t)
	if log := tool.stderr(); !strings.Contains(log, " lost=0 ") || strings.Contains(log, "lost the NATS") {
		t.Fatalf("ws serve's log:\n%s", log)
	}
	if s := bridgeNode.bridge.Stats(); s.Failed != 0 || s.Dropped != 0 {
		t.Fatalf("bridge stats %+v", s)
	}
	t.Logf("a wsnats.Bridge node and a ws serve --nats process, %d clients each: 2 × %d messages, every one once and in order on both sides; 0 lost, 0 reordered, 0 duplicated", perSide, perPub)
}
