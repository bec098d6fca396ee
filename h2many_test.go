package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRFC8441ThousandStreams: 1,000 WebSockets dialed with one *Config
// share one TCP connection; one of them never reads while the server
// floods it, and another's server never reads while the client sends to
// it, and the 998 others exchange messages at once all the same: flow
// control bounds each stream's buffer, not the connection.
func TestRFC8441ThousandStreams(t *testing.T) {
	const n = 1000
	e := newH2Env(t, false, 2*n, nil, func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, Binary)
		if err != nil {
			return
		}
		defer c.Close()
		ctx := context.Background()
		switch r.URL.Path {
		case "/flood": // sends until the stream is closed
			msg := make([]byte, 16<<10)
			for c.Send(ctx, Binary, msg) == nil {
			}
		case "/deaf": // never reads; ends when the client goes
			<-r.Context().Done()
		default:
			echoConn(c)
		}
	})
	base := e.url[:len(e.url)-len("/echo")]
	ctx := h2ctx(t, 60*time.Second)
	conns := make([]*Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		path := "/echo"
		switch i {
		case 0:
			path = "/flood"
		case 1:
			path = "/deaf"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := e.cfg.Dial(ctx, base+path, Binary)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			conns[i] = c
		}()
		if i%50 == 0 {
			wg.Wait() // a few at a time, as a page opens them
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The deaf server's stream: send until its window is spent.
	deafCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	var err error
	for err == nil {
		err = conns[1].Send(deafCtx, Binary, make([]byte, 32<<10))
	}
	cancel()
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("send to a deaf server: %v", err)
	}
	// The flooded stream is never read; the others exchange ten messages each.
	time.Sleep(100 * time.Millisecond)
	errs = make(chan error, n)
	start := time.Now()
	for i := 2; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 10 {
				if err := roundTrip(ctx, conns[i], []byte(fmt.Sprintf("msg %d/%d", i, k))); err != nil {
					errs <- fmt.Errorf("conn %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := e.accepts.Load(); got != 1 {
		t.Errorf("listener accepted %d connections, want 1", got)
	}
	t.Logf("%d round trips on %d streams of one connection in %v", 10*(n-2), n-2, time.Since(start))
	// The flooded stream still works: what the server sent is all there.
	buf := make([]byte, 16<<10)
	if _, _, err := conns[0].Recv(ctx, buf); err != nil {
		t.Fatal(err)
	}
}

// TestRFC8441MaxConcurrentStreams: a server that allows 4 streams a
// connection makes Dial open another connection for the fifth.
func TestRFC8441MaxConcurrentStreams(t *testing.T) {
	e := newH2Env(t, true, 4, nil, nil)
	ctx := h2ctx(t, 20*time.Second)
	var conns []*Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 10 {
		c, _, err := e.cfg.Dial(ctx, e.url, Binary)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if err := roundTrip(ctx, c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.accepts.Load(); got != 3 {
		t.Errorf("%d connections for 10 streams at 4 a connection, want 3", got)
	}
}

// TestRFC8441Deadlines: a receive that times out before a message
// leaves the stream usable, on both sides (the server's stream reads
// ahead through its own goroutine; net/http's read deadline would close
// the body for good).
func TestRFC8441Deadlines(t *testing.T) {
	got := make(chan error, 1)
	e := newH2Env(t, false, 0, nil, func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, Binary)
		if err != nil {
			return
		}
		defer c.Close()
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, _, err = c.Recv(short, make([]byte, 16))
		cancel()
		if !errors.Is(err, ErrTimedOut) {
			got <- fmt.Errorf("server's first recv: %v", err)
			return
		}
		got <- nil
		echoConn(c)
	})
	ctx := h2ctx(t, 10*time.Second)
	c, _, err := e.cfg.Dial(ctx, e.url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, err = c.Recv(short, make([]byte, 16))
	cancel()
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("client's recv: %v", err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("server stuck")
	}
	if err := roundTrip(ctx, c, []byte("after the timeouts")); err != nil {
		t.Fatal(err)
	}
}
