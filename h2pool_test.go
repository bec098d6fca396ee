package ws

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRFC8441PoolPerConfig: the HTTP/2 connections Dial shares belong to
// the *Config: concurrent Dial calls with one Config (its pool created by
// the first of them) share one TCP connection, a second Config to the
// same server opens its own, and a connection is closed and leaves its
// pool when its last WebSocket ends; the next Dial opens a new one.
func TestRFC8441PoolPerConfig(t *testing.T) {
	e := newH2Env(t, false, 0, nil, nil)
	ctx := h2ctx(t, 20*time.Second)
	a, b := &Config{HTTP2: true}, &Config{HTTP2: true}
	const n = 8
	conns := make([]*Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], _, errs[i] = a.Dial(ctx, e.url, Binary) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Dial %d: %v", i, err)
		}
	}
	if got := e.accepts.Load(); got != 1 {
		t.Fatalf("%d Dial calls with one Config: %d TCP connections, want 1", n, got)
	}
	cb, resp, err := b.Dial(ctx, e.url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("second Config's WebSocket came over %s", resp.Proto)
	}
	if got := e.accepts.Load(); got != 2 {
		t.Fatalf("a second Config: %d TCP connections, want 2", got)
	}
	hcs := map[*h2Conn]bool{}
	for i, c := range append(conns, cb) {
		if err := roundTrip(ctx, c, []byte(fmt.Sprint("message ", i))); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		hcs[c.Underlying().(*clientStream).c] = true
	}
	if len(hcs) != 2 {
		t.Fatalf("%d HTTP/2 connections on the client side, want 2", len(hcs))
	}
	ha := conns[0].Underlying().(*clientStream).c
	pa := a.h2Pool()
	poolConns := func(p *h2Pool) int {
		p.mu.Lock()
		defer p.mu.Unlock()
		k := 0
		for _, e := range p.m {
			k += len(e.conns)
		}
		return k
	}
	if got := poolConns(pa); got != 1 {
		t.Fatalf("first Config's pool holds %d connections, want 1", got)
	}
	// Every WebSocket but one ends: the connection stays up for it.
	for _, c := range conns[1:] {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := roundTrip(ctx, conns[0], []byte("still there")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ha.dead:
		t.Fatal("the connection closed while a WebSocket was open on it")
	default:
	}
	// The last one ends: the connection closes and leaves the pool.
	if err := conns[0].Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ha.dead:
	case <-ctx.Done():
		t.Fatal("the idle connection was not released")
	}
	if got := poolConns(pa); got != 0 {
		t.Fatalf("after the last WebSocket, the pool holds %d connections", got)
	}
	c, _, err := a.Dial(ctx, e.url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.accepts.Load(); got != 3 {
		t.Errorf("Dial after the release: %d TCP connections in all, want 3", got)
	}
	c.Close()
	cb.Close()
}
