package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// Regression tests for issue 10: a receive returns a whole message exactly
// as sent, or an error. Each test names the defect it guards.

// recvLayers are the receive calls of the API, each returning one whole
// message or an error.
var recvLayers = []struct {
	name string
	recv func(c *Conn, ctx context.Context) ([]byte, error)
}{
	{"Recv", func(c *Conn, ctx context.Context) ([]byte, error) {
		b := make([]byte, 1<<16)
		n, _, err := c.Recv(ctx, b)
		return b[:n], err
	}},
	{"RecvV", func(c *Conn, ctx context.Context) ([]byte, error) {
		a, b := make([]byte, 3), make([]byte, 1<<16)
		n, _, err := c.RecvV(ctx, a, b)
		if n <= 3 {
			return a[:n], err
		}
		return append(a, b[:n-3]...), err
	}},
	{"RecvVSkip", func(c *Conn, ctx context.Context) ([]byte, error) {
		b := make([]byte, 1<<16)
		n, _, err := c.RecvV(ctx, Skip(1), b)
		if n == 0 {
			return nil, err
		}
		return append([]byte{'?'}, b[:n-1]...), err
	}},
	{"MRecv", func(c *Conn, ctx context.Context) ([]byte, error) {
		b := make([]byte, 1<<16)
		n, err := c.MRecv(ctx, b)
		return b[:n], err
	}},
	{"Reader", func(c *Conn, ctx context.Context) ([]byte, error) {
		_, r, err := c.Reader(ctx)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}},
	{"RecvSmall", func(c *Conn, ctx context.Context) ([]byte, error) {
		b := make([]byte, 2) // smaller than the message: discarded
		n, _, err := c.Recv(ctx, b)
		return b[:n], err
	}},
}

