package ws

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// manyConns is the number of watched connections of TestPollerManyConns:
// 10,000, or fewer if the descriptor limit is lower (both ends of every
// connection live in the test process: two descriptors each).
func manyConns(t testing.TB) int {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	if lim := fdLimit(); lim > 0 {
		if room := (lim - 512) / 2; room < n {
			t.Logf("RLIMIT_NOFILE %d: %d connections instead of %d", lim, room, n)
			n = room
		}
	}
	return n
}

// openFDs counts this process's open descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestPollerManyConns: 10,000 watched connections, random traffic (16 B
// to 20 KiB, several messages in flight per connection) and random closes
// from both sides. Every message is echoed whole and in order until its
// connection ends; at the end no connection is watched, and no goroutine
// or descriptor is left.
func TestPollerManyConns(t *testing.T) {
	n := manyConns(t)
	fds := openFDs()
	p := newTestPoller(t, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The server: echo, except that a message starting with 'X' makes it
	// close the connection (Close, no handshake) instead.
	echo := func(c *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var buf [20 << 10]byte
		n, f, err := c.Recv(ctx, buf[:])
		if err != nil || (n > 0 && buf[0] == 'X') {
			c.Close()
			return
		}
		if c.Send(ctx, f, buf[:n]) != nil {
			c.Close()
		}
	}
	accepted := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			u, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			c, err := AttachServer(context.Background(), u, Binary|NoHTTP)
			if err == nil {
				err = p.Watch(c, echo)
			}
			if err != nil {
				accepted <- err
				return
			}
		}
		accepted <- nil
	}()
	clients := make([]*Conn, n)
	for i := range clients {
		u, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if clients[i], err = AttachClient(context.Background(), u, Binary|NoHTTP, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if w := p.watched(); w != n {
		t.Fatalf("%d watched, want %d", w, n)
	}

	const drivers = 8
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for d := 0; d < drivers; d++ {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(d)))
			fail := func(s string) { mu.Lock(); failures = append(failures, s); mu.Unlock() }
			ctx := context.Background()
			rbuf := make([]byte, 20<<10)
			for r := 0; r < rounds; r++ {
				i := d + drivers*rng.Intn(n/drivers)
				c := clients[i]
				if c == nil {
					continue
				}
				switch x := rng.Intn(100); {
				case x < 1: // client closes
					c.Close()
					clients[i] = nil
					continue
				case x < 2: // server closes
					c.Send(ctx, Binary, []byte("X"))
					_, _, err := c.Recv(withTimeout(t, 10*time.Second), rbuf)
					if !errors.Is(err, ErrConnReset) {
						fail("after the server's close: " + errString(err))
					}
					c.Close()
					clients[i] = nil
					continue
				}
				// 1 to 4 messages in flight, then their echoes in order.
				k := 1 + rng.Intn(4)
				msgs := make([][]byte, k)
				for j := range msgs {
					size := 16 + rng.Intn(2000)
					if rng.Intn(20) == 0 {
						size = 8000 + rng.Intn(12000)
					}
					m := make([]byte, size)
					rng.Read(m)
					m[0] = 'm'
					binary.BigEndian.PutUint32(m[1:], uint32(r*4+j))
					msgs[j] = m
					if err := c.Send(ctx, Binary, m); err != nil {
						fail("send: " + err.Error())
					}
				}
				rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				for _, m := range msgs {
					got, _, err := c.Recv(rctx, rbuf)
					if err != nil || !bytes.Equal(rbuf[:got], m) {
						fail("echo " + errString(err))
						break
					}
				}
				cancel()
			}
		}(d)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	// 10,000 closes on a machine shared with other test processes: a
	// longer bound than waitFor's, and the count left if it passes.
	for end := time.Now().Add(60 * time.Second); p.watched() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d of %d connections still watched 60 s after the clients closed", p.watched(), n)
		}
	}
	p.Close()
	waitFor(t, func() bool { return pollerGoroutines() == 0 })
	if fds >= 0 {
		waitFor(t, func() bool { return openFDs() <= fds+1 }) // the listener
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestPollerInterleavings is a property test: random interleavings of
// arrivals (messages fragmented at random, pings between fragments, the
// stream written in random pieces), bytes read ahead before Watch, Watch,
// Poller.Close, Conn.Close from another goroutine and Detach from the
// callback, over TCP (epoll) and net.Pipe (fallback). The messages the
// callbacks receive are always a prefix of those sent, in order, none
// twice; when nothing ends the connection early, all of them, then the
// peer's close.
func TestPollerInterleavings(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := 0; seed < seeds; seed++ {
		interleaving(t, int64(seed))
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

// interleaving runs one random schedule.
func interleaving(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	var a, b net.Conn
	if rng.Intn(3) == 0 {
		a, b = net.Pipe()
	} else {
		a, b = tcpPair(t)
	}
	defer b.Close()
	c, err := AttachServer(context.Background(), a, Binary|NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs := make([][]byte, 1+rng.Intn(10))
	var wire []byte
	for i := range msgs {
		size := rng.Intn(3000)
		if rng.Intn(5) == 0 {
			size = 8000 + rng.Intn(15000)
		}
		m := make([]byte, size)
		rng.Read(m)
		msgs[i] = m
		for rest, op := m, byte(opBinary); ; op = opCont {
			k := len(rest)
			if rng.Intn(3) == 0 {
				k = rng.Intn(len(rest) + 1)
			}
			wire = append(wire, frame(true, k == len(rest), 0, op, rest[:k])...)
			rest = rest[k:]
			if len(rest) == 0 {
				break
			}
			if rng.Intn(3) == 0 {
				wire = append(wire, frame(true, true, 0, opPing, []byte("p"))...)
			}
		}
	}
	wire = append(wire, frame(true, true, 0, opClose, closePayload(StatusNormalClosure, ""))...)

	// The peer: writes the wire in random pieces, reads everything.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var buf [4096]byte
		b.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, err := b.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	writerRng := rand.New(rand.NewSource(seed + 1))
	early := writerRng.Intn(len(wire) + 1) // written before Watch
	writerDone := make(chan struct{})
	write := func(p []byte) {
		for len(p) > 0 {
			k := min(len(p), 1+writerRng.Intn(3000))
			if _, err := b.Write(p[:k]); err != nil {
				return
			}
			p = p[k:]
			if writerRng.Intn(4) == 0 {
				time.Sleep(time.Duration(writerRng.Intn(500)) * time.Microsecond)
			}
		}
	}
	go func() {
		defer close(writerDone)
		b.SetWriteDeadline(time.Now().Add(20 * time.Second))
		write(wire[:early])
		write(wire[early:])
	}()

	var mu sync.Mutex
	var got [][]byte
	var sawClose bool
	var firstErr, preErr error // the callback's first failed Recv; the Recv before Watch
	buf := make([]byte, 32<<10)
	ctx := context.Background()
	// A receive before Watch leaves bytes read ahead. Its bound is long:
	// one that passed after a first fragment was copied out would break
	// the receive side by design (a full -race run on a loaded machine
	// once cut one with 20 ms, and "action none" then got no message).
	if rng.Intn(2) == 0 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, _, err := c.Recv(rctx, buf)
		cancel()
		if err == nil {
			got = append(got, append([]byte(nil), buf[:n]...))
		}
		preErr = err
	}
	p, err := NewPoller(1 + rng.Intn(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	action := rng.Intn(4) // 0 nothing, 1 Poller.Close, 2 Conn.Close, 3 Detach in the callback
	detachAfter := rng.Intn(len(msgs) + 1)
	err = p.Watch(c, func(c *Conn) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, _, err := c.Recv(rctx, buf)
		mu.Lock()
		defer mu.Unlock()
		var ce CloseError
		switch {
		case errors.As(err, &ce):
			sawClose = true
			if u, err := c.Detach(rctx, ce.Code, ""); err == nil {
				u.Close()
			}
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
			c.Close()
		default:
			got = append(got, append([]byte(nil), buf[:n]...))
			if action == 3 && len(got) >= detachAfter {
				if u, err := c.Detach(rctx, StatusNormalClosure, ""); err == nil {
					u.Close()
				}
			}
		}
	})
	if err != nil && !(errors.Is(err, net.ErrClosed) && c.closed.Load()) {
		t.Fatal(err)
	}
	switch action {
	case 1, 2:
		time.Sleep(time.Duration(rng.Intn(3000)) * time.Microsecond)
		if action == 1 {
			p.Close()
		} else {
			c.Close()
		}
	}
	<-writerDone
	waitFor(t, func() bool { return c.closed.Load() })
	p.Close()
	b.Close()
	<-readerDone
	mu.Lock()
	defer mu.Unlock()
	if len(got) > len(msgs) {
		t.Errorf("%d messages received, %d sent", len(got), len(msgs))
		return
	}
	for i := range got {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Errorf("message %d: %d bytes, want message %d (%d bytes): lost, duplicated or reordered", i, len(got[i]), i, len(msgs[i]))
			return
		}
	}
	if action == 0 && (len(got) != len(msgs) || !sawClose) {
		t.Errorf("action none: %d of %d messages, close seen %v (Recv before Watch: %v; first error in onReadable: %v)", len(got), len(msgs), sawClose, preErr, firstErr)
	}
}
