package ws

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestKeepaliveSilentPeer: a peer that never answers pings is detected;
// the blocked receive and later sends fail with ErrConnReset and the
// keepalive cause; the pings were on the wire (RFC 6455 §5.5.2).
func TestKeepaliveSilentPeer(t *testing.T) {
	a, b := tcpPair(t)
	cfg := &Config{PingInterval: 20 * time.Millisecond, PongTimeout: 40 * time.Millisecond}
	c, err := cfg.AttachServer(context.Background(), a, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &rawPeer{t: t, c: b, r: newReader(b), client: true}
	if h, _ := p.read(); h.op != opPing {
		t.Fatalf("op %x, want a ping", h.op)
	}
	_, _, err = c.Recv(withTimeout(t, 30*time.Second), make([]byte, 8))
	errIs(t, err, ErrConnReset)
	if !errors.Is(err, errKeepalive) {
		t.Fatal(err)
	}
	errIs(t, c.Send(context.Background(), Text, []byte("x")), ErrConnReset)
}

// TestKeepaliveLivePeer: a peer whose receiving goroutine answers pings
// keeps the connection up over many intervals.
func TestKeepaliveLivePeer(t *testing.T) {
	a, b := tcpPair(t)
	ctx := context.Background()
	cfg := &Config{PingInterval: 10 * time.Millisecond, PongTimeout: 2 * time.Second}
	var sv *Conn
	wait := async(t, func() (err error) { sv, err = cfg.AttachServer(ctx, b, 0); return })
	cl, err := AttachClient(ctx, a, 0, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	wait()
	defer sv.Close()
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 8)
		n, _, err := cl.Recv(ctx, buf) // answers the pings meanwhile
		if err == nil && string(buf[:n]) != "late" {
			err = errors.New("wrong message")
		}
		got <- err
	}()
	srvRecv := make(chan error, 1)
	go func() {
		_, _, err := sv.Recv(withTimeout(t, 200*time.Millisecond), make([]byte, 8))
		srvRecv <- err
	}()
	errIs(t, <-srvRecv, ErrTimedOut) // many intervals passed, pongs arrived
	if err := sv.Send(ctx, Text, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	cl.Close()
}