// TestCutFrameIsConnReset is defect 1: a connection that ends inside a
// frame or a message is ErrConnReset on every receive layer, client and
// server; never a shorter message, never ErrProto or ErrMsgSize.
func TestCutFrameIsConnReset(t *testing.T) {
	cuts := []struct {
		name string
		wire func(masked bool) []byte
	}{
		{"single frame after 2 payload bytes", func(m bool) []byte {
			return frame(m, true, 0, opText, []byte("whole"))[:2+4*b2i(m)+2]
		}},
		{"inside the header", func(m bool) []byte { return frame(m, true, 0, opText, pattern(300))[:3] }},
		{"last fragment never came", func(m bool) []byte { return frame(m, false, 0, opText, []byte("frag")) }},
		{"ping between fragments, then the end", func(m bool) []byte {
			return append(frame(m, false, 0, opText, []byte("fr")), frame(m, true, 0, opPing, []byte("p"))...)
		}},
		{"inside a multibyte character", func(m bool) []byte {
			return frame(m, true, 0, opText, []byte("κόσμε"))[:2+4*b2i(m)+3]
		}},
		{"large frame read into the buffer directly", func(m bool) []byte {
			return frame(m, true, 0, opText, pattern(40000))[:30000]
		}},
	}
	for _, layer := range recvLayers {
		for _, wsClient := range []bool{false, true} {
			for _, cut := range cuts {
				name := layer.name + "/" + map[bool]string{false: "server", true: "client"}[wsClient] + "/" + cut.name
				t.Run(name, func(t *testing.T) {
					c, p := newRaw(t, wsClient, Text)
					defer c.Close()
					go io.Copy(io.Discard, p.c) // pongs
					p.write(cut.wire(!wsClient))
					p.c.(*net.TCPConn).CloseWrite()
					got, err := layer.recv(c, withTimeout(t, 10*time.Second))
					if !errors.Is(err, ErrConnReset) || errors.Is(err, ErrProto) || errors.Is(err, ErrMsgSize) {
						t.Fatalf("got %d bytes %.20q, %v; want ErrConnReset", len(got), got, err)
					}
				})
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCutAfterWholeMessages: the messages wholly sent before the cut are
// delivered, then ErrConnReset; over TLS too, where a FIN at a record
// boundary reads as a clean io.EOF.
func TestCutAfterWholeMessages(t *testing.T) {
	wire := append(frame(true, true, 0, opBinary, []byte("one")), frame(true, false, 0, opBinary, []byte("tw"))...)
	wire = append(wire, frame(true, true, 0, opCont, []byte("o"))...)
	wire = append(wire, frame(true, true, 0, opBinary, pattern(100))[:50]...)
	c, p := newRaw(t, false, 0)
	defer c.Close()
	p.write(wire)
	p.c.(*net.TCPConn).CloseWrite()
	ctx := withTimeout(t, 10*time.Second)
	for _, want := range []string{"one", "two"} {
		b := make([]byte, 200)
		n, _, err := c.Recv(ctx, b)
		if err != nil || string(b[:n]) != want {
			t.Fatalf("got %q, %v; want %q", b[:n], err, want)
		}
	}
	_, _, err := c.Recv(ctx, make([]byte, 200))
	errIs(t, err, ErrConnReset)
	_, _, err = c.Recv(ctx, make([]byte, 200))
	errIs(t, err, ErrConnReset) // sticky
}

// TestCutCompressedAtFlush is defect 1 for permessage-deflate: a
// compressed message cut at a flush boundary, where the decompressor
// could end cleanly, is ErrConnReset.
func TestCutCompressedAtFlush(t *testing.T) {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, 1)
	w.Write([]byte("the first half "))
	w.Flush() // ends with 00 00 ff ff: a clean place to stop
	part := out.Bytes()
	for _, layer := range recvLayers {
		t.Run(layer.name, func(t *testing.T) {
			a, b := tcpPair(t)
			cfg := &Config{Compression: &CompressionOptions{}}
			c, err := cfg.AttachServer(context.Background(), a, NoHTTP|Text)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			b.Write(frame(true, false, bitRsv1, opText, part))
			b.(*net.TCPConn).CloseWrite()
			got, err := layer.recv(c, withTimeout(t, 10*time.Second))
			if !errors.Is(err, ErrConnReset) {
				t.Fatalf("got %q, %v; want ErrConnReset", got, err)
			}
		})
	}
}

// TestDeflateFinalBlockEndsNoFrame is defect 3: when a compressed frame's
// DEFLATE data ends (a block with BFINAL) before its payload does, the
// rest of the payload is part of that frame, never parsed as frames.
func TestDeflateFinalBlockEndsNoFrame(t *testing.T) {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, 1)
	w.Write([]byte("binary message"))
	w.Close() // a final block
	// Past what the decompressor may read ahead, frames of every kind.
	var smuggled []byte
	for i := 0; i < 2000; i++ {
		smuggled = append(smuggled, frame(true, true, 0, opPing, nil)...)
	}
	smuggled = append(smuggled, frame(true, true, 0, opText, []byte("smuggled text"))...)
	smuggled = append(smuggled, frame(true, true, 0, opClose, closePayload(1000, "smuggled"))...)
	for _, fragmented := range []bool{false, true} {
		a, b := tcpPair(t)
		cfg := &Config{Compression: &CompressionOptions{}}
		c, err := cfg.AttachServer(context.Background(), a, NoHTTP)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, b)
		if fragmented {
			b.Write(frame(true, false, bitRsv1, opBinary, out.Bytes()))
			b.Write(frame(true, true, 0, opCont, smuggled))
		} else {
			b.Write(frame(true, true, bitRsv1, opBinary, append(out.Bytes(), smuggled...)))
		}
		b.Write(frame(true, true, 0, opBinary, []byte("next")))
		buf := make([]byte, 100)
		ctx := withTimeout(t, 10*time.Second)
		n, f, err := c.Recv(ctx, buf)
		if err != nil || f != Binary || string(buf[:n]) != "binary message" {
			t.Fatalf("fragmented=%v: got %q %v %v", fragmented, buf[:n], f, err)
		}
		n, f, err = c.Recv(ctx, buf)
		if err != nil || f != Binary || string(buf[:n]) != "next" {
			t.Fatalf("fragmented=%v: after the compressed frame got %q %v %v; want the next real frame", fragmented, buf[:n], f, err)
		}
		c.Close()
		b.Close()
	}
}

// TestCompressedSendTimeoutKeepsWindow is defect 2: with context
// takeover, a Send that times out waiting for the wire leaves the
// compressor as it was, so later messages decode exactly.
func TestCompressedSendTimeoutKeepsWindow(t *testing.T) {
	cfg := &Config{Compression: &CompressionOptions{Threshold: -1}}
	a, b := tcpPair(t)
	ctx := context.Background()
	var sv *Conn
	wait := async(t, func() (err error) { sv, err = cfg.AttachServer(ctx, b, NoHTTP); return })
	cl, err := cfg.AttachClient(ctx, a, NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	wait()
	defer cl.Close()
	defer sv.Close()
	msg := bytes.Repeat([]byte("compress me, compress me "), 40)
	if err := cl.Send(ctx, Binary, msg); err != nil {
		t.Fatal(err)
	}
	// A control write holds the wire: the send times out before
	// compressing.
	if err := cl.out.lock.lock(ctx); err != nil {
		t.Fatal(err)
	}
	errIs(t, cl.Send(withTimeout(t, 30*time.Millisecond), Binary, []byte("lost message, lost message, lost")), ErrTimedOut)
	cl.unlockWrite(nil)
	for i := 0; i < 3; i++ {
		if err := cl.Send(ctx, Binary, msg); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	for i := 0; i < 4; i++ {
		n, _, err := sv.Recv(withTimeout(t, 10*time.Second), buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("message %d: %d bytes, %v: not what was sent", i, n, err)
		}
	}
}

// faultConn fails its next writes with a timeout before any byte goes
// out, as a write deadline passing on a full socket buffer does.
type faultConn struct {
	net.Conn
	failWrites atomic.Int32
}

func (f *faultConn) Write(p []byte) (int, error) {
	if f.failWrites.Load() > 0 {
		f.failWrites.Add(-1)
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return f.Conn.Write(p)
}

// TestCompressedSendLostBreaks is defect 2, the other way: a compressed
// message that entered the window but never reached the peer breaks the
// send side; it is never reported as leaving the connection usable.
func TestCompressedSendLostBreaks(t *testing.T) {
	cfg := &Config{Compression: &CompressionOptions{Threshold: -1}}
	a, b := tcpPair(t)
	fc := &faultConn{Conn: a}
	cl, err := cfg.AttachClient(context.Background(), fc, NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	go io.Copy(io.Discard, b)
	fc.failWrites.Store(1)
	err = cl.Send(withTimeout(t, 5*time.Second), Binary, []byte("in the window, not on the wire"))
	if err == nil {
		t.Fatal("send reported success")
	}
	err = cl.Send(context.Background(), Binary, []byte("next"))
	errIs(t, err, ErrConnReset)
	if !errors.Is(err, errLostWindow) {
		t.Fatal(err)
	}
	// Without context takeover the window does not outlive the message.
	nt := &Config{Compression: &CompressionOptions{Threshold: -1, ClientNoContextTakeover: true}}
	a2, b2 := tcpPair(t)
	fc2 := &faultConn{Conn: a2}
	cl2, err := nt.AttachClient(context.Background(), fc2, NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	go io.Copy(io.Discard, b2)
	fc2.failWrites.Store(1)
	errIs(t, cl2.Send(withTimeout(t, 5*time.Second), Binary, []byte("lost")), ErrTimedOut)
	if err := cl2.Send(context.Background(), Binary, []byte("next")); err != nil {
		t.Fatal(err)
	}
}

// stuckPair returns a server Conn whose peer neither reads nor writes,
// and a Send on it that is blocked on a full socket buffer, holding the
// frame lock.
func stuckSend(t *testing.T, cfg *Config) (*Conn, net.Conn, chan error) {
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	c, err := cfg.AttachServer(context.Background(), a, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), Binary, make([]byte, 16<<20)) }()
	// Wait until the send holds the wire, or has already returned (a
	// keepalive may fail the connection first); bounded either way.
	start := time.Now()
	for c.out.lock.idle() {
		select {
		case err := <-sent:
			sent <- err
			return c, b, sent
		default:
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the 16 MiB send never took the wire")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // well into the blocked write
	return c, b, sent
}

// bounded fails the test if ch yields nothing within a generous bound:
// the defect is a hang, not a slow answer.
func bounded[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still blocked after 20 s", what)
	}
	panic("unreachable")
}

// TestKeepaliveFailsStuckWrite is defect 4: the keepalive fails the
// connection while a send is blocked on a peer that stopped reading; the
// send and a receive return ErrConnReset.
func TestKeepaliveFailsStuckWrite(t *testing.T) {
	c, _, sent := stuckSend(t, &Config{PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond})
	defer c.Close()
	recvd := make(chan error, 1)
	go func() {
		_, _, err := c.Recv(context.Background(), make([]byte, 10))
		recvd <- err
	}()
	for _, err := range []error{bounded(t, "send", sent), bounded(t, "recv", recvd)} {
		errIs(t, err, ErrConnReset)
		if !errors.Is(err, errKeepalive) {
			t.Fatal(err)
		}
	}
}

// TestRecvCtxWhileSendStuck is defect 4, related: pings arriving while a
// send is stuck are answered later, and the receive keeps to its ctx
// instead of waiting for the wire.
func TestRecvCtxWhileSendStuck(t *testing.T) {
	c, b, sent := stuckSend(t, nil)
	for i := 0; i < 3; i++ {
		b.Write(frame(true, true, 0, opPing, []byte("are you there")))
	}
	recvd := make(chan error, 1)
	go func() {
		_, _, err := c.Recv(withTimeout(t, 300*time.Millisecond), make([]byte, 10))
		recvd <- err
	}()
	errIs(t, bounded(t, "recv", recvd), ErrTimedOut)
	// The connection is still usable for receiving.
	b.Write(frame(true, true, 0, opBinary, []byte("hi")))
	buf := make([]byte, 10)
	n, _, err := c.Recv(withTimeout(t, 10*time.Second), buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatal(n, err)
	}
	c.Close()
	errIs(t, bounded(t, "send", sent), net.ErrClosed)
}

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	mu  sync.Mutex
	set []time.Time
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	d.set = append(d.set, t)
	d.mu.Unlock()
	return d.Conn.SetWriteDeadline(t)
}

// TestSendDeadlineSparesControlWrite is defect 5: a Send whose ctx ends
// while another goroutine writes a control frame never touches the write
// deadline that write runs under, and the send side stays usable.
func TestSendDeadlineSparesControlWrite(t *testing.T) {
	a, b := tcpPair(t)
	dc := &deadlineConn{Conn: a}
	c, err := AttachServer(context.Background(), dc, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, b)
	if err := c.out.lock.lock(context.Background()); err != nil { // a pong being written
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	errIs(t, c.Send(ctx, Binary, []byte("x")), ErrCanceled)
	errIs(t, c.Send(withTimeout(t, 20*time.Millisecond), Binary, []byte("x")), ErrTimedOut)
	dc.mu.Lock()
	n := len(dc.set)
	dc.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d write deadlines set by sends that never held the wire", n)
	}
	c.unlockWrite(nil)
	if err := c.Send(context.Background(), Binary, []byte("usable")); err != nil {
		t.Fatal(err)
	}
}

// TestFailCloseReachesPeer is defect 9: the 1009 close of a message over
// the limit reaches the peer even when a send holds the wire at that
// moment and the application closes at once, with the peer's input
// unread.
func TestFailCloseReachesPeer(t *testing.T) {
	a, b := tcpPair(t)
	cfg := &Config{MaxMessageSize: 1024}
	c, err := cfg.AttachServer(context.Background(), a, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	big := pattern(4 << 20)
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), Binary, big) }()
	for !c.out.busy.Load() {
		time.Sleep(time.Millisecond)
	}
	// The peer sends a message over the limit, and more behind it.
	go func() {
		b.Write(frame(true, true, 0, opBinary, pattern(256<<10)))
	}()
	_, _, err = c.Recv(withTimeout(t, 10*time.Second), make([]byte, 100))
	errIs(t, err, ErrMsgSize)
	c.Close()
	p := &rawPeer{t: t, c: b, r: newReader(b), client: true}
	if h, payload := p.read(); h.op != opBinary || len(payload) != len(big) {
		t.Fatalf("op %x, %d bytes", h.op, len(payload))
	}
	if code, _ := p.readClose(); code != StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	if err := bounded(t, "send", sent); err != nil {
		t.Fatal(err)
	}
}
