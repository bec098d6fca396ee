package ws

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// deadlineCounter counts the deadline calls on a net.Conn.
type deadlineCounter struct {
	net.Conn
	n atomic.Int32
}

func (d *deadlineCounter) SetDeadline(t time.Time) error {
	d.n.Add(1)
	return d.Conn.SetDeadline(t)
}

func (d *deadlineCounter) SetReadDeadline(t time.Time) error {
	d.n.Add(1)
	return d.Conn.SetReadDeadline(t)
}

func (d *deadlineCounter) SetWriteDeadline(t time.Time) error {
	d.n.Add(1)
	return d.Conn.SetWriteDeadline(t)
}

// TestHandshakeNoDeadlines: under the default HandshakeTimeout, a server
// and a client handshake that complete set no deadline on their
// connection (the guard bounds them: a socket deadline per handshake
// cost about a quarter of an accept-upgrade-close over loopback).
func TestHandshakeNoDeadlines(t *testing.T) {
	a, b := tcpPair(t)
	sa, sb := &deadlineCounter{Conn: a}, &deadlineCounter{Conn: b}
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := AttachServer(context.Background(), sa, Binary); ch <- res{c, err} }()
	cl, err := AttachClient(context.Background(), sb, Binary, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if n, m := sa.n.Load(), sb.n.Load(); n != 0 || m != 0 {
		t.Fatalf("deadline calls: server %d, client %d, want none", n, m)
	}
	// The connection works, with no bound left on it.
	ctx := withTimeout(t, 10*time.Second)
	wait := async(t, func() error { return cl.Send(ctx, Binary, []byte("hi")) })
	buf := make([]byte, 4)
	n, _, err := r.c.Recv(ctx, buf)
	wait()
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatal(n, err)
	}
}

// TestHandshakeGuardBounds: stalled handshakes with different timeouts,
// started longest first, are each cut at their own bound, not at the
// earliest armed one (the guard re-arms for a new, earlier bound), with
// ErrTimedOut; handshakes that complete meanwhile are not cut, and the
// slots of a peak of stalled handshakes are let go.
func TestHandshakeGuardBounds(t *testing.T) {
	timeouts := []time.Duration{20 * time.Second, 5 * time.Second, 100 * time.Millisecond, 30 * time.Millisecond}
	type res struct {
		i   int
		err error
	}
	ch := make(chan res, len(timeouts))
	var peers []net.Conn
	for i, d := range timeouts {
		a, b := tcpPair(t)
		peers = append(peers, b)
		cfg := &Config{HandshakeTimeout: d}
		go func() { _, err := cfg.AttachServer(context.Background(), a, 0); ch <- res{i, err} }()
		req := serverReq("localhost", nil, "")
		if _, err := io.WriteString(b, req[:len(req)/2]); err != nil {
			t.Fatal(err)
		}
	}
	// The short ones end; the 5 s and 20 s ones must still be waiting.
	for k := 0; k < 2; k++ {
		select {
		case r := <-ch:
			if r.i < 2 {
				t.Fatalf("handshake with timeout %v ended first: %v", timeouts[r.i], r.err)
			}
			errIs(t, r.err, ErrTimedOut)
		case <-time.After(4 * time.Second):
			t.Fatalf("short handshakes not cut after 4 s")
		}
	}
	// Handshakes that complete while others are guarded are not cut.
	for k := 0; k < 20; k++ {
		a, b := tcpPair(t)
		cfg := &Config{HandshakeTimeout: 50 * time.Millisecond}
		errc := make(chan error, 1)
		go func() {
			c, err := cfg.AttachServer(context.Background(), a, 0)
			if err == nil {
				c.Close()
			}
			errc <- err
		}()
		cl, err := cfg.AttachClient(context.Background(), b, 0, "/", "localhost")
		if err != nil {
			t.Fatal(err)
		}
		cl.Close()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// Ending the long ones' peers ends them (ErrConnReset, not a cut).
	for _, b := range peers {
		b.Close()
	}
	for k := 0; k < 2; k++ {
		select {
		case r := <-ch:
			errIs(t, r.err, ErrConnReset)
		case <-time.After(10 * time.Second):
			t.Fatal("long handshakes still waiting after their peer closed")
		}
	}
	if used, _ := guardIdle(); used != 0 {
		t.Fatalf("%d guard slots still in use", used)
	}
}

// guardIdle waits (bounded: a handshake of another test may still be
// guarded) until no handshake is guarded, and returns the slots in use
// and kept.
func guardIdle() (used, slots int) {
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		guard.mu.Lock()
		used, slots = guard.used, len(guard.slots)
		guard.mu.Unlock()
		if used == 0 || time.Now().After(deadline) {
			return used, slots
		}
	}
}

// TestHandshakeGuardPeak: 1,100 handshakes stalled at once, all cut by a
// short timeout; the guard's slots are released after the peak and a
// handshake afterwards works.
func TestHandshakeGuardPeak(t *testing.T) {
	const n = 1100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Long enough for all n to be registered before the first is cut
	// (on a loaded machine, with 300 ms, the first were released before
	// the last registered and the slots never passed 1,024).
	cfg := &Config{HandshakeTimeout: 3 * time.Second}
	var wg sync.WaitGroup
	var timedOut atomic.Int32
	go func() {
		for {
			u, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := cfg.AttachServer(context.Background(), u, 0)
				if err == nil {
					c.Close()
					return
				}
				if e, ok := err.(*opError); ok && e.kind == ErrTimedOut {
					timedOut.Add(1)
				}
			}()
		}
	}()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		io.WriteString(c, "GET / HTTP/1.1\r\n")
	}
	peak := 0
	for deadline := time.Now().Add(3 * time.Second); peak < n && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		guard.mu.Lock()
		peak = max(peak, guard.used)
		guard.mu.Unlock()
	}
	if peak < n {
		t.Fatalf("at most %d of %d handshakes registered at once", peak, n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for timedOut.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := timedOut.Load(); got != n {
		t.Fatalf("%d of %d stalled handshakes timed out", got, n)
	}
	wg.Wait()
	if used, slots := guardIdle(); used != 0 || slots != 0 {
		t.Fatalf("after the peak: %d slots in use, %d kept", used, slots)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := cfg.AttachClient(context.Background(), c, 0, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// TestUpgradeGuardedWrite: Upgrade's 101 answer to a client that never
// reads (a net.Pipe: a write waits for its reader) is cut by the guard at
// its deadline, as os.ErrDeadlineExceeded, which Upgrade reports as
// ErrTimedOut.
func TestUpgradeGuardedWrite(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	brw := bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a))
	errc := make(chan error, 1)
	go func() {
		errc <- writeSwitching(a, brw, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"), time.Now().Add(50*time.Millisecond))
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writeSwitching: %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the 101 answer's write was not cut")
	}
}
