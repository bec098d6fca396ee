package interop

// Scenarios beyond plain exchanges: half-close, streaming, invalid input,
// parallel connections, extensions, and ws's own contract (ErrMsgSize and
// Recv deadlines leaving the connection usable).

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// testHalfClose sends messages, then our close frame (Done), and keeps
// receiving: the echoes the peer sent before its close must arrive in
// order, then its close with our code.
func testHalfClose(t *testing.T, s *session) {
	const count = 20
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	for i := range count {
		text, m := orderMessage(i)
		if err := l.ep.Send(ctx, text, m); err != nil {
			t.Fatalf("Send message %d: %v", i, err)
		}
	}
	if err := l.ep.Done(ctx, 4000, "half-closed"); err != nil {
		t.Fatalf("Done(4000, \"half-closed\") after %d messages: %v", count, err)
	}
	buf := make([]byte, 4096)
	got := 0
	for {
		n, text, err := l.ep.Recv(ctx, buf)
		if pc, ok := asPeerClose(err); ok {
			if pc.code != 4000 {
				t.Errorf("after our Done(4000, ...): the %s peer answered %d %q, want 4000", l.peer.kind, pc.code, pc.reason)
			}
			break
		}
		if err != nil {
			t.Fatalf("Recv after Done, %d echoes in: %v", got, err)
		}
		wantText, want := orderMessage(got)
		if got >= count || text != wantText || !bytes.Equal(buf[:n], want) {
			t.Fatalf("Recv after Done: echo %d is %s %s, want %s %s", got, kindName(text), describe(buf[:n]), kindName(wantText), describe(want))
		}
		got++
	}
	// Node's ws echoes every message it read before our close; Python's
	// websockets answers the close as soon as it reads it, so it may drop
	// the echoes still queued: a prefix is fine.
	t.Logf("%d of %d echoes arrived before the %s peer's close", got, count, l.peer.kind)
	if err := l.ep.Detach(ctx, 4000, ""); err != nil {
		t.Errorf("Detach after Done and the peer's close: %v", err)
	}
	ev, err := l.peer.wait(ctx, l.id, "closed")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Code != 4000 || ev.Reason != "half-closed" {
		t.Errorf("we half-closed with 4000 \"half-closed\"; the %s peer received %d %q", l.peer.kind, ev.Code, ev.Reason)
	}
}

// streamParts cuts p into parts of uneven sizes, which split UTF-8
// sequences in text.
func streamParts(p []byte) [][]byte {
	sizes := []int{1, 7, 4093, 65537, 3, 100003, 2}
	var parts [][]byte
	for i := 0; len(p) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(p))
		parts = append(parts, p[:n])
		p = p[n:]
	}
	return parts
}

// testStreamTo sends a 1 MiB message through the streaming writer, in
// uneven parts; the peer echoes it whole.
func testStreamTo(t *testing.T, s *session, text bool) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	msg := payload(text, 1<<20)
	if err := l.ep.SendParts(ctx, text, streamParts(msg)); err != nil {
		t.Fatalf("streaming a %s message of %d bytes: %v", kindName(text), len(msg), err)
	}
	if !expectMessage(t, ctx, l, text, msg) {
		return
	}
	weClose(t, ctx, l, 1000, "")
}

// testStreamFrom reads the peer's echo of a 16 MiB message through the
// streaming reader, 7000 bytes at a time.
func testStreamFrom(t *testing.T, s *session, text bool) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	msg := payload(text, 16<<20)
	if err := l.ep.Send(ctx, text, msg); err != nil {
		t.Fatal(err)
	}
	got, gotText, err := l.ep.RecvStream(ctx, 7000)
	if err != nil {
		t.Fatalf("reading the echo of %s %s through the streaming reader: %v (%d bytes read)", kindName(text), describe(msg), err, len(got))
	}
	if gotText != text || !bytes.Equal(got, msg) {
		t.Fatalf("streaming reader: want %s %s, got %s %s%s", kindName(text), describe(msg), kindName(gotText), describe(got), firstDiff(got, msg))
	}
	weClose(t, ctx, l, 1000, "")
}

// readChunks reads r to its end in reads of at most chunk bytes.
func readChunks(r io.Reader, chunk int) ([]byte, error) {
	var out []byte
	buf := make([]byte, chunk)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// testInvalidUTF8 has the peer send a text message that is not UTF-8: our
// side must fail with a protocol error and close with 1007.
func testInvalidUTF8(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "invalid-utf8", connOptions{})
	n, text, err := l.ep.Recv(ctx, make([]byte, 64))
	if !s.lib.contract.isProto(err) {
		t.Errorf("the %s peer sent text \"\\xce\\xbb\\xff\": want a protocol error, got n=%d text=%v err=%v", l.peer.kind, n, text, err)
	}
	// The connection is failed: close it at once, as an application would
	// (the peer waits for the TCP close after the close handshake). The 1007
	// close frame must have been sent by the time Recv returned.
	l.ep.Close()
	ev, err := l.peer.wait(ctx, l.id, "closed")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Code != 1007 {
		t.Errorf("the %s peer sent invalid UTF-8 and received close %d %q, want 1007", l.peer.kind, ev.Code, ev.Reason)
	}
}

