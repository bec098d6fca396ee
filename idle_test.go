package ws

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// TestIdleConnSize bounds what an idle Conn holds: state that only a
// message in flight or a rare event needs (control-frame buffers, pending
// control frames, Ping, the peer's close, the writev state of large
// frames) lives outside it, the peer-close event is one word, and the
// message, frame and deadline records are packed, and the pooled
// buffers are their slices alone. 416 bytes is the allocator's size class
// the Conn fits in (it was 576, then 480).
func TestIdleConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 416 {
		t.Fatalf("Conn is %d bytes, want at most 416", n)
	}
}

// TestIdleRecvStack checks that a goroutine parked in Recv, MRecv, a
// one-buffer RecvV or Reader on a pooled connection with a ctx that never
// ends stays within its initial 2 KiB stack, fresh and (but for Reader)
// after it received messages: the "at most 4 KiB per idle connection" budget of the
// goroutine-per-connection style. It runs in a child process with
// GODEBUG=adaptivestackstart=0, so that every goroutine starts at 2 KiB
// and any growth shows in StackInuse.
func TestIdleRecvStack(t *testing.T) {
	if raceOn {
		// The race detector's instrumentation doubles the stack guard and
		// widens every frame: stack sizes mean nothing there.
		// scripts/test.sh runs this test again without -race.
		t.Skip("stack sizes are checked without -race (scripts/test.sh)")
	}
	variant := os.Getenv("WS_STACK_CHILD")
	if variant == "" {
		gd := os.Getenv("GODEBUG")
		if gd != "" {
			gd += ","
		}
		for _, v := range []string{"recv", "mrecv", "recvv", "reader"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIdleRecvStack$", "-test.v")
			cmd.Env = append(os.Environ(), "WS_STACK_CHILD="+v, "WS_NO_REEXEC=1", "GODEBUG="+gd+"adaptivestackstart=0")
			out, err := cmd.CombinedOutput()
			cancel()
			t.Logf("%s:\n%s", v, out)
			if err != nil {
				t.Errorf("%s: %v", v, err)
			}
		}
		return
	}
	const n = 300
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	clients := make([]*Conn, 0, n)
	servers := make([]*Conn, 0, n)
	defer func() {
		for _, c := range append(clients, servers...) {
			c.Close()
		}
	}()
	for range n {
		u, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		acc := make(chan *Conn, 1)
		go func() {
			v, err := ln.Accept()
			if err != nil {
				acc <- nil
				return
			}
			c, err := AttachServer(ctx, v, Binary)
			if err != nil {
				v.Close()
			}
			acc <- c
		}()
		cc, err := AttachClient(ctx, u, Binary, "/", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cc)
		sc := <-acc
		if sc == nil {
			t.Fatal("server attach failed")
		}
		servers = append(servers, sc)
	}
	stackInuse := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.StackInuse)
	}
	got := make(chan int, n)
	before := stackInuse()
	for i, c := range servers {
		go func() {
			var p [64]byte
			for {
				var err error
				switch variant {
				case "recv":
					_, _, err = c.Recv(ctx, p[:])
				case "mrecv":
					_, err = c.MRecv(ctx, p[:])
				case "recvv":
					_, _, err = c.RecvV(ctx, p[:])
				default:
					var r io.Reader
					if _, r, err = c.Reader(ctx); err == nil {
						_, err = io.ReadAtLeast(r, p[:], len(p)) // the whole message, then io.ErrUnexpectedEOF
						if err == io.ErrUnexpectedEOF {
							err = nil
						}
					}
				}
				if err != nil {
					return
				}
				got <- i
			}
		}()
	}
	waitParked := func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			parked := 0
			for _, c := range servers {
				if c.in.busy.Load() {
					parked++
				}
			}
			if parked == n {
				time.Sleep(50 * time.Millisecond)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d receivers parked", parked, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitParked()
	fresh := (stackInuse() - before) / n
	for round := range 3 {
		for _, c := range clients {
			if err := c.Send(ctx, Binary, make([]byte, 16<<round)); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("a message did not arrive")
			}
		}
	}
	waitParked()
	after := (stackInuse() - before) / n
	t.Logf("%s: stack per parked receiver: %d B fresh, %d B after traffic", variant, fresh, after)
	if fresh > 3<<10 {
		t.Errorf("%s: stack per parked receiver %d B fresh: want 2 KiB (a grown stack is 4 KiB)", variant, fresh)
	}
	// Reading a message through Reader's io.Reader goes deeper than
	// 2 KiB (Read, readPayload, readRaw and the caller's io helper):
	// after traffic its goroutine keeps a 4 KiB stack, only logged here.
	if after > 3<<10 && variant != "reader" {
		t.Errorf("%s: stack per parked receiver %d B after traffic: want 2 KiB (a grown stack is 4 KiB)", variant, after)
	}
}
