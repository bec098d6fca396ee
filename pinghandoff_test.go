package ws

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestPingHandoff: a receive loop beside a goroutine that calls Ping
// back to back never sees ErrBusy, on either kind of ctx, while messages
// arrive in bursts with gaps (in a gap, Ping finds the receive side free
// and reads its pong itself; the next receive call takes the side back,
// also when that Ping ends, or a new one begins, in between).
func TestPingHandoff(t *testing.T) {
	for _, bg := range []bool{false, true} {
		t.Run(fmt.Sprintf("background=%v", bg), func(t *testing.T) {
			cl, sv := wsPair(t, Binary)
			ctx := withTimeout(t, 60*time.Second)
			go func() { // the server's receive answers the pings
				buf := make([]byte, 64)
				for {
					if _, _, err := sv.Recv(ctx, buf); err != nil {
						return
					}
				}
			}()
			const n = 4000
			recvd := make(chan error, 1)
			go func() {
				rctx := ctx
				if bg {
					rctx = context.Background()
				}
				buf := make([]byte, 16)
				for i := 0; i < n; i++ {
					k, _, err := cl.Recv(rctx, buf)
					if err != nil {
						recvd <- fmt.Errorf("message %d: %w", i, err)
						return
					}
					if want := fmt.Sprint(i); string(buf[:k]) != want {
						recvd <- fmt.Errorf("message %d: got %q", i, buf[:k])
						return
					}
				}
				recvd <- nil
			}()
			stop := make(chan struct{})
			pinged := make(chan error, 1)
			pings := 0
			go func() {
				for {
					select {
					case <-stop:
						pinged <- nil
						return
					default:
					}
					if _, err := cl.Ping(ctx); err != nil && !errors.Is(err, ErrBusy) {
						pinged <- err
						return
					}
					pings++
				}
			}()
			for i := 0; i < n; i++ {
				if err := sv.Send(ctx, Binary, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				if i%7 == 0 {
					time.Sleep(time.Duration(i%5) * 10 * time.Microsecond)
				}
			}
			select {
			case err := <-recvd:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("receive loop: no end")
			}
			close(stop)
			if err := <-pinged; err != nil {
				t.Fatal(err)
			}
			t.Logf("%d messages beside %d pings", n, pings)
		})
	}
}

// TestTakeFromPingStates: takeFromPing in each state the receive side
// can be in when a receive call's CAS has just failed.
func TestTakeFromPingStates(t *testing.T) {
	cl, _ := wsPair(t, Binary)
	// The Ping let go and ended between the failed CAS and the loads:
	// the side is free and must be taken.
	if !cl.takeFromPing() {
		t.Fatal("side free, no Ping: not taken")
	}
	if cl.recvWant.Load() {
		t.Fatal("want left set")
	}
	// Another receive call holds it, no Ping: not taken, at once.
	start := time.Now()
	if cl.takeFromPing() {
		t.Fatal("side held by a receive call: taken")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("held by a receive call: %v to answer", d)
	}
	cl.in.busy.Store(false)
	// A Ping holds it to read: it is asked to yield, and once it lets
	// go the side is taken; no Ping takes it while the call waits.
	s := &pingState{}
	cl.ping.Store(s)
	s.reading.Store(true)
	cl.in.busy.Store(true)
	done := make(chan bool, 1)
	go func() { done <- cl.takeFromPing() }()
	deadline := time.Now().Add(10 * time.Second)
	for !s.yield.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Ping not asked to yield")
		}
		time.Sleep(time.Millisecond)
	}
	for !cl.recvWant.Load() {
		if time.Now().After(deadline) {
			t.Fatal("want not set while waiting")
		}
		time.Sleep(time.Millisecond)
	}
	cl.in.busy.Store(false) // the Ping lets go...
	s.reading.Store(false)
	cl.ping.Store(nil) // ...and ends
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Ping let go: side not taken")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("takeFromPing: no answer")
	}
	cl.in.busy.Store(false)
}
