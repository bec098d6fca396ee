package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	if code, done := reexecXConnect(); done { // h2main_test.go
		os.Exit(code)
	}
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked returns the stacks of the goroutines other than this one and the
// runtime's and test framework's own.
func leaked() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for i, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if i == 0 || strings.Contains(g, "os/signal.") || strings.Contains(g, "testing.(*F)") ||
			strings.Contains(g, "testing.tRunner") || strings.TrimSpace(g) == "" {
			continue
		}
		out = append(out, g)
	}
	return out
}

// waitGoroutines waits, up to limit, until no goroutine of the tests
// remains, or fails with their stacks.
func waitGoroutines(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		l := leaked()
		if len(l) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("goroutine leak: %d left:\n%s", len(l), strings.Join(l, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tcpPair returns the two ends of a fresh loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// wsPair returns a client and a server attached to both ends of a loopback
// TCP connection, through the HTTP handshake unless flags has NoHTTP.
func wsPair(t testing.TB, flags Flags) (client, server *Conn) {
	t.Helper()
	a, b := tcpPair(t)
	ctx := context.Background()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := AttachServer(ctx, b, flags)
		ch <- res{c, err}
	}()
	client, err := AttachClient(ctx, a, flags, "/chat?x=1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return client, r.c
}

// rawPeer is the far end of a ws Conn, speaking hand-built frames.
type rawPeer struct {
	t      testing.TB
	c      net.Conn
	r      *bufio.Reader
	client bool // masks its frames, expects unmasked ones
}

// newRaw attaches a ws Conn (client or server, NoHTTP) to one end of a TCP
// pair and returns it with a raw peer on the other end.
func newRaw(t testing.TB, wsClient bool, flags Flags) (*Conn, *rawPeer) {
	t.Helper()
	a, b := tcpPair(t)
	var c *Conn
	var err error
	if wsClient {
		c, err = AttachClient(context.Background(), a, flags|NoHTTP, "", "")
	} else {
		c, err = AttachServer(context.Background(), a, flags|NoHTTP)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, &rawPeer{t: t, c: b, r: bufio.NewReader(b), client: !wsClient}
}

// frame builds a frame; a raw client masks it with a fixed key.
func frame(masked bool, fin bool, rsv, op byte, p []byte) []byte {
	var h [maxHeader]byte
	key := uint32(0x9a3c57e1)
	n := putHeader(h[:], fin, rsv, op, len(p), masked, key)
	b := append(h[:n:n], p...)
	if masked {
		mask(b[n:], key, 0)
	}
	return b
}

func (p *rawPeer) frame(fin bool, op byte, payload []byte) []byte {
	return frame(p.client, fin, 0, op, payload)
}

func (p *rawPeer) write(b ...[]byte) {
	p.t.Helper()
	for _, x := range b {
		if _, err := p.c.Write(x); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *rawPeer) send(fin bool, op byte, payload []byte) { p.write(p.frame(fin, op, payload)) }

// read reads one frame, checking its masking, and returns it unmasked.
func (p *rawPeer) read() (h header, payload []byte) {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer p.c.SetReadDeadline(time.Time{})
	var b [maxHeader]byte
	if _, err := io.ReadFull(p.r, b[:2]); err != nil {
		p.t.Fatalf("read frame: %v", err)
	}
	need := 2
	switch b[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if b[1]&0x80 != 0 {
		need += 4
	}
	if _, err := io.ReadFull(p.r, b[2:need]); err != nil {
		p.t.Fatalf("read frame: %v", err)
	}
	h, _, err := parseHeader(b[:need])
	if err != nil {
		p.t.Fatalf("parse frame: %v", err)
	}
	if h.masked == p.client {
		p.t.Fatalf("frame masked=%v sent to a peer with client=%v", h.masked, p.client)
	}
	payload = make([]byte, h.length)
	if _, err := io.ReadFull(p.r, payload); err != nil {
		p.t.Fatalf("read payload: %v", err)
	}
	if h.masked {
		mask(payload, h.key, 0)
	}
	return h, payload
}

// readClose reads frames until a close frame and returns its code.
func (p *rawPeer) readClose() (StatusCode, string) {
	p.t.Helper()
	for {
		h, b := p.read()
		if h.op != opClose {
			continue
		}
		if len(b) < 2 {
			return 0, ""
		}
		return StatusCode(binary.BigEndian.Uint16(b)), string(b[2:])
	}
}

func closePayload(code StatusCode, reason string) []byte {
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}

// errIs fails the test unless err matches want.
func errIs(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// async runs f in a goroutine; the function it returns waits for f and
// fails the test if f failed.
func async(t testing.TB, f func() error) func() {
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	return func() {
		t.Helper()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
