package ws

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
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

const pipelined = "GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n"

// answerThenEOF reads one response from br and then expects the end of the
// stream: no second answer, and a clean EOF (a FIN, not a reset).
func answerThenEOF(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 101 {
		// One read: a second answer comes back at once, EOF when the
		// server closed after its answer.
		rest := make([]byte, 512)
		if n, err := br.Read(rest); n > 0 || err != io.EOF {
			t.Fatalf("after the %d answer: %q, %v; want EOF", resp.StatusCode, rest[:n], err)
		}
		if !resp.Close {
			t.Errorf("refusal without Connection: close: %v", resp.Header)
		}
	}
	return resp.StatusCode
}

// attachServerAnswer runs cfg.AttachServer on a connection accepted by a
// listener on addr, sends req, and returns the answer's status and the
// attach error.
func attachServerAnswer(t *testing.T, cfg *Config, addr, req string) (int, error) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		u, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		c, err := cfg.AttachServer(withTimeout(t, 10*time.Second), u, 0)
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(cl, strings.ReplaceAll(req, "PORT", portOf(ln.Addr()))); err != nil {
		t.Fatal(err)
	}
	status := answerThenEOF(t, bufio.NewReader(cl))
	cl.Close() // ends the server's lingering close at once
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("AttachServer did not return")
	}
	return status, err
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestServerRefusesRequestBody_RFC7230_3_3 (defect 6): an upgrade request
// that declares a body (RFC 7230 §3.3: Content-Length other than 0, or
// Transfer-Encoding) is refused with 400 by AttachServer, its body never
// read as frames, and the connection ends after the answer with nothing
// pipelined after it answered (RFC 7230 §6.6).
func TestServerRefusesRequestBody_RFC7230_3_3(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		body   string
		status int
	}{
		{"content-length", []string{"Content-Length: 6"}, "\x81\x80\x00\x00\x00\x00", 400},
		{"chunked", []string{"Transfer-Encoding: chunked"}, "6\r\n\x81\x80\x00\x00\x00\x00\r\n0\r\n\r\n", 400},
		{"both", []string{"Content-Length: 6", "Transfer-Encoding: chunked"}, "", 400},
		{"malformed length", []string{"Content-Length: +0"}, "", 400},
		{"second length", []string{"Content-Length: 0", "Content-Length: 1"}, "x", 400},
		{"zero length", []string{"Content-Length: 0"}, "", 101},
		{"zeros", []string{"Content-Length: 00"}, "", 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tail := tc.body
			if tc.status != 101 {
				tail += pipelined
			}
			status, err := attachServerAnswer(t, nil, "127.0.0.1:0", serverReq("localhost", tc.fields, tail))
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if tc.status == 101 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			errIs(t, err, ErrProto)
		})
	}
}

// TestServerRefusalLingers_RFC7230_6_6 (defect 6): a refused client that
// is still sending its body gets the answer and a clean EOF: AttachServer
// half-closes and drains before closing, instead of closing over unread
// input, which resets the connection and can destroy the answer.
func TestServerRefusalLingers_RFC7230_6_6(t *testing.T) {
	a, b := tcpPair(t)
	errc := make(chan error, 1)
	go func() { _, err := AttachServer(withTimeout(t, 10*time.Second), a, 0); errc <- err }()
	const size = 200 << 10
	req := serverReq("localhost", []string{"Content-Length: " + strconv.Itoa(size)}, strings.Repeat("x", size))
	go io.WriteString(b, req)          // fails, without a lingering close, once the server resets
	time.Sleep(100 * time.Millisecond) // let a reset, if any, arrive before the answer is read
	b.SetDeadline(time.Now().Add(10 * time.Second))
	if status := answerThenEOF(t, bufio.NewReader(b)); status != 400 {
		t.Fatalf("status %d, want 400", status)
	}
	b.Close()
	select {
	case err := <-errc:
		errIs(t, err, ErrProto)
	case <-time.After(10 * time.Second):
		t.Fatal("AttachServer did not return")
	}
}

// upgradeServer serves cfg.Upgrade on 127.0.0.1 and reports each request
// path it was called for.
func upgradeServer(t *testing.T, cfg *Config) (*httptest.Server, <-chan string) {
	paths := make(chan string, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		c, err := cfg.Upgrade(w, r, 0)
		if err == nil {
			c.Close()
		}
	}))
	t.Cleanup(ts.Close)
	return ts, paths
}

// upgradeAnswer sends req to ts and returns the status of its single
// answer (answerThenEOF).
func upgradeAnswer(t *testing.T, ts *httptest.Server, req string) int {
	t.Helper()
	u, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(u, strings.ReplaceAll(req, "PORT", portOf(ts.Listener.Addr()))); err != nil {
		t.Fatal(err)
	}
	return answerThenEOF(t, bufio.NewReader(u))
}

// TestUpgradeRefusedClosesConn_RFC7230_6_6 (defect 6): Upgrade refuses a
// request that declares a body with 400, and any refusal carries
// Connection: close, so that net/http closes the connection and does not
// serve the request pipelined after the refused one.
func TestUpgradeRefusedClosesConn_RFC7230_6_6(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		body   string
		status int
	}{
		{"content-length", []string{"Content-Length: 6"}, "\x81\x80\x00\x00\x00\x00", 400},
		{"chunked", []string{"Transfer-Encoding: chunked"}, "6\r\n\x81\x80\x00\x00\x00\x00\r\n0\r\n\r\n", 400},
		{"version 8", []string{"Sec-WebSocket-Version: 8"}, "", 426},
		{"cross origin", []string{"Origin: http://evil.example"}, "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, paths := upgradeServer(t, nil)
			req := serverReq("localhost", tc.fields, tc.body+pipelined)
			if tc.name == "version 8" {
				req = strings.Replace(req, "Sec-WebSocket-Version: 13\r\n", "", 1)
			}
			if status := upgradeAnswer(t, ts, req); status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if n := len(paths); n != 1 {
				t.Fatalf("handler called %d times, want 1 (the pipelined request was served)", n)
			}
		})
	}
}

