package ws

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Regression tests for the server handshake (issue 10, defects 6, 7, 8).

// serverReq is a valid upgrade request for host, with extra field lines
// and then tail (a body, a pipelined request) after the head.
func serverReq(host string, extra []string, tail string) string {
	var b strings.Builder
	b.WriteString("GET /r HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, f := range extra {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n" + tail)
	return b.String()
}

// TestServerHandshakeTimeout (defect 8): a client that sends half a
// request and stalls is failed by AttachServer with ErrTimedOut once
// Config.HandshakeTimeout passes, though ctx has no deadline; likewise a
// server that never answers AttachClient.
func TestServerHandshakeTimeout(t *testing.T) {
	cfg := &Config{HandshakeTimeout: 200 * time.Millisecond}
	a, b := tcpPair(t)
	errc := make(chan error, 1)
	go func() { _, err := cfg.AttachServer(context.Background(), a, 0); errc <- err }()
	req := serverReq("localhost", nil, "")
	if _, err := io.WriteString(b, req[:len(req)/2]); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		errIs(t, err, ErrTimedOut)
		errIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("AttachServer still waiting for the request")
	}

	a, b = tcpPair(t)
	go func() { _, err := cfg.AttachClient(context.Background(), a, 0, "/", "localhost"); errc <- err }()
	go io.Copy(io.Discard, b)
	select {
	case err := <-errc:
		errIs(t, err, ErrTimedOut)
	case <-time.After(10 * time.Second):
		t.Fatal("AttachClient still waiting for the answer")
	}
}

// TestServerHandshakeTimeoutCleared: the handshake's bound does not stay
// on the connection: messages still flow, both ways, after it passed.
func TestServerHandshakeTimeoutCleared(t *testing.T) {
	cfg := &Config{HandshakeTimeout: 50 * time.Millisecond}
	a, b := tcpPair(t)
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := cfg.AttachServer(context.Background(), a, 0); ch <- res{c, err} }()
	cl, err := cfg.AttachClient(context.Background(), b, 0, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	sv := r.c
	defer sv.Close()
	time.Sleep(4 * cfg.HandshakeTimeout)
	ctx := withTimeout(t, 10*time.Second)
	buf := make([]byte, 8)
	for _, p := range [][2]*Conn{{cl, sv}, {sv, cl}} {
		wait := async(t, func() error { return p[0].Send(context.Background(), Binary, []byte("late")) })
		n, _, err := p[1].Recv(ctx, buf)
		wait()
		if err != nil || string(buf[:n]) != "late" {
			t.Fatal(n, err)
		}
	}
}

// TestHandshakeBound: 0 means 10 s, negative no bound, and a ctx deadline
// that comes first leaves the bound to ctx.
func TestHandshakeBound(t *testing.T) {
	now := time.Unix(1000, 0)
	bg := context.Background()
	soon, cancel := context.WithDeadline(bg, now.Add(time.Second))
	defer cancel()
	late, cancel := context.WithDeadline(bg, now.Add(time.Hour))
	defer cancel()
	for _, tc := range []struct {
		cfg  *Config
		ctx  context.Context
		want time.Time
	}{
		{nil, bg, now.Add(10 * time.Second)},
		{&Config{}, late, now.Add(10 * time.Second)},
		{&Config{HandshakeTimeout: time.Minute}, bg, now.Add(time.Minute)},
		{&Config{HandshakeTimeout: -1}, bg, time.Time{}},
		{nil, soon, time.Time{}},
	} {
		if got := tc.cfg.handshakeBound(tc.ctx, now); !got.Equal(tc.want) {
			t.Errorf("handshakeBound(%+v) = %v, want %v", tc.cfg, got, tc.want)
		}
	}
}

// stallConn calls check before every Read after the first.
type stallConn struct {
	net.Conn
	reads int
	check func()
}

func (s *stallConn) Read(p []byte) (int, error) {
	if s.reads++; s.reads > 1 {
		s.check()
	}
	return s.Conn.Read(p)
}

// TestServerWriteBufferAfterRequest (defect 8): a pooled server waiting
// for the rest of a request holds its read buffer only; the write buffer
// is taken once the request is in, and both are given back after.
func TestServerWriteBufferAfterRequest(t *testing.T) {
	a, b := tcpPair(t)
	u := &stallConn{Conn: a}
	c, err := (*Config)(nil).attach(context.Background(), "attachserver", u, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	req := serverReq("localhost", nil, "")
	held := false
	u.check = func() {
		if u.reads == 2 {
			held = c.wbuf != nil || c.rbuf == nil
			io.WriteString(b, req[len(req)/2:])
		}
	}
	io.WriteString(b, req[:len(req)/2])
	if err := c.serve(withTimeout(t, 10*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if held {
		t.Fatal("write buffer held (or no read buffer) while the request was read")
	}
	if c.wbuf != nil || c.rbuf != nil {
		t.Fatal("buffers kept after the handshake")
	}
	c.Close()
}