// testParallel runs 16 connections at once, each echoing 50 messages.
func testParallel(t *testing.T, s *session) {
	const conns, count = 16, 50
	ctx := scenarioContext(t)
	links := make([]*link, conns)
	for i := range links {
		links[i] = s.dial(t, "echo", connOptions{})
	}
	var wg sync.WaitGroup
	for k, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := range count {
				text, m := orderMessage(i + k)
				if err := l.ep.Send(ctx, text, m); err != nil {
					t.Errorf("connection %d: Send %d: %v", k, i, err)
					return
				}
				n, gotText, err := l.ep.Recv(ctx, buf)
				if err != nil || gotText != text || !bytes.Equal(buf[:n], m) {
					t.Errorf("connection %d, message %d: want %s %s, got %s %s, %v", k, i, kindName(text), describe(m), kindName(gotText), describe(buf[:n]), err)
					return
				}
			}
			if err := l.ep.Detach(ctx, 1000, ""); err != nil {
				t.Errorf("connection %d: Detach: %v", k, err)
			}
		}()
	}
	wg.Wait()
	for k, l := range links {
		if ev, err := l.peer.wait(ctx, l.id, "closed"); err != nil || ev.Code != 1000 {
			t.Errorf("connection %d: the peer's close: %+v, %v", k, ev, err)
		}
	}
}

// testDeflateDeclined: a peer client offers permessage-deflate (a peer
// server accepts it if offered); our side, not configured to compress,
// must not negotiate it, and messages flow uncompressed.
func testDeflateDeclined(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{deflate: true})
	if l.open.Extensions != "" {
		t.Errorf("the %s peer negotiated extensions %q; our side was not configured to compress", l.peer.kind, l.open.Extensions)
	}
	msg := textOf(64 << 10)
	if err := l.ep.Send(ctx, true, msg); err != nil {
		t.Fatal(err)
	}
	if !expectMessage(t, ctx, l, true, msg) {
		return
	}
	weClose(t, ctx, l, 1000, "")
}

// testTooSmall receives the peer's echo of 64 KiB into a 1000-byte buffer:
// ErrMsgSize, the message is discarded and the connection stays usable.
func testTooSmall(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	big := pattern(64 << 10)
	if err := l.ep.Send(ctx, false, big); err != nil {
		t.Fatal(err)
	}
	n, _, err := l.ep.Recv(ctx, make([]byte, 1000))
	if !s.lib.contract.isMsgSize(err) {
		t.Fatalf("Recv of a 65536-byte echo into 1000 bytes: want ErrMsgSize, got n=%d err=%v", n, err)
	}
	if err := l.ep.Send(ctx, true, []byte("next")); err != nil {
		t.Fatalf("Send after ErrMsgSize: %v", err)
	}
	if !expectMessage(t, ctx, l, true, []byte("next")) {
		t.Fatal("the message after the one that did not fit")
	}
	weClose(t, ctx, l, 1000, "")
}

// testRecvTimeout lets a Recv on an idle connection hit its deadline, and
// another be canceled, then goes on: the connection must stay usable.
// (The peer only echoes, so no message can arrive before the deadline.)
func testRecvTimeout(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, err := l.ep.Recv(short, make([]byte, 64))
	cancel()
	if !s.lib.contract.isTimedOut(err) {
		t.Fatalf("Recv on an idle connection with a 50ms deadline: want ErrTimedOut, got %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err = l.ep.Recv(canceled, make([]byte, 64))
	cancel()
	if !s.lib.contract.isCanceled(err) {
		t.Fatalf("Recv on an idle connection, canceled after 50ms: want ErrCanceled, got %v", err)
	}
	for _, m := range []string{"after the deadline", "and again"} {
		if err := l.ep.Send(ctx, true, []byte(m)); err != nil {
			t.Fatalf("Send after the Recv timeouts: %v", err)
		}
		if !expectMessage(t, ctx, l, true, []byte(m)) {
			t.Fatal("after the Recv timeouts")
		}
	}
	weClose(t, ctx, l, 1000, "")
}

// testPingDuringSend sends a 16 MiB message from one goroutine while
// another receives: the peer pings meanwhile, and our pongs have to get
// out around the big message. The peer's pong reports and the echo may
// come in any order.
func testPingDuringSend(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "ping", connOptions{})
	big := pattern(16 << 20)
	sent := make(chan error, 1)
	go func() { sent <- l.ep.Send(ctx, false, big) }()
	want := map[string]bool{"pong-ok:0": true, "pong-ok:5": true, "pong-ok:125": true}
	buf := make([]byte, len(big)+1024)
	for echoed := false; !echoed || len(want) > 0; {
		n, text, err := l.ep.Recv(ctx, buf)
		switch {
		case err != nil:
			t.Fatalf("Recv (reports still missing %v, echo received %v): %v", want, echoed, err)
		case !text && !echoed && bytes.Equal(buf[:n], big):
			echoed = true
		case text && want[string(buf[:n])]:
			delete(want, string(buf[:n]))
		default:
			t.Fatalf("unexpected %s message %s%s", kindName(text), describe(buf[:n]), firstDiff(buf[:n], big))
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("Send of 16 MiB while the peer pinged: %v", err)
	}
	weClose(t, ctx, l, 1000, "")
}
