package ws_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// loopPair returns the two ends of a fresh loopback TCP connection.
func loopPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-got
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// shutPair attaches a ws client and server over a and b, through the
// HTTP handshake.
func shutPair(t *testing.T, a, b net.Conn) (cl, sv *ws.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		var err error
		sv, err = ws.AttachServer(ctx, b, ws.Text)
		errc <- err
	}()
	cl, err := ws.AttachClient(ctx, a, ws.Text, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return cl, sv
}

// echoUntilClose runs a server loop as the docs show it: echo, and answer
// the peer's close with Shutdown.
func echoUntilClose(sv *ws.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, f, err := sv.Recv(context.Background(), buf)
			if errors.Is(err, ws.ErrPipe) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				done <- sv.Shutdown(ctx, 0, "")
				return
			}
			if err != nil {
				done <- err
				return
			}
			if err := sv.Send(context.Background(), f, buf[:n]); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

func waitFor[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer in 20 s", what)
	}
	panic("unreachable")
}

// TestShutdownBothSides: the closing handshake started by the client and
// answered by the server, then by the server and answered by the
// client; both Shutdowns return nil, the peer's code is echoed, and
// neither socket is left open (RFC 6455 §7.1.2).
func TestShutdownBothSides(t *testing.T) {
	for _, starter := range []string{"client", "server"} {
		t.Run(starter, func(t *testing.T) {
			a, b := loopPair(t)
			cl, sv := shutPair(t, a, b)
			first, second := cl, sv
			if starter == "server" {
				first, second = sv, cl
			}
			answered := echoUntilClose(second)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := first.Send(ctx, ws.Text, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 16)
			if n, _, err := first.Recv(ctx, buf); err != nil || string(buf[:n]) != "hello" {
				t.Fatal(n, err)
			}
			if err := first.Shutdown(ctx, 4001, "bye"); err != nil {
				t.Fatal(err)
			}
			if err := waitFor(t, "answer", answered); err != nil {
				t.Fatal(err)
			}
			if code, reason, err := first.Status(); err != nil || code != 4001 || reason != "" {
				t.Fatalf("the answer: %d %q %v; want 4001 echoed", code, reason, err)
			}
			if code, reason, _ := second.Status(); code != 4001 || reason != "bye" {
				t.Fatalf("seen by the peer: %d %q", code, reason)
			}
			for _, u := range []net.Conn{a, b} {
				if _, err := u.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
					t.Fatalf("bytestream still open after Shutdown: %v", err)
				}
			}
		})
	}
}

// TestShutdownSilentPeer: a peer that never answers the close: Shutdown
// returns when ctx ends, the bytestream is closed, nothing leaks.
func TestShutdownSilentPeer(t *testing.T) {
	a, b := loopPair(t)
	c, err := ws.AttachClient(context.Background(), a, ws.NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, b); drained <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = c.Shutdown(ctx, ws.StatusNormalClosure, "")
	if !errors.Is(err, ws.ErrTimedOut) {
		t.Fatalf("got %v, want ErrTimedOut", err)
	}
	if err := waitFor(t, "the peer sees the end", drained); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Close after Shutdown: %v", err)
	}
}

