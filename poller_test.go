package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoCallback is an onReadable that receives one message (bounded by a
// deadline) and sends it back; the peer's close is answered with Detach
// and the detached conn closed.
func echoCallback(t testing.TB, calls *atomic.Int64) func(c *Conn) {
	return func(c *Conn) {
		if calls != nil {
			calls.Add(1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		buf := make([]byte, 64<<10)
		n, f, err := c.Recv(ctx, buf)
		var ce CloseError
		switch {
		case errors.As(err, &ce):
			if u, err := c.Detach(ctx, ce.Code, ""); err == nil {
				u.Close()
			}
			return
		case err != nil:
			c.Close()
			return
		}
		if err := c.Send(ctx, f, buf[:n]); err != nil {
			c.Close()
		}
	}
}

func newTestPoller(t testing.TB, workers int) *Poller {
	t.Helper()
	p, err := NewPoller(workers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// expectEcho sends each message from client and checks its echo.
func expectEcho(t testing.TB, client *Conn, msgs ...[]byte) {
	t.Helper()
	ctx := withTimeout(t, 10*time.Second)
	buf := make([]byte, 64<<10)
	for i, m := range msgs {
		if err := client.Send(ctx, Binary, m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		n, _, err := client.Recv(ctx, buf)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], m) {
			t.Fatalf("echo %d: %d bytes, want %d", i, n, len(m))
		}
	}
}

func TestPollerEcho(t *testing.T) {
	p := newTestPoller(t, 2)
	client, server := wsPair(t, Binary)
	defer client.Close()
	if err := p.Watch(server, echoCallback(t, nil)); err != nil {
		t.Fatal(err)
	}
	expectEcho(t, client, []byte("hello"), pattern(100), pattern(8000), pattern(20000), nil, pattern(1))
	u, err := client.Detach(withTimeout(t, 5*time.Second), StatusNormalClosure, "")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

// TestPollerWatchErrors: the misuse of Watch and Close is an error.
func TestPollerWatchErrors(t *testing.T) {
	if _, err := NewPoller(-1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NewPoller(-1): %v", err)
	}
	p := newTestPoller(t, 1)
	client, server := wsPair(t, Binary)
	defer client.Close()
	errIs(t, p.Watch(nil, func(*Conn) {}), ErrInvalid)
	errIs(t, p.Watch(server, nil), ErrInvalid)
	if err := p.Watch(server, echoCallback(t, nil)); err != nil {
		t.Fatal(err)
	}
	errIs(t, p.Watch(server, echoCallback(t, nil)), ErrBusy)
	q := newTestPoller(t, 1)
	errIs(t, q.Watch(server, echoCallback(t, nil)), ErrBusy)
	closed, _ := wsPair(t, Binary)
	closed.Close()
	errIs(t, p.Watch(closed, echoCallback(t, nil)), net.ErrClosed)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	errIs(t, p.Close(), net.ErrClosed)
	c2, s2 := wsPair(t, Binary)
	defer c2.Close()
	defer s2.Close()
	errIs(t, p.Watch(s2, echoCallback(t, nil)), net.ErrClosed)
	// The poller's Close closed server.
	_, _, err := client.Recv(withTimeout(t, 5*time.Second), make([]byte, 10))
	errIs(t, err, ErrConnReset)
}

func TestPollerFallbackPipe(t *testing.T) {
	p := newTestPoller(t, 2)
	a, b := net.Pipe()
	ctx := context.Background()
	srvc := make(chan *Conn, 1)
	go func() {
		c, err := AttachServer(ctx, b, Binary|NoHTTP)
		if err != nil {
			t.Error(err)
		}
		srvc <- c
	}()
	client, err := AttachClient(ctx, a, Binary|NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	server := <-srvc
	var calls atomic.Int64
	if err := p.Watch(server, echoCallback(t, &calls)); err != nil {
		t.Fatal(err)
	}
	expectEcho(t, client, []byte("one"), pattern(9000), []byte("three"))
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
	u, err := client.Detach(withTimeout(t, 5*time.Second), StatusNormalClosure, "bye")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	waitFor(t, func() bool { return server.closed.Load() })
}

// waitFor waits up to 10 s for cond.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("condition not met within 10 s")
		}
	}
}

var _ = fmt.Sprint
var _ sync.Mutex

// watchedRaw is a server Conn watched by p, with a raw client peer.
func watchedRaw(t testing.TB, p *Poller, cfg *Config, fn func(*Conn)) (*Conn, *rawPeer) {
	t.Helper()
	a, b := tcpPair(t)
	c, err := cfg.AttachServer(context.Background(), a, Binary|NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Watch(c, fn); err != nil {
		t.Fatal(err)
	}
	return c, &rawPeer{t: t, c: b, r: newReader(b), client: true}
}

// TestPollerSlowWriter: a message that arrives in many TCP segments is
// handed to onReadable once, whole, and meanwhile the only worker keeps
// serving another connection; a message larger than the read buffer
// arrives slowly too and is received whole under the callback's deadline.
func TestPollerSlowWriter(t *testing.T) {
	p := newTestPoller(t, 1)
	var slowCalls atomic.Int64
	_, slow := watchedRaw(t, p, nil, echoCallback(t, &slowCalls))
	client, server := wsPair(t, Binary)
	defer client.Close()
	if err := p.Watch(server, echoCallback(t, nil)); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{6000, 40000} {
		msg := pattern(size)
		// Three fragments, a ping between the first two.
		wire := slow.frame(false, opBinary, msg[:size/3])
		wire = append(wire, slow.frame(true, opPing, []byte("p"))...)
		wire = append(wire, slow.frame(false, opCont, msg[size/3:2*size/3])...)
		wire = append(wire, slow.frame(true, opCont, msg[2*size/3:])...)
		done := make(chan struct{})
		go func() {
			defer close(done)
			piece := len(wire)/60 + 1
			for i := 0; i < len(wire); i += piece {
				if _, err := slow.c.Write(wire[i:min(i+piece, len(wire))]); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
		if size < readBufSize {
			// The worker is free while the message trickles in.
			for i := 0; i < 20; i++ {
				start := time.Now()
				expectEcho(t, client, []byte(fmt.Sprint("fast ", i)))
				if d := time.Since(start); d > 150*time.Millisecond {
					t.Fatalf("echo on the other connection took %v while a message trickled in", d)
				}
			}
		}
		<-done
		h, got := slow.read()
		if h.op == opPong {
			h, got = slow.read()
		}
		if h.op != opBinary || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: echo op %d, %d bytes", size, h.op, len(got))
		}
	}
	if n := slowCalls.Load(); n != 2 {
		t.Fatalf("onReadable called %d times for two messages", n)
	}
}

// TestPollerControlWhileParked: pings are answered and pongs accepted
// without waking onReadable; the peer's close reaches it as CloseError
// and its answer reaches the peer. A callback that ignores the close has
// its connection closed by the poller.
func TestPollerControlWhileParked(t *testing.T) {
	p := newTestPoller(t, 2)
	var calls atomic.Int64
	c, peer := watchedRaw(t, p, nil, echoCallback(t, &calls))
	for i := 0; i < 5; i++ {
		peer.send(true, opPing, []byte{byte(i)})
		h, b := peer.read()
		if h.op != opPong || !bytes.Equal(b, []byte{byte(i)}) {
			t.Fatalf("ping %d answered with op %d %q", i, h.op, b)
		}
		peer.send(true, opPong, []byte("unsolicited"))
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("onReadable called %d times for control frames", n)
	}
	peer.send(true, opClose, closePayload(StatusGoingAway, "bye"))
	if code, _ := peer.readClose(); code != StatusGoingAway {
		t.Fatalf("close answered with %v", code)
	}
	waitFor(t, func() bool { return c.closed.Load() })
	if code, reason, err := c.Status(); err != nil || code != StatusGoingAway || reason != "bye" {
		t.Fatalf("Status %v %q %v", code, reason, err)
	}

	// A callback that does not answer: the poller closes the connection.
	var seen atomic.Value
	c2, peer2 := watchedRaw(t, p, nil, func(c *Conn) {
		_, _, err := c.Recv(context.Background(), make([]byte, 100))
		seen.Store(err)
	})
	peer2.send(true, opClose, closePayload(StatusNormalClosure, ""))
	waitFor(t, func() bool { return c2.closed.Load() })
	var ce CloseError
	if err, _ := seen.Load().(error); !errors.As(err, &ce) || ce.Code != StatusNormalClosure {
		t.Fatalf("callback saw %v", seen.Load())
	}
}

// TestPollerKeepalive: Config.PingInterval on a watched connection pings
// from the poller's wheel (no keepalive goroutine), keeps a peer that
// answers, and fails one that stops answering: onReadable's receive gets
// ErrConnReset and the connection is closed.
func TestPollerKeepalive(t *testing.T) {
	p := newTestPoller(t, 2)
	var last atomic.Value
	cfg := &Config{PingInterval: 40 * time.Millisecond, PongTimeout: 80 * time.Millisecond}
	c, peer := watchedRaw(t, p, cfg, func(c *Conn) {
		_, _, err := c.Recv(withTimeout(t, 5*time.Second), make([]byte, 100))
		if err != nil {
			last.Store(err)
		}
	})
	time.Sleep(10 * time.Millisecond)
	for _, g := range leaked() {
		if bytes.Contains([]byte(g), []byte("runKeepalive")) {
			t.Fatalf("a keepalive goroutine runs for a watched connection:\n%s", g)
		}
	}
	for i := 0; i < 4; i++ {
		h, b := peer.read()
		if h.op != opPing {
			t.Fatalf("op %d, want a ping", h.op)
		}
		peer.send(true, opPong, b)
	}
	if c.closed.Load() {
		t.Fatal("closed although the peer answered every ping")
	}
	h, _ := peer.read() // not answered
	if h.op != opPing {
		t.Fatalf("op %d, want a ping", h.op)
	}
	waitFor(t, func() bool { return c.closed.Load() })
	if err, _ := last.Load().(error); !errors.Is(err, ErrConnReset) {
		t.Fatalf("callback saw %v, want ErrConnReset", last.Load())
	}
}

// TestPollerCloseStates: Poller.Close with connections parked idle,
// parked with part of a message buffered, parked with keepalive, in a
// callback, in the fallback goroutine, closed before and detached
// before. Every connection still watched is closed (its peer sees the
// end), the callback in progress sees net.ErrClosed and no callback
// starts afterwards; what was closed or detached before is untouched.
func TestPollerCloseStates(t *testing.T) {
	p, err := NewPoller(2)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	echo := echoCallback(t, &calls)
	_, idle := watchedRaw(t, p, nil, echo)
	_, partial := watchedRaw(t, p, nil, echo)
	partial.write(partial.frame(true, opBinary, pattern(5000))[:3000])
	_, kept := watchedRaw(t, p, &Config{PingInterval: 20 * time.Millisecond}, echo)

	entered, release := make(chan struct{}), make(chan struct{})
	var sendErr atomic.Value
	busy, busyPeer := watchedRaw(t, p, nil, func(c *Conn) {
		close(entered)
		<-release
		sendErr.Store(fmt.Sprint(c.Send(context.Background(), Binary, []byte("late"))))
	})
	busyPeer.send(true, opBinary, []byte("wake"))
	<-entered

	a, b := net.Pipe()
	pipeDone := make(chan error, 1)
	go func() {
		_, err := AttachClient(context.Background(), b, Binary|NoHTTP, "", "")
		pipeDone <- err
	}()
	fb, err := AttachServer(context.Background(), a, Binary|NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-pipeDone; err != nil {
		t.Fatal(err)
	}
	if err := p.Watch(fb, echo); err != nil {
		t.Fatal(err)
	}

	gone, _ := watchedRaw(t, p, nil, echo)
	gone.Close()

	var detached atomic.Value
	_, detPeer := watchedRaw(t, p, nil, func(c *Conn) {
		u, err := c.Detach(withTimeout(t, 5*time.Second), StatusNormalClosure, "")
		if err == nil {
			detached.Store(u)
		}
	})
	detPeer.send(true, opClose, nil)
	detPeer.readClose()
	waitFor(t, func() bool { return detached.Load() != nil })
	time.Sleep(30 * time.Millisecond) // a keepalive ping or two
	before := calls.Load()

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for name, peer := range map[string]*rawPeer{"idle": idle, "partial": partial, "keepalive": kept} {
		peer.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [512]byte
		for {
			_, err := peer.c.Read(b[:])
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: still open after Poller.Close", name)
			}
			break
		}
	}
	if !fb.closed.Load() || !busy.closed.Load() {
		t.Fatal("fallback or busy connection still open after Poller.Close")
	}
	close(release)
	waitFor(t, func() bool { return sendErr.Load() != nil })
	if s := sendErr.Load().(string); !strings.Contains(s, net.ErrClosed.Error()) {
		t.Fatalf("send in the callback after Close: %s", s)
	}
	// The detached conn is ours: still open.
	u := detached.Load().(net.Conn)
	if _, err := u.Write([]byte("raw")); err != nil {
		t.Fatalf("detached conn after Poller.Close: %v", err)
	}
	u.Close()
	partial.write([]byte("more")) // no callback starts any more
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != before {
		t.Fatal("a callback ran after Poller.Close")
	}
	waitFor(t, func() bool { return pollerGoroutines() == 0 })
}

// pollerGoroutines counts the goroutines running poller code.
func pollerGoroutines() int {
	n := 0
	for _, g := range leaked() {
		if strings.Contains(g, "ws.(*Poller)") || strings.Contains(g, "ws.(*wheel)") {
			n++
		}
	}
	return n
}

// watched counts the connections p watches.
func (p *Poller) watched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, w := range p.slots {
		if w != nil {
			n++
		}
	}
	return n
}

// TestPollerAbruptEnd: a watched connection whose peer's socket ends
// without a close frame while it is parked: after a FIN, after an RST,
// and in the middle of a message (a whole frame header and part of the
// payload, then the FIN). The bytes that came are never delivered as a
// message: onReadable's receive gets ErrConnReset, and the poller closes
// the connection.
func TestPollerAbruptEnd(t *testing.T) {
	p := newTestPoller(t, 2)
	for _, tc := range []struct {
		name string
		end  func(peer *rawPeer)
	}{
		{"fin", func(peer *rawPeer) { peer.c.Close() }},
		{"rst", func(peer *rawPeer) {
			peer.c.(*net.TCPConn).SetLinger(0)
			peer.c.Close()
		}},
		{"mid-message", func(peer *rawPeer) {
			wire := peer.frame(true, opBinary, pattern(3000))
			if _, err := peer.c.Write(wire[:1500]); err != nil {
				t.Error(err)
			}
			time.Sleep(20 * time.Millisecond) // parked with the part buffered
			peer.c.Close()
		}},
		{"mid-header", func(peer *rawPeer) {
			wire := peer.frame(true, opBinary, pattern(300))
			if _, err := peer.c.Write(wire[:3]); err != nil {
				t.Error(err)
			}
			time.Sleep(20 * time.Millisecond)
			peer.c.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				n   int
				err error
			}
			got := make(chan result, 8)
			c, peer := watchedRaw(t, p, nil, func(c *Conn) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				n, _, err := c.Recv(ctx, make([]byte, 8192))
				got <- result{n, err}
			})
			// One whole message first: the connection was served and
			// parked again before it ends.
			msg := pattern(100)
			peer.send(true, opBinary, msg)
			select {
			case r := <-got:
				if r.err != nil || r.n != len(msg) {
					t.Fatalf("first message: %d bytes, %v", r.n, r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("first message never reached onReadable")
			}
			tc.end(peer)
			select {
			case r := <-got:
				if !errors.Is(r.err, ErrConnReset) {
					t.Fatalf("after the end: %d bytes, err %v, want ErrConnReset", r.n, r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the end never reached onReadable")
			}
			waitFor(t, func() bool { return c.closed.Load() })
			select {
			case r := <-got:
				t.Fatalf("onReadable called again after the end: %d bytes, %v", r.n, r.err)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}
