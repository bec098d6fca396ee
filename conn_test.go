package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

var sizes = []int{0, 1, 125, 126, 127, 65535, 65536, 65537, readBufSize - 1, readBufSize, writeBufSize - maxHeader, writeBufSize, 1 << 20}

// TestRoundTrip_RFC6455_5_6 sends text and binary messages of every length
// class both ways through each API layer over a real socket.
func TestRoundTrip_RFC6455_5_6(t *testing.T) {
	ctx := context.Background()
	cl, sv := wsPair(t, 0)
	if sv.Resource() != "/chat?x=1" || sv.Host() != "localhost" {
		t.Fatalf("resource %q host %q", sv.Resource(), sv.Host())
	}
	buf := make([]byte, 1<<20+10)
	for _, dir := range []struct {
		name     string
		from, to *Conn
	}{{"client-server", cl, sv}, {"server-client", sv, cl}} {
		for _, n := range sizes {
			for _, f := range []Flags{Text, Binary} {
				msg := pattern(n)
				errc := make(chan error, 1)
				go func() { errc <- dir.from.Send(ctx, f, msg) }()
				m, g, err := dir.to.Recv(ctx, buf)
				if err != nil || m != n || g != f || !bytes.Equal(buf[:m], msg) {
					t.Fatalf("%s n=%d %v: got %d %v %v", dir.name, n, f, m, g, err)
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestVectored checks SendV/RecvV and MSendV/MRecvV with buffers of many
// sizes, including empty ones and Skip elements.
func TestVectored(t *testing.T) {
	ctx := context.Background()
	cl, sv := wsPair(t, Text)
	msg := pattern(70000)
	parts := [][]byte{msg[:0], msg[:1], msg[1:3], msg[3:3], msg[3:40000], msg[40000:]}
	// Each send is waited for before the next: a send still returning
	// would make the next one ErrBusy, and its receive wait forever.
	wait := async(t, func() error { return cl.SendV(ctx, Text, parts...) })
	a, b, c := make([]byte, 3), make([]byte, 5), make([]byte, 80000)
	n, f, err := sv.RecvV(ctx, a, nil, b, c)
	if err != nil || n != len(msg) || f != Text {
		t.Fatal(n, f, err)
	}
	wait()
	got := append(append(append([]byte{}, a...), b...), c[:n-8]...)
	if !bytes.Equal(got, msg) {
		t.Fatal("vectored payload differs")
	}
	wait = async(t, func() error { return cl.MSendV(ctx, parts...) })
	n, err = sv.MRecvV(ctx, Skip(10), a, Skip(1000), c)
	if err != nil || n != len(msg) || !bytes.Equal(a, msg[10:13]) || !bytes.Equal(c[:n-1013], msg[1013:]) {
		t.Fatal(n, err)
	}
	wait()
	wait = async(t, func() error { return cl.MSend(ctx, msg) })
	if n, err = sv.MRecvV(ctx, Skip(MaxSkip)); err != nil || n != len(msg) {
		t.Fatal(n, err)
	}
	wait()
	wait = async(t, func() error { return cl.MSend(ctx, msg) })
	n, err = sv.MRecvV(ctx, Skip(100), c)
	if err != nil || n != len(msg) || !bytes.Equal(c[:n-100], msg[100:]) {
		t.Fatal(n, err)
	}
	wait()
	if _, _, err := sv.RecvV(ctx, Skip(-1)); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

// TestFragmentsAppend is libdill defect 1: continuation frames must be
// appended, not written over the start of the buffer; control frames may
// come between fragments (RFC 6455 §5.4).
func TestFragmentsAppend(t *testing.T) {
	c, p := newRaw(t, true, 0)
	p.send(false, opText, []byte("Hel"))
	p.send(false, opCont, nil)
	p.send(true, opPing, []byte("between"))
	p.send(false, opCont, []byte("lo, "))
	p.send(true, opCont, []byte("world"))
	buf := make([]byte, 64)
	n, f, err := c.Recv(context.Background(), buf)
	if err != nil || f != Text || string(buf[:n]) != "Hello, world" {
		t.Fatalf("%q %v %v", buf[:n], f, err)
	}
	h, b := p.read()
	if h.op != opPong || string(b) != "between" {
		t.Fatalf("op %x payload %q", h.op, b)
	}
}

// TestPingAnswered is libdill defect 2: a ping must be answered with a
// pong carrying the same payload (RFC 6455 §5.5.2), pongs accepted
// (§5.5.3), and the connection must stay up.
func TestPingAnswered(t *testing.T) {
	for _, client := range []bool{true, false} {
		c, p := newRaw(t, client, 0)
		p.send(true, opPong, []byte("unsolicited"))
		p.send(true, opPing, nil)
		p.send(true, opPing, bytes.Repeat([]byte{0xfe}, 125))
		p.send(true, opBinary, []byte("after"))
		buf := make([]byte, 16)
		n, _, err := c.Recv(context.Background(), buf)
		if err != nil || string(buf[:n]) != "after" {
			t.Fatal(err)
		}
		if h, b := p.read(); h.op != opPong || len(b) != 0 {
			t.Fatal(h.op, b)
		}
		if h, b := p.read(); h.op != opPong || !bytes.Equal(b, bytes.Repeat([]byte{0xfe}, 125)) {
			t.Fatal(h.op, b)
		}
	}
}

// TestUnmaskAcrossElements is libdill defect 3: unmasking must continue
// the key across receive-list elements and frames (RFC 6455 §5.3).
func TestUnmaskAcrossElements(t *testing.T) {
	c, p := newRaw(t, false, 0)
	msg := pattern(1000)
	p.send(false, opBinary, msg[:333])
	p.send(true, opCont, msg[333:])
	var bufs [][]byte
	for i, k := 0, 1; i < len(msg); i, k = i+k, k+1 {
		bufs = append(bufs, make([]byte, min(k, len(msg)-i)))
	}
	n, _, err := c.RecvV(context.Background(), bufs...)
	if err != nil || n != len(msg) || !bytes.Equal(bytes.Join(bufs, nil), msg) {
		t.Fatal(n, err)
	}
}

// TestDetachMessageInFlight is libdill defect 4: detaching a server while
// a message is arriving completes the closing handshake.
func TestDetachMessageInFlight(t *testing.T) {
	c, p := newRaw(t, false, 0)
	whole := p.frame(true, opBinary, pattern(100000))
	p.write(whole[:5000])
	done := make(chan error, 1)
	var u net.Conn
	go func() {
		var err error
		u, err = c.Detach(context.Background(), StatusGoingAway, "detaching")
		done <- err
	}()
	if code, reason := p.readClose(); code != StatusGoingAway || reason != "detaching" {
		t.Fatal(code, reason)
	}
	p.write(whole[5000:], p.frame(true, opClose, closePayload(1000, "")), []byte("raw bytes"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(u, buf); err != nil || string(buf) != "raw bytes" {
		t.Fatalf("%q %v", buf, err)
	}
	if code, _, _ := c.Status(); code != 1000 {
		t.Fatal(code)
	}
	if _, _, err := c.Recv(context.Background(), buf); !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

// TestMsgSizeKeepsSync is libdill defect 5: after ErrMsgSize the stream
// stays in sync and the next message arrives whole.
func TestMsgSizeKeepsSync(t *testing.T) {
	c, p := newRaw(t, true, 0)
	p.send(false, opText, []byte("too "))
	p.send(true, opCont, []byte("long for the buffer"))
	p.send(true, opText, []byte("fits"))
	buf := make([]byte, 8)
	if _, _, err := c.Recv(context.Background(), buf); !errors.Is(err, ErrMsgSize) {
		t.Fatal(err)
	}
	n, _, err := c.Recv(context.Background(), buf)
	if err != nil || string(buf[:n]) != "fits" {
		t.Fatal(err)
	}
}

// writeCounter counts the writes made to a conn.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
	return w.Conn.Write(b)
}

// TestClientWritesWholeFrames is libdill defect 6: the client masks word
// at a time into its buffer and writes whole frames, never a byte at a
// time, and never modifies the caller's payload.
func TestClientWritesWholeFrames(t *testing.T) {
	a, b := tcpPair(t)
	wc := &writeCounter{Conn: a}
	c, err := AttachClient(context.Background(), wc, NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, c: b, r: newReader(b), client: false}
	for _, n := range []int{1000, 200000} {
		msg := pattern(n)
		orig := append([]byte(nil), msg...)
		wc.mu.Lock()
		wc.writes = 0
		wc.mu.Unlock()
		errc := make(chan error, 1)
		go func() { errc <- c.Send(context.Background(), Binary, msg) }()
		h, got := p.read()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !h.masked || !bytes.Equal(got, orig) {
			t.Fatal("payload garbled")
		}
		wc.mu.Lock()
		writes := wc.writes
		wc.mu.Unlock()
		if max := n/(writeBufSize) + 1; writes > max {
			t.Fatalf("%d-byte message took %d writes, want ≤ %d", n, writes, max)
		}
		if !bytes.Equal(msg, orig) {
			t.Fatal("caller's payload was modified")
		}
	}
}

// TestProtocolViolations_RFC6455_5 feeds each framing violation to both
// sides and expects ErrProto and a close frame with 1002.
func TestProtocolViolations_RFC6455_5(t *testing.T) {
	tests := []struct {
		name   string
		frames func(p *rawPeer) [][]byte
		code   StatusCode
	}{
		{"5.2 RSV1 without extension", func(p *rawPeer) [][]byte { return [][]byte{frame(p.client, true, bitRsv1, opText, []byte("x"))} }, 1002},
		{"5.2 RSV3", func(p *rawPeer) [][]byte { return [][]byte{frame(p.client, true, 0x10, opBinary, nil)} }, 1002},
		{"5.2 reserved data opcode 3", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, 3, nil)} }, 1002},
		{"5.2 reserved control opcode B", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, 0xB, nil)} }, 1002},
		{"5.4 continuation without a start", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opCont, []byte("x"))} }, 1002},
		{"5.4 new message inside a fragmented one", func(p *rawPeer) [][]byte {
			return [][]byte{p.frame(false, opText, []byte("a")), p.frame(true, opText, []byte("b"))}
		}, 1002},
		{"5.5 fragmented ping", func(p *rawPeer) [][]byte { return [][]byte{p.frame(false, opPing, nil)} }, 1002},
		{"5.5 ping of 126 bytes", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opPing, make([]byte, 126))} }, 1002},
		{"5.5.1 close of 1 byte", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, []byte{3})} }, 1002},
		{"5.2 64-bit length with top bit", func(p *rawPeer) [][]byte {
			b := p.frame(true, opBinary, nil)
			b[1] = b[1]&0x80 | 127
			hdr := append(b[:2:2], 0x80, 0, 0, 0, 0, 0, 0, 1)
			return [][]byte{append(hdr, b[2:]...)}
		}, 1002},
		{"8.1 invalid UTF-8", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opText, []byte("a\xc0\xafb"))} }, 1007},
		{"8.1 truncated UTF-8", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opText, []byte("a\xe2\x82"))} }, 1007},
		{"7.4 invalid close code 1005", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, closePayload(1005, ""))} }, 1002},
		{"7.4 invalid close code 2999", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, closePayload(2999, ""))} }, 1002},
		{"7.4 invalid close code 5000", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, closePayload(5000, ""))} }, 1002},
		{"5.5.1 close reason not UTF-8", func(p *rawPeer) [][]byte { return [][]byte{p.frame(true, opClose, closePayload(1000, "\xff"))} }, 1007},
	}
	for _, tt := range tests {
		for _, client := range []bool{true, false} {
			t.Run(tt.name, func(t *testing.T) {
				c, p := newRaw(t, client, 0)
				p.write(tt.frames(p)...)
				_, _, err := c.Recv(withTimeout(t, 10*time.Second), make([]byte, 16))
				errIs(t, err, ErrProto)
				if code, _ := p.readClose(); code != tt.code {
					t.Fatalf("close code %d, want %d", code, tt.code)
				}
				_, _, err = c.Recv(context.Background(), make([]byte, 16))
				errIs(t, err, ErrConnReset)
				errIs(t, c.Send(context.Background(), Binary, nil), ErrPipe)
			})
		}
	}
	// Masking is the one rule that differs by side (§5.1).
	c, p := newRaw(t, false, 0)
	p.write(frame(false, true, 0, opText, []byte("unmasked")))
	_, _, err := c.Recv(context.Background(), make([]byte, 16))
	errIs(t, err, ErrProto)
	c, p = newRaw(t, true, 0)
	p.write(frame(true, true, 0, opText, []byte("masked")))
	_, _, err = c.Recv(context.Background(), make([]byte, 16))
	errIs(t, err, ErrProto)
}