// TestServerHostDNSRebinding (defect 7): a server on a loopback address
// refuses, with 403, a Host that is not a loopback name, even when Origin
// matches it (a rebound evil.example page) and whatever CheckOrigin says,
// unless Config.Hosts names it; Config.Hosts then is the only list.
func TestServerHostDNSRebinding(t *testing.T) {
	allowAll := &Config{CheckOrigin: func(*http.Request) bool { return true }}
	hosts := &Config{Hosts: []string{"evil.example"}}
	evil := []string{"Origin: http://evil.example:PORT"}
	cases := []struct {
		name, addr, host string
		origin           []string
		cfg              *Config
		status           int
	}{
		{"rebound", "127.0.0.1:0", "evil.example:PORT", evil, nil, 403},
		{"rebound, no origin", "127.0.0.1:0", "evil.example", nil, nil, 403},
		{"rebound, CheckOrigin allows all", "127.0.0.1:0", "evil.example:PORT", evil, allowAll, 403},
		{"localhost", "127.0.0.1:0", "localhost:PORT", []string{"Origin: http://localhost:PORT"}, nil, 101},
		{"LOCALHOST", "127.0.0.1:0", "LOCALHOST", nil, nil, 101},
		{"127.0.0.1", "127.0.0.1:0", "127.0.0.1:PORT", nil, nil, 101},
		{"127.9.8.7", "127.0.0.1:0", "127.9.8.7", nil, nil, 101},
		{"localhost subdomain", "127.0.0.1:0", "localhost.evil.example:PORT", nil, nil, 403},
		{"mapped", "127.0.0.1:0", "[::ffff:127.0.0.1]:PORT", nil, nil, 403},
		{"listed", "127.0.0.1:0", "EVIL.example:PORT", evil, hosts, 101},
		{"listed only", "127.0.0.1:0", "localhost:PORT", nil, hosts, 403},
		{"::1", "[::1]:0", "[::1]:PORT", nil, nil, 101},
		{"::1 rebound", "[::1]:0", "evil.example:PORT", evil, nil, 403},
	}
	for _, tc := range cases {
		t.Run("AttachServer "+tc.name, func(t *testing.T) {
			if tc.addr == "[::1]:0" && !haveIPv6Loopback() {
				t.Skip("no ::1")
			}
			status, err := attachServerAnswer(t, tc.cfg, tc.addr, serverReq(tc.host, tc.origin, ""))
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, err, tc.status)
			}
			if tc.status == 101 && err != nil || tc.status != 101 && !errors.Is(err, ErrProto) {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range cases {
		if tc.addr != "127.0.0.1:0" {
			continue
		}
		t.Run("Upgrade "+tc.name, func(t *testing.T) {
			ts, _ := upgradeServer(t, tc.cfg)
			if status := upgradeAnswer(t, ts, serverReq(tc.host, tc.origin, "")); status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
		})
	}
}

func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestCheckHost: the Host policy as a pure function: other addresses keep
// any Host (then the same-origin rule applies); Host values that are not
// host[:port] never match.
func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		host     string
		loopback bool
		hosts    []string
		ok       bool
	}{
		{"evil.example:80", false, nil, true},
		{"evil.example", true, nil, false},
		{"localhost", true, nil, true},
		{"localhost:", true, nil, true},
		{"localhost:8o", true, nil, false},
		{"localhost.", true, nil, false},
		{"127.0.0.1:1", true, nil, true},
		{"127.1", true, nil, false},
		{"0177.0.0.1", true, nil, false},
		{"128.0.0.1", true, nil, false},
		{"[::1]:8080", true, nil, true},
		{"[::1]x", true, nil, false},
		{"[::1", true, nil, false},
		{"::1", true, nil, false},
		{"[127.0.0.1]", true, nil, false},
		{"[::1%25lo]", true, nil, false},
		{"[0:0::1]", true, nil, true},
		{"Example.ORG:443", false, []string{"example.org"}, true},
		{"other.org", false, []string{"example.org"}, false},
		{"localhost", true, []string{"example.org"}, false},
		{"[::1]:1", false, []string{"[::1]"}, true},
		{"[::1]:1", false, []string{"::1"}, true},
		{":80", false, []string{""}, false},
	} {
		r := &request{host: []byte(tc.host), loopback: tc.loopback}
		ref := checkHost(&Config{Hosts: tc.hosts}, r)
		if (ref == nil) != tc.ok || ref != nil && ref.status != http.StatusForbidden {
			t.Errorf("checkHost(%q, loopback %v, %q) = %v, want ok %v", tc.host, tc.loopback, tc.hosts, ref, tc.ok)
		}
	}
	for _, tc := range []struct {
		addr net.Addr
		ok   bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.2")}, true},
		{&net.TCPAddr{IP: net.IPv6loopback}, true},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, false},
		{(*net.TCPAddr)(nil), false},
		{nil, false},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false},
	} {
		if got := loopbackAddr(tc.addr); got != tc.ok {
			t.Errorf("loopbackAddr(%v) = %v", tc.addr, got)
		}
	}
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
			held = c.out.buf != nil || c.in.buf == nil
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
	if c.out.buf != nil || c.in.buf != nil {
		t.Fatal("buffers kept after the handshake")
	}
	c.Close()
}
