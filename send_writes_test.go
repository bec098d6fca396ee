package ws

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// sendWriteCounter counts the Write calls made on a net.Conn.
type sendWriteCounter struct {
	net.Conn
	writes atomic.Int64
}

func (w *sendWriteCounter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// TestClientLargeSendWrites checks how many writes a client's large
// masked frame takes: through a pooled 64 KiB buffer without Storage (a
// 64 KiB message in one write), through the 16 KiB write buffer with
// Storage; and that the server receives every message exactly as sent.
func TestClientLargeSendWrites(t *testing.T) {
	for _, mem := range []bool{false, true} {
		a, b := net.Pipe()
		wc := &sendWriteCounter{Conn: a}
		ctx := withTimeout(t, 20*time.Second)
		errc := make(chan error, 1)
		var sv *Conn
		go func() {
			var err error
			sv, err = AttachServer(ctx, b, Binary)
			errc <- err
		}()
		var cl *Conn
		var err error
		if mem {
			cl, err = AttachClientMem(ctx, wc, Binary, "/", "localhost", new(Storage))
		} else {
			cl, err = AttachClient(ctx, wc, Binary, "/", "localhost")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ size, pooled, mem int }{
			{20 << 10, 1, 2},   // 20 KiB + 8-byte header: 16 KiB, then the rest
			{64 << 10, 1, 5},   // 64 KiB + 14: one pooled buffer-full
			{200 << 10, 4, 13}, // 3 full 64 KiB+14 buffers and the rest
		} {
			msg := pattern(tc.size)
			orig := bytes.Clone(msg)
			got := make(chan []byte, 1)
			go func() {
				buf := make([]byte, tc.size+1)
				n, _, err := sv.Recv(ctx, buf)
				if err != nil {
					t.Error(err)
				}
				got <- buf[:n]
			}()
			before := wc.writes.Load()
			if err := cl.Send(ctx, Binary, msg); err != nil {
				t.Fatal(err)
			}
			writes := wc.writes.Load() - before
			if r := <-got; !bytes.Equal(r, orig) {
				t.Fatalf("mem %v, %d bytes: the server received %d bytes, not the message sent", mem, tc.size, len(r))
			}
			if !bytes.Equal(msg, orig) {
				t.Fatalf("mem %v: Send modified the caller's buffer", mem)
			}
			want := tc.pooled
			if mem {
				want = tc.mem
			}
			if writes != int64(want) {
				t.Errorf("mem %v, %d bytes: %d writes, want %d", mem, tc.size, writes, want)
			}
		}
		cl.Close()
		sv.Close()
	}
}