// TestUTF8FailFast_RFC6455_8_1: an invalid byte fails the connection at
// once, before the rest of the frame arrives.
func TestUTF8FailFast_RFC6455_8_1(t *testing.T) {
	c, p := newRaw(t, true, 0)
	f := p.frame(true, opText, append([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"), make([]byte, 1000)...))
	p.write(f[:4+13]) // header, then up to the first invalid byte
	_, _, err := c.Recv(withTimeout(t, 30*time.Second), make([]byte, 2000))
	errIs(t, err, ErrProto)
	if code, _ := p.readClose(); code != StatusInvalidFramePayloadData {
		t.Fatal(code)
	}
}

// TestPeerClose_RFC6455_7_4: each valid code comes back as CloseError and
// from Status, after the messages sent before it.
func TestPeerClose_RFC6455_7_4(t *testing.T) {
	for _, code := range []StatusCode{0, 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		c, p := newRaw(t, false, 0)
		if _, _, err := c.Status(); !errors.Is(err, ErrAgain) {
			t.Fatal(err)
		}
		p.send(true, opText, []byte("last"))
		pl := []byte(nil)
		if code != 0 {
			pl = closePayload(code, "reason ✓")
		}
		p.send(true, opClose, pl)
		buf := make([]byte, 8)
		if n, _, err := c.Recv(context.Background(), buf); err != nil || string(buf[:n]) != "last" {
			t.Fatal(err)
		}
		_, _, err := c.Recv(context.Background(), buf)
		var ce CloseError
		if !errors.As(err, &ce) || !errors.Is(err, ErrPipe) || ce.Code != code {
			t.Fatalf("code %d: %v", code, err)
		}
		got, reason, err := c.Status()
		if err != nil || got != code || (code != 0 && reason != "reason ✓") {
			t.Fatal(got, reason, err)
		}
		if _, _, err := c.Recv(context.Background(), buf); !errors.As(err, &ce) {
			t.Fatal("the peer's close is not sticky", err)
		}
		// Answering is one call.
		u, err := c.Detach(context.Background(), ce.Code, "")
		if err != nil {
			t.Fatal(err)
		}
		if back, _ := p.readClose(); back != code {
			t.Fatal(back)
		}
		u.Close()
	}
}

// TestDone_RFC6455_5_5_1 checks the half-close: our close goes out once,
// later sends fail with ErrPipe, receiving goes on until the peer closes.
func TestDone_RFC6455_5_5_1(t *testing.T) {
	ctx := context.Background()
	c, p := newRaw(t, true, 0)
	for _, bad := range []struct {
		code   StatusCode
		reason string
	}{{999, ""}, {1004, ""}, {1005, ""}, {1006, ""}, {1015, ""}, {1016, ""}, {2999, ""}, {5000, ""}, {0, "reason without code"}, {1000, string(make([]byte, 124))}, {1000, "\xff"}} {
		errIs(t, c.Done(ctx, bad.code, bad.reason), ErrInvalid)
	}
	if err := c.Done(ctx, 4000, string(bytes.Repeat([]byte("r"), 123))); err != nil {
		t.Fatal(err)
	}
	if code, reason := p.readClose(); code != 4000 || len(reason) != 123 {
		t.Fatal(code)
	}
	errIs(t, c.Done(ctx, 1000, ""), ErrPipe)
	errIs(t, c.Send(ctx, Text, []byte("x")), ErrPipe)
	p.send(true, opText, []byte("still"))
	p.send(true, opClose, nil)
	buf := make([]byte, 8)
	if n, _, err := c.Recv(ctx, buf); err != nil || string(buf[:n]) != "still" {
		t.Fatal(err)
	}
	_, _, err := c.Recv(ctx, buf)
	errIs(t, err, ErrPipe)
	u, err := c.Detach(ctx, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

// TestCloseNeverBlocks: Close interrupts calls in progress.
func TestCloseNeverBlocks(t *testing.T) {
	c, _ := newRaw(t, true, 0)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Recv(context.Background(), make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	errIs(t, <-errc, net.ErrClosed)
	errIs(t, c.Close(), net.ErrClosed)
	errIs(t, c.Send(context.Background(), 0, nil), net.ErrClosed)
}

// TestBusy: a second goroutine on the same direction gets ErrBusy at once.
func TestBusy(t *testing.T) {
	ctx := context.Background()
	c, p := newRaw(t, true, 0)
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		close(started)
		_, _, err := c.Recv(ctx, make([]byte, 8))
		errc <- err
	}()
	<-started
	var err error
	for i := 0; i < 1000; i++ {
		// A probe that wins the race times out harmlessly and retries.
		if _, _, err = c.Recv(withTimeout(t, 5*time.Millisecond), make([]byte, 8)); errors.Is(err, ErrBusy) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	errIs(t, err, ErrBusy)
	w, err := c.Writer(ctx, Text)
	if err != nil {
		t.Fatal(err)
	}
	errIs(t, c.Send(ctx, Text, nil), ErrBusy)
	errIs(t, c.Done(ctx, 1000, ""), ErrBusy)
	w.Write([]byte("streamed"))
	w.Close()
	if h, b := p.read(); h.op != opText || string(b) != "streamed" {
		t.Fatal(h.op, string(b))
	}
	p.send(true, opText, []byte("go"))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRecvTimeoutKeepsConnUsable: a receive that times out before any
// byte of a message reached the caller leaves the connection usable, even
// with part of a header buffered; in the middle of a message it breaks the
// receive side.
func TestRecvTimeoutKeepsConnUsable(t *testing.T) {
	c, p := newRaw(t, true, 0)
	buf := make([]byte, 64)
	short := func() context.Context { return withTimeout(t, 30*time.Millisecond) }
	_, _, err := c.Recv(short(), buf)
	errIs(t, err, ErrTimedOut)
	errIs(t, err, context.DeadlineExceeded)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatal("not a timeout net.Error")
	}
	f := p.frame(true, opText, []byte("hello"))
	p.write(f[:1])
	_, _, err = c.Recv(short(), buf)
	errIs(t, err, ErrTimedOut)
	p.write(f[1:2])
	_, _, err = c.Recv(short(), buf) // a whole header, no payload
	errIs(t, err, ErrTimedOut)
	p.write(f[2:])
	n, _, err := c.Recv(context.Background(), buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatal(err)
	}
	// First fragment delivered, then nothing: the receive side breaks.
	p.send(false, opText, []byte("part"))
	_, _, err = c.Recv(short(), buf)
	errIs(t, err, ErrTimedOut)
	_, _, err = c.Recv(context.Background(), buf)
	errIs(t, err, ErrConnReset)
}

// TestExpiredContext: a done context returns at once and consumes nothing.
func TestExpiredContext(t *testing.T) {
	c, p := newRaw(t, true, 0)
	p.send(true, opText, []byte("kept"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Recv(ctx, make([]byte, 8))
	errIs(t, err, ErrCanceled)
	errIs(t, err, context.Canceled)
	errIs(t, c.Send(ctx, 0, nil), ErrCanceled)
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, _, err = c.Recv(expired, make([]byte, 8))
	errIs(t, err, ErrTimedOut)
	buf := make([]byte, 8)
	if n, _, err := c.Recv(context.Background(), buf); err != nil || string(buf[:n]) != "kept" {
		t.Fatal(err)
	}
}

// TestCancel: canceling a blocked receive returns ErrCanceled and leaves
// the connection usable; the conn is not closed.
func TestCancel(t *testing.T) {
	c, p := newRaw(t, true, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Recv(ctx, make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	errIs(t, <-errc, ErrCanceled)
	p.send(true, opText, []byte("after"))
	buf := make([]byte, 8)
	if n, _, err := c.Recv(context.Background(), buf); err != nil || string(buf[:n]) != "after" {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), Text, []byte("ok")); err != nil {
		t.Fatal(err)
	}
}

// TestNoHTTP: both sides skip the handshake and still talk (libdill's
// WS_NOHTTP).
func TestNoHTTP(t *testing.T) {
	cl, sv := wsPair(t, NoHTTP|Text)
	defer async(t, func() error { return cl.MSend(context.Background(), []byte("no http")) })()
	buf := make([]byte, 16)
	n, err := sv.MRecv(context.Background(), buf)
	if err != nil || string(buf[:n]) != "no http" || sv.Resource() != "" {
		t.Fatal(err)
	}
}

// TestAttachInvalid: a nil Storage is ErrInvalid and u is closed.
func TestAttachInvalid(t *testing.T) {
	a, _ := tcpPair(t)
	_, err := AttachClientMem(context.Background(), a, 0, "/", "h", nil)
	errIs(t, err, ErrInvalid)
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("u not closed")
	}
	b, _ := tcpPair(t)
	_, err = AttachServerMem(context.Background(), b, 0, nil)
	errIs(t, err, ErrInvalid)
	d, _ := tcpPair(t)
	_, err = AttachClient(context.Background(), d, 0, "/ bad", "h")
	errIs(t, err, ErrInvalid)
}

// TestMRecvTypeMismatch: a message of the other type fails MRecv with
// ErrProto and stays queued for Recv.
func TestMRecvTypeMismatch(t *testing.T) {
	c, p := newRaw(t, true, Binary)
	p.send(true, opText, []byte("text"))
	buf := make([]byte, 8)
	_, err := c.MRecv(context.Background(), buf)
	errIs(t, err, ErrProto)
	n, f, err := c.Recv(context.Background(), buf)
	if err != nil || f != Text || string(buf[:n]) != "text" {
		t.Fatal(err)
	}
}

// TestStreaming: Reader and Writer carry a message in parts; Writer
// fragments it; a message over MaxMessageSize fails with 1009.
func TestStreaming(t *testing.T) {
	ctx := context.Background()
	cl, sv := wsPair(t, 0)
	msg := pattern(100000)
	wait := async(t, func() error {
		w, err := cl.Writer(ctx, Text)
		if err != nil {
			return err
		}
		for i := 0; i < len(msg); i += 7000 {
			w.Write(msg[i:min(i+7000, len(msg))])
		}
		return w.Close()
	})
	f, r, err := sv.Reader(ctx)
	if err != nil || f != Text {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatal(len(got), err)
	}
	// The writer must be done before the next send: one still closing
	// would make it ErrBusy, and the receive below wait for ever.
	wait()
	// An unfinished message is dropped by the next call.
	wait = async(t, func() error {
		if err := cl.Send(ctx, Binary, msg); err != nil {
			return err
		}
		return cl.Send(ctx, Binary, []byte("next"))
	})
	defer wait()
	_, r, _ = sv.Reader(ctx)
	r.Read(make([]byte, 10))
	buf := make([]byte, 8)
	if n, _, err := sv.Recv(ctx, buf); err != nil || string(buf[:n]) != "next" {
		t.Fatal(err)
	}
	if _, err := r.Read(buf); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}

	a, b := tcpPair(t)
	small, err := (&Config{MaxMessageSize: 1000}).AttachServer(ctx, a, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, c: b, r: newReader(b), client: true}
	p.send(false, opBinary, make([]byte, 600))
	p.send(true, opCont, make([]byte, 401))
	_, r, err = small.Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r) // the second frame's header is over the limit
	errIs(t, err, ErrMsgSize)
	if code, _ := p.readClose(); code != StatusMessageTooBig {
		t.Fatal(code)
	}
}

// TestDetachReadAhead: bytes after the peer's close come back with the conn.
func TestDetachReadAhead(t *testing.T) {
	c, p := newRaw(t, true, 0)
	p.write(append(p.frame(true, opClose, closePayload(4000, "bye")), "after"...))
	_, _, err := c.Recv(context.Background(), nil)
	var ce CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "bye" {
		t.Fatal(err)
	}
	u, err := c.Detach(context.Background(), ce.Code, ce.Reason)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := p.readClose(); code != 4000 || reason != "bye" {
		t.Fatal(code, reason)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(u, buf); err != nil || string(buf) != "after" {
		t.Fatal(err)
	}
	// The conn is ours again: plain bytes go both ways.
	p.write([]byte("plain"))
	if _, err := io.ReadFull(u, buf); err != nil || string(buf) != "plain" {
		t.Fatal(err)
	}
}

// TestDeclaredLengthOverLimit: a frame declaring more than the receive
// could take or discard fails at its header with 1009, without waiting for
// the payload (the limit is enforced before the payload is read).
func TestDeclaredLengthOverLimit(t *testing.T) {
	for _, stream := range []bool{false, true} {
		c, p := newRaw(t, false, 0)
		hdr := frame(true, true, 0, opBinary, nil)
		hdr[1] = 0x80 | 127
		big := []byte{hdr[0], hdr[1], 0x40, 0, 0, 0, 0, 0, 0, 0} // 2^62
		p.write(append(big, hdr[2:6]...))
		var err error
		if stream {
			_, _, err = c.Reader(withTimeout(t, 20*time.Second))
		} else {
			_, _, err = c.Recv(withTimeout(t, 20*time.Second), make([]byte, 1<<20))
		}
		errIs(t, err, ErrMsgSize)
		if code, _ := p.readClose(); code != StatusMessageTooBig {
			t.Fatal(code)
		}
	}
	// A message within the caller's buffer is taken even above the limit.
	a, b := tcpPair(t)
	c, _ := (&Config{MaxMessageSize: 100}).AttachServer(context.Background(), a, NoHTTP)
	p := &rawPeer{t: t, c: b, r: newReader(b), client: true}
	p.send(true, opBinary, pattern(1000))
	if n, _, err := c.Recv(context.Background(), make([]byte, 1000)); err != nil || n != 1000 {
		t.Fatal(n, err)
	}
}
