package ws

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// idleServer is a pooled server Conn (no handshake) on one end of a
// loopback TCP connection, and the raw other end.
func idleServer(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	a, b := tcpPair(t)
	c, err := AttachServer(context.Background(), b, Binary|NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

type recvResult struct {
	n   int
	err error
}

// parkedRecv starts a Recv with ctx on c and returns its answer; it
// waits until the receive is parked, so that what the test does next
// happens to a waiting receive.
func parkedRecv(t *testing.T, c *Conn, ctx context.Context, p []byte) <-chan recvResult {
	t.Helper()
	ch := make(chan recvResult, 1)
	go func() {
		n, _, err := c.Recv(ctx, p)
		ch <- recvResult{n, err}
	}()
	for end := time.Now().Add(5 * time.Second); !c.in.busy.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("receive never started")
		}
	}
	time.Sleep(20 * time.Millisecond) // and reached its wait
	return ch
}

func answer(t *testing.T, ch <-chan recvResult) recvResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the parked receive did not return")
		return recvResult{}
	}
}

// TestIdleWait: a pooled connection's receive that waits with nothing
// buffered (awaitIdle with Background, fill with a deadline) holds no
// read buffer while it waits, and ends as Recv must: a whole message, a
// message whose bytes come one at a time, the end of the stream mid-frame
// and at a message boundary (errors, never a message), a timeout that
// leaves the connection usable, and Close. On Linux a TCP connection
// waits for readability (waitIdle); net.Pipe reads its first byte.
func TestIdleWait(t *testing.T) {
	msg := bytes.Repeat([]byte("integrity"), 100)
	t.Run("message", func(t *testing.T) {
		c, peer := idleServer(t)
		buf := make([]byte, 2048)
		for _, bg := range []bool{true, false} {
			ctx := context.Background()
			if !bg {
				ctx = withTimeout(t, 30*time.Second)
			}
			ch := parkedRecv(t, c, ctx, buf)
			if !raceOn && c.in.buf != nil { // read without synchronisation: not under -race
				t.Fatal("a read buffer is held while the receive waits")
			}
			peer.Write(frame(true, true, 0, opBinary, msg))
			r := answer(t, ch)
			if r.err != nil || !bytes.Equal(buf[:r.n], msg) {
				t.Fatalf("background %v: %d bytes, %v", bg, r.n, r.err)
			}
			if c.in.buf != nil {
				t.Fatal("the read buffer is held after the message")
			}
		}
		if runtime.GOOS == "linux" && (c.in.idle == nil || c.in.idle == noIdleReader) {
			t.Fatal("a TCP connection did not wait for readability")
		}
	})
	t.Run("bytewise", func(t *testing.T) {
		c, peer := idleServer(t)
		buf := make([]byte, 2048)
		ch := parkedRecv(t, c, context.Background(), buf)
		for _, b := range frame(true, true, 0, opBinary, msg[:300]) {
			peer.Write([]byte{b})
			time.Sleep(50 * time.Microsecond)
		}
		r := answer(t, ch)
		if r.err != nil || !bytes.Equal(buf[:r.n], msg[:300]) {
			t.Fatalf("%d bytes, %v", r.n, r.err)
		}
	})
	for _, cut := range []int{0, 1, 2, 7, 100} {
		t.Run("cut", func(t *testing.T) {
			c, peer := idleServer(t)
			buf := make([]byte, 2048)
			ch := parkedRecv(t, c, context.Background(), buf)
			peer.Write(frame(true, true, 0, opBinary, msg[:200])[:cut])
			peer.Close()
			r := answer(t, ch)
			if r.err == nil {
				t.Fatalf("stream cut after %d bytes: %d bytes and no error", cut, r.n)
			}
			if _, _, err := c.Recv(context.Background(), buf); err == nil {
				t.Fatal("a receive after the cut: no error")
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		c, peer := idleServer(t)
		buf := make([]byte, 2048)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := c.Recv(ctx, buf)
		if !errors.Is(err, ErrTimedOut) {
			t.Fatalf("%v, want ErrTimedOut", err)
		}
		if c.in.buf != nil {
			t.Fatal("the read buffer is held after the timeout")
		}
		peer.Write(frame(true, true, 0, opBinary, msg))
		n, _, err := c.Recv(context.Background(), buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("after the timeout: %d bytes, %v", n, err)
		}
	})
	t.Run("close", func(t *testing.T) {
		c, _ := idleServer(t)
		ch := parkedRecv(t, c, context.Background(), make([]byte, 64))
		c.Close()
		if r := answer(t, ch); !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("%v, want net.ErrClosed", r.err)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		c, err := AttachServer(context.Background(), b, Binary|NoHTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 2048)
		ch := parkedRecv(t, c, context.Background(), buf)
		if !raceOn && c.in.buf != nil { // read without synchronisation: not under -race
			t.Fatal("a read buffer is held while the receive waits")
		}
		go a.Write(frame(true, true, 0, opBinary, msg))
		r := answer(t, ch)
		if r.err != nil || !bytes.Equal(buf[:r.n], msg) {
			t.Fatalf("%d bytes, %v", r.n, r.err)
		}
		if c.in.idle != nil && c.in.idle != noIdleReader {
			t.Fatal("net.Pipe given a descriptor wait")
		}
	})
}
