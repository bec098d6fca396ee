package ws

import (
	"context"
	"testing"
)

// memPair attaches a client and a server in caller Storage over loopback TCP.
func memPair(t testing.TB) (cl, sv *Conn) {
	t.Helper()
	a, b := tcpPair(t)
	ctx := context.Background()
	var cs, ss Storage
	errc := make(chan error, 1)
	go func() {
		var err error
		sv, err = AttachServerMem(ctx, b, 0, &ss)
		errc <- err
	}()
	cl, err := AttachClientMem(ctx, a, 0, "/", "localhost", &cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return cl, sv
}

// TestZeroAllocs guards the zero-allocation promise: with Mem conns and
// context.Background(), Send, Recv, SendV and RecvV allocate nothing per
// message, at any size, on either side.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet run")
	}
	ctx := context.Background()
	cl, sv := memPair(t)
	for _, n := range []int{16, 1 << 10, 16 << 10, 64 << 10, 1 << 20} {
		msg := pattern(n)
		buf := make([]byte, n)
		half := n / 2
		for _, dir := range []struct {
			name     string
			from, to *Conn
		}{{"client→server", cl, sv}, {"server→client", sv, cl}} {
			// The receiver runs in this goroutine, the sender in another:
			// AllocsPerRun counts the whole process, so both are covered.
			sendOne := make(chan bool)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for vec := range sendOne {
					var err error
					if vec {
						err = dir.from.SendV(ctx, Binary, msg[:half], msg[half:])
					} else {
						err = dir.from.Send(ctx, Binary, msg)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for _, vec := range []bool{false, true} {
				allocs := testing.AllocsPerRun(50, func() {
					sendOne <- vec
					var err error
					var m int
					if vec {
						m, _, err = dir.to.RecvV(ctx, buf[:half], buf[half:])
					} else {
						m, _, err = dir.to.Recv(ctx, buf)
					}
					if err != nil || m != n {
						t.Fatal(m, err)
					}
				})
				if allocs != 0 {
					t.Errorf("%s %d bytes vectored=%v: %.1f allocations per message", dir.name, n, vec, allocs)
				}
			}
			close(sendOne)
			<-done
		}
	}
}
