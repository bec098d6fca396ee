package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendWriteCalls: every Send, MSend and SendV of a message that fits
// the write buffer is one write call at the net.Conn, header and payload
// together, over loopback TCP, for a client and a server, pooled and in
// Storage, with a ctx that never ends (the fast path) and with a
// deadline (the general path) alternating, so that the fast path also
// meets a write deadline left by the previous send.
func TestSendWriteCalls(t *testing.T) {
	for _, client := range []bool{false, true} {
		for _, mem := range []bool{false, true} {
			t.Run(fmt.Sprintf("client=%v/mem=%v", client, mem), func(t *testing.T) {
				testSendWriteCalls(t, client, mem)
			})
		}
	}
}

func testSendWriteCalls(t *testing.T, client, mem bool) {
	a, b := tcpPair(t)
	g := newGateConn(a)
	ctx := withTimeout(t, 20*time.Second)
	var from, to *Conn
	var err error
	done := make(chan error, 1)
	go func() {
		var err error
		if client {
			to, err = AttachServer(ctx, b, Binary|NoHTTP)
		} else {
			to, err = AttachClient(ctx, b, Binary|NoHTTP, "/", "x")
		}
		done <- err
	}()
	switch {
	case client && mem:
		from, err = AttachClientMem(ctx, g, Binary|NoHTTP, "/", "x", new(Storage))
	case client:
		from, err = AttachClient(ctx, g, Binary|NoHTTP, "/", "x")
	case mem:
		from, err = AttachServerMem(ctx, g, Binary|NoHTTP, new(Storage))
	default:
		from, err = AttachServer(ctx, g, Binary|NoHTTP)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	defer to.Close()
	sizes := []int{0, 16, 125, 126, 1024, 4096, writeBufSize - maxHeader}
	const rounds = 4
	var msgs [][]byte
	for r := 0; r < rounds; r++ {
		for _, n := range sizes {
			p := pattern(n)
			if n > 0 {
				p[0] = byte(len(msgs))
			}
			msgs = append(msgs, p)
		}
	}
	recvd := make(chan error, 1)
	go func() {
		buf := make([]byte, writeBufSize)
		for i, want := range msgs {
			n, _, err := to.Recv(ctx, buf)
			if err != nil {
				recvd <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			if !bytes.Equal(buf[:n], want) {
				recvd <- fmt.Errorf("message %d: %d bytes differ from the %d sent", i, n, len(want))
				return
			}
		}
		recvd <- nil
	}()
	g.writes.Store(0)
	for i, p := range msgs {
		var err error
		switch i % 4 {
		case 0:
			err = from.Send(context.Background(), Binary, p)
		case 1:
			err = from.Send(ctx, Binary, p) // a deadline: the general path
		case 2:
			err = from.MSend(context.Background(), p)
		case 3:
			err = from.SendV(context.Background(), Binary, p[:len(p)/2], p[len(p)/2:])
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := <-recvd; err != nil {
		t.Fatal(err)
	}
	if w := g.writes.Load(); w != int64(len(msgs)) {
		t.Fatalf("%d write calls for %d messages, want one each", w, len(msgs))
	}
}

// TestSendFastPongs: pongs that a receive queues while the fast path
// holds the wire are written by the sender between its frames: a peer
// that pings without pause gets every pong while 5,000 messages stream
// the other way, each whole and in order.
func TestSendFastPongs(t *testing.T) {
	cl, sv := wsPair(t, Binary)
	ctx := withTimeout(t, 30*time.Second)
	const n = 5000
	recvd := make(chan error, 1)
	go func() { // the client receives the messages; its pongs come back through it
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			k, _, err := cl.Recv(ctx, buf)
			if err != nil {
				recvd <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			if got := string(buf[:k]); got != fmt.Sprintf("m %08d", i) {
				recvd <- fmt.Errorf("message %d: got %q", i, got)
				return
			}
		}
		recvd <- nil
	}()
	go func() { // the server's receive answers the client's pings
		buf := make([]byte, 64)
		for {
			if _, _, err := sv.Recv(ctx, buf); err != nil {
				return
			}
		}
	}()
	pings := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		k := 0
		for {
			select {
			case <-stop:
				if k == 0 {
					pings <- fmt.Errorf("no ping answered")
					return
				}
				pings <- nil
				return
			default:
			}
			if _, err := cl.Ping(ctx); err != nil {
				pings <- fmt.Errorf("ping %d: %w", k, err)
				return
			}
			k++
		}
	}()
	bg := context.Background()
	for i := 0; i < n; i++ {
		if err := sv.Send(bg, Binary, fmt.Appendf(nil, "m %08d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := <-recvd; err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-pings; err != nil {
		t.Fatal(err)
	}
}

// TestSendConcurrent: goroutines that send to one connection at once
// (each retrying on ErrBusy, on the fast path and the general one, with
// messages of one write and of many, masked by a client) while the peer
// pings: every Send that returned nil delivered its message whole,
// exactly once, in its sender's order, with no frame of another message
// inside it; a Send that failed with ErrBusy delivered nothing.
func TestSendConcurrent(t *testing.T) {
	for _, client := range []bool{false, true} {
		t.Run(fmt.Sprintf("client=%v", client), func(t *testing.T) {
			testSendConcurrent(t, client)
		})
	}
}

// concMsg is message seq of sender id: a 5-byte head (id, seq) and a
// filler whose bytes depend on both, so that a message cut, merged or
// interleaved with another does not check out.
func concMsg(id, seq int) []byte {
	sizes := [...]int{0, 11, 125, 126, 1500, writeBufSize - maxHeader - 5, writeBufSize + 3, 3*writeBufSize + 17}
	n := sizes[(id+seq)%len(sizes)]
	p := make([]byte, 5+n)
	p[0] = byte(id)
	p[1], p[2], p[3], p[4] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	for i := range n {
		p[5+i] = byte(id*31 + seq*7 + i)
	}
	return p
}

func testSendConcurrent(t *testing.T, client bool) {
	cl, sv := wsPair(t, Binary)
	from, to := sv, cl
	if client {
		from, to = cl, sv
	}
	ctx := withTimeout(t, 60*time.Second)
	const senders, each = 6, 150
	recvd := make(chan error, 1)
	go func() {
		buf := make([]byte, 4*writeBufSize)
		next := make([]int, senders)
		for i := 0; i < senders*each; i++ {
			n, _, err := to.Recv(ctx, buf)
			if err != nil {
				recvd <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			if n < 5 || int(buf[0]) >= senders {
				recvd <- fmt.Errorf("message %d: %d bytes, no valid head", i, n)
				return
			}
			id := int(buf[0])
			seq := int(buf[1])<<24 | int(buf[2])<<16 | int(buf[3])<<8 | int(buf[4])
			if seq != next[id] {
				recvd <- fmt.Errorf("message %d: sender %d's message %d, want its %d", i, id, seq, next[id])
				return
			}
			if !bytes.Equal(buf[:n], concMsg(id, seq)) {
				recvd <- fmt.Errorf("message %d: sender %d's message %d: %d bytes differ from the %d sent", i, id, seq, n, len(concMsg(id, seq)))
				return
			}
			next[id]++
		}
		recvd <- nil
	}()
	go func() { // the sending side's receive answers pings, whose pongs share the wire
		buf := make([]byte, 64)
		for {
			if _, _, err := from.Recv(ctx, buf); err != nil {
				return
			}
		}
	}()
	stop := make(chan struct{})
	pinged := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				pinged <- nil
				return
			default:
			}
			if _, err := to.Ping(ctx); err != nil {
				pinged <- err
				return
			}
		}
	}()
	var busy atomic.Int64
	errs := make(chan error, senders)
	for id := 0; id < senders; id++ {
		go func() {
			for seq := 0; seq < each; seq++ {
				p := concMsg(id, seq)
				for {
					var err error
					switch seq % 3 {
					case 0:
						err = from.Send(context.Background(), Binary, p)
					case 1:
						err = from.Send(ctx, Binary, p)
					case 2:
						err = from.SendV(context.Background(), Binary, p[:len(p)/3], p[len(p)/3:])
					}
					if err == nil {
						break
					}
					if !errors.Is(err, ErrBusy) {
						errs <- fmt.Errorf("sender %d, message %d: %w", id, seq, err)
						return
					}
					busy.Add(1)
					runtime.Gosched()
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-recvd; err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-pinged; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages, %d ErrBusy retries", senders*each, busy.Load())
}
