package ws

import (
	"testing"
	"time"
)

// TestRFC8441PoolPerConfig: the HTTP/2 connections Dial shares belong to
// the *Config: two WebSockets dialed with one Config share a TCP
// connection, a second Config (even a copy of the first, made after it
// dialed) opens its own, and a Config's pool lets its connection go, and
// holds nothing, once the last of its WebSockets is closed.
func TestRFC8441PoolPerConfig(t *testing.T) {
	if !xconnectOn() {
		t.Skip("needs GODEBUG=" + xconnectEnv)
	}
	e := newH2Env(t, false, 100, nil, nil)
	ctx := h2ctx(t, 20*time.Second)
	a := e.cfg
	dial := func(cfg *Config) *Conn {
		t.Helper()
		c, _, err := cfg.Dial(ctx, e.url, Binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(ctx, c, []byte("pool")); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a1, a2 := dial(a), dial(a)
	if n := e.accepts.Load(); n != 1 {
		t.Fatalf("one Config, two WebSockets: %d TCP connections, want 1", n)
	}
	if a1.Underlying() == a2.Underlying() {
		t.Fatal("two WebSockets on one stream")
	}
	b := &Config{HTTP2: true}
	copied := *a // shares a's pool object, never its connections
	b1, c1 := dial(b), dial(&copied)
	if n := e.accepts.Load(); n != 3 {
		t.Fatalf("three Configs: %d TCP connections, want 3", n)
	}
	if a.h2pool == b.h2pool {
		t.Fatal("two Configs share a pool")
	}
	for _, c := range []*Conn{a1, b1, c1} {
		c.Close()
	}
	if a.h2Pool().idle() {
		t.Fatal("pool of a Config with an open WebSocket is empty")
	}
	a2.Close()
	// Close returns once the closing handshake is done; the stream then
	// ends and the connection with it, within the test's bound.
	for _, p := range []*h2Pool{a.h2Pool(), b.h2Pool()} {
		for !p.idle() {
			select {
			case <-ctx.Done():
				t.Fatal("the pool still lists a connection after its last WebSocket closed")
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	// A new Dial after that opens a new connection.
	d := dial(a)
	defer d.Close()
	if n := e.accepts.Load(); n != 4 {
		t.Fatalf("Dial after the pool emptied: %d TCP connections, want 4", n)
	}
}
