package ws

import (
	"context"
	"testing"
)

// TestPooledBuffersReturned: a connection attached without Storage holds
// no buffer between calls: not after the handshake, not after messages of
// any size, not after a message left half-read in the read buffer was
// finished.
func TestPooledBuffersReturned(t *testing.T) {
	ctx := context.Background()
	cl, sv := wsPair(t, 0)
	idle := func(when string) {
		t.Helper()
		for _, c := range []*Conn{cl, sv} {
			if !c.pooled || c.in.buf != nil || c.out.buf != nil {
				t.Fatalf("%s: pooled=%v rbuf=%d wbuf=%d", when, c.pooled, len(c.in.buf), len(c.out.buf))
			}
		}
	}
	idle("after the handshake")
	buf := make([]byte, 1<<20)
	for _, n := range []int{0, 10, 5000, 100000, 1 << 20} {
		wait := async(t, func() error { return cl.Send(ctx, Binary, pattern(n)) })
		if m, _, err := sv.Recv(ctx, buf); err != nil || m != n {
			t.Fatal(m, err)
		}
		wait()
		idle("after a message")
	}
	// Two messages in one read: the buffer is kept while bytes remain.
	wait := async(t, func() error {
		cl.Send(ctx, Text, []byte("one"))
		return cl.Send(ctx, Text, []byte("two"))
	})
	wait()
	for _, want := range []string{"one", "two"} {
		n, _, err := sv.Recv(ctx, buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatal(err)
		}
	}
	idle("after a batch")
}