// TestShutdownWhileReceiving: Shutdown from one goroutine while another
// is blocked in Recv: the close goes out, the receiving goroutine takes
// the peer's close, Shutdown returns nil.
func TestShutdownWhileReceiving(t *testing.T) {
	a, b := loopPair(t)
	cl, sv := shutPair(t, a, b)
	answered := echoUntilClose(sv)
	recvd := make(chan error, 1)
	go func() {
		_, _, err := cl.Recv(context.Background(), make([]byte, 16))
		recvd <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it block
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Shutdown(ctx, ws.StatusGoingAway, "restart"); err != nil {
		t.Fatal(err)
	}
	var ce ws.CloseError
	if err := waitFor(t, "recv", recvd); !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway {
		t.Fatalf("the receiving goroutine got %v", err)
	}
	if err := waitFor(t, "answer", answered); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownTLS: the handshake over TLS, both sides.
func TestShutdownTLS(t *testing.T) {
	scfg, ccfg := igTLSConfigs(t)
	a, b := loopPair(t)
	ta, tb := tls.Client(a, ccfg), tls.Server(b, scfg)
	cl, sv := shutPair(t, ta, tb)
	answered := echoUntilClose(sv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Shutdown(ctx, ws.StatusNormalClosure, "done"); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, "answer", answered); err != nil {
		t.Fatal(err)
	}
}

// TestPing: Ping's round trip with a goroutine receiving, with nothing
// receiving (Ping reads the pong itself), and with a message before the
// pong (Ping waits for a receive to read past it).
func TestPing(t *testing.T) {
	a, b := loopPair(t)
	cl, sv := shutPair(t, a, b)
	answered := echoUntilClose(sv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Nothing receiving on the client: Ping reads its pong.
	for i := 0; i < 3; i++ {
		if rtt, err := cl.Ping(ctx); err != nil || rtt <= 0 {
			t.Fatal(rtt, err)
		}
	}
	// A goroutine receiving: it sees the pong.
	recvd := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, _, err := cl.Recv(ctx, buf)
		recvd <- fmt.Sprint(string(buf[:n]), err)
	}()
	time.Sleep(20 * time.Millisecond)
	if rtt, err := cl.Ping(ctx); err != nil || rtt <= 0 {
		t.Fatal(rtt, err)
	}
	if err := cl.Send(ctx, ws.Text, []byte("echo")); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, "recv", recvd); got != "echo<nil>" {
		t.Fatal(got)
	}
	// A message ahead of the pong: Ping leaves it for Recv.
	if err := cl.Send(ctx, ws.Text, []byte("first")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the echo is on its way back
	pinged := make(chan error, 1)
	go func() { _, err := cl.Ping(ctx); pinged <- err }()
	time.Sleep(20 * time.Millisecond)
	buf := make([]byte, 16)
	if n, _, err := cl.Recv(ctx, buf); err != nil || string(buf[:n]) != "first" {
		t.Fatal(n, err)
	}
	if err := waitFor(t, "ping", pinged); err != nil {
		t.Fatal(err)
	}
	if err := cl.Shutdown(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, "answer", answered); err != nil {
		t.Fatal(err)
	}
}

// TestPingUnanswered: a peer that never answers: Ping ends with ctx, and
// the connection stays usable.
func TestPingUnanswered(t *testing.T) {
	a, b := loopPair(t)
	c, err := ws.AttachClient(context.Background(), a, ws.NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(b)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Ping(ctx); !errors.Is(err, ws.ErrTimedOut) {
		t.Fatalf("got %v, want ErrTimedOut", err)
	}
	if op, _ := r.ReadByte(); op != 0x89 {
		t.Fatalf("first byte on the wire %#x, want a ping", op)
	}
	b.Write([]byte{0x81, 0x02, 'o', 'k'})
	buf := make([]byte, 4)
	n, _, err := c.Recv(withDeadline(t, 5*time.Second), buf)
	if err != nil || string(buf[:n]) != "ok" {
		t.Fatal(n, err)
	}
}

func withDeadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestRecvMessage: the allocating receive returns each message whole, at
// every size and compressed; a message over MaxMessageSize fails with
// ErrMsgSize (1009); a cut message is ErrConnReset.
func TestRecvMessage(t *testing.T) {
	for _, z := range []*ws.CompressionOptions{nil, {}} {
		cfg := &ws.Config{Compression: z, MaxMessageSize: 1 << 20}
		a, b := loopPair(t)
		ctx := withDeadline(t, 20*time.Second)
		var sv *ws.Conn
		errc := make(chan error, 1)
		go func() { var err error; sv, err = cfg.AttachServer(ctx, b, ws.Binary); errc <- err }()
		cl, err := cfg.AttachClient(ctx, a, ws.Binary, "/", "localhost")
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 511, 512, 513, 70000, 1 << 20} {
			msg := []byte(strings.Repeat("0123456789abcdef", n/16+1)[:n])
			sent := make(chan error, 1)
			go func() { sent <- cl.Send(ctx, ws.Text, msg) }()
			got, f, err := sv.RecvMessage(ctx)
			if err := waitFor(t, "send", sent); err != nil {
				t.Fatal(err)
			}
			if err != nil || f != ws.Text || string(got) != string(msg) {
				t.Fatalf("compressed=%v %d bytes: got %d bytes, %v, %v", z != nil, n, len(got), f, err)
			}
		}
		go cl.Send(ctx, ws.Binary, make([]byte, 1<<20+1))
		if _, _, err := sv.RecvMessage(ctx); !errors.Is(err, ws.ErrMsgSize) {
			t.Fatalf("over the limit: %v", err)
		}
		cl.Close()
		sv.Close()
	}
	a, b := loopPair(t)
	c, err := ws.AttachServer(context.Background(), a, ws.NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Write([]byte{0x82, 0x85, 1, 2, 3, 4, 'a', 'b'})
	b.(*net.TCPConn).CloseWrite()
	if got, _, err := c.RecvMessage(withDeadline(t, 5*time.Second)); !errors.Is(err, ws.ErrConnReset) {
		t.Fatalf("cut: %q, %v", got, err)
	}
}

var _ = os.Getenv

// TestPingBesideReceiveLoop: Ping from one goroutine while another loops
// in Recv never makes that loop fail with ErrBusy, and every message
// arrives.
func TestPingBesideReceiveLoop(t *testing.T) {
	a, b := loopPair(t)
	cl, sv := shutPair(t, a, b)
	answered := echoUntilClose(sv)
	ctx := withDeadline(t, 20*time.Second)
	const n = 200
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			k, _, err := cl.Recv(ctx, buf)
			if err != nil {
				got <- err
				return
			}
			if want := fmt.Sprint("m", i); string(buf[:k]) != want {
				got <- fmt.Errorf("got %q, want %q", buf[:k], want)
				return
			}
		}
		got <- nil
	}()
	pings := make(chan error, 1)
	go func() {
		for i := 0; i < 50; i++ {
			if _, err := cl.Ping(ctx); err != nil {
				pings <- err
				return
			}
		}
		pings <- nil
	}()
	for i := 0; i < n; i++ {
		if err := cl.Send(ctx, ws.Text, []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := waitFor(t, "receive loop", got); err != nil {
		t.Fatal(err)
	}
	// Pings that find nothing receiving read their pongs themselves.
	if err := waitFor(t, "pings", pings); err != nil {
		t.Fatal(err)
	}
	if err := cl.Shutdown(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, "answer", answered); err != nil {
		t.Fatal(err)
	}
}
