package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// scenario is one exchange with a peer, written once for both roles.
type scenario struct {
	name     string
	run      func(t *testing.T, s *session)
	contract bool // checks a promise of ws's own (library.contract), not run for a reference
}

// echoSizes are the message sizes exchanged with every peer: the edges of
// the 7-bit, 16-bit and 64-bit length encodings, and large messages.
var echoSizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20}

// utf8Texts are text messages with multibyte UTF-8 of every length.
var utf8Texts = []string{
	"é", "€", "𝄞", "héllo, wörld", "日本語のテキスト", "Ελληνικά", "emoji 👩‍💻🎉",
	"\ufeffBOM first", "\U0010ffff last code point", "\ufffd replacement",
	strings.Repeat("€𝄞", 1000),
}

func scenarios() []scenario {
	var list []scenario
	for _, kind := range []string{"text", "binary"} {
		for _, n := range echoSizes {
			text := kind == "text"
			list = append(list, scenario{name: fmt.Sprintf("echo/%s/%d", kind, n), run: func(t *testing.T, s *session) {
				testEcho(t, s, text, payload(text, n))
			}})
		}
	}
	list = append(list,
		scenario{name: "echo/utf8", run: testUTF8},
		scenario{name: "order/1000", run: testOrder},
		scenario{name: "fragments-from-peer", run: testFragments},
		scenario{name: "ping-from-peer", run: testPing},
		scenario{name: "ping-from-peer-during-send", run: testPingDuringSend},
		scenario{name: "close/by-peer/1000", run: func(t *testing.T, s *session) { testPeerCloses(t, s, 1000, "normal closure ✓") }},
		scenario{name: "close/by-peer/4000", run: func(t *testing.T, s *session) { testPeerCloses(t, s, 4000, "peer says bye") }},
		scenario{name: "close/by-peer/4999-longest-reason", run: func(t *testing.T, s *session) {
			testPeerCloses(t, s, 4999, strings.Repeat("€", 41)) // 123 bytes
		}},
		scenario{name: "close/by-peer/no-status", run: func(t *testing.T, s *session) { testPeerCloses(t, s, 0, "") }},
		scenario{name: "close/by-us/1000", run: func(t *testing.T, s *session) { testWeClose(t, s, 1000, "normal closure ✓") }},
		scenario{name: "close/by-us/4000", run: func(t *testing.T, s *session) { testWeClose(t, s, 4000, "we say bye") }},
		scenario{name: "close/by-us/3000-longest-reason", run: func(t *testing.T, s *session) {
			testWeClose(t, s, 3000, strings.Repeat("𝄞", 30)+"abc") // 123 bytes
		}},
		scenario{name: "close/by-us/no-status", run: func(t *testing.T, s *session) { testWeClose(t, s, 0, "") }},
		scenario{name: "close/half-close", run: testHalfClose},
		scenario{name: "stream/to-peer/text", run: func(t *testing.T, s *session) { testStreamTo(t, s, true) }},
		scenario{name: "stream/to-peer/binary", run: func(t *testing.T, s *session) { testStreamTo(t, s, false) }},
		scenario{name: "stream/from-peer/text", run: func(t *testing.T, s *session) { testStreamFrom(t, s, true) }},
		scenario{name: "stream/from-peer/binary", run: func(t *testing.T, s *session) { testStreamFrom(t, s, false) }},
		scenario{name: "invalid-utf8-from-peer", run: testInvalidUTF8, contract: true},
		scenario{name: "recv/too-small-then-continue", run: testTooSmall, contract: true},
		scenario{name: "recv/timeout-then-continue", run: testRecvTimeout, contract: true},
		scenario{name: "parallel/16", run: testParallel},
		scenario{name: "deflate/not-negotiated", run: testDeflateDeclined},
		scenario{name: "subprotocol/chosen", run: func(t *testing.T, s *session) {
			testSubprotocol(t, s, []string{"unknown", "chat"}, "chat")
		}},
		scenario{name: "subprotocol/no-common", run: func(t *testing.T, s *session) {
			testSubprotocol(t, s, []string{"nope"}, "")
		}},
		scenario{name: "subprotocol/none-offered", run: func(t *testing.T, s *session) {
			testSubprotocol(t, s, nil, "")
		}},
	)
	// permessage-deflate goes here once ws has it: the same echo, order,
	// fragments and stream scenarios with connOptions{deflate: true} (a peer
	// client offers the extension; peer servers always run with --deflate,
	// see runPeerSuite), our side configured to compress, and a check that
	// link.open.Extensions is "permessage-deflate". Until then
	// deflate/not-negotiated checks that our side declines it.
	return list
}

func scenarioContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pattern returns n deterministic bytes; the peers compute the same.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + i>>8) % 251)
	}
	return b
}

// textOf returns n bytes of valid UTF-8 made mostly of multibyte characters.
func textOf(n int) []byte {
	const unit = "aé€𝄞" // 1+2+3+4 bytes
	return []byte(strings.Repeat(unit, n/len(unit)) + strings.Repeat("x", n%len(unit)))
}

func payload(text bool, n int) []byte {
	if text {
		return textOf(n)
	}
	return pattern(n)
}

func kindName(text bool) string {
	if text {
		return "text"
	}
	return "binary"
}

// describe shows a payload briefly in failure messages.
func describe(p []byte) string {
	if len(p) <= 40 {
		return fmt.Sprintf("%d bytes %q", len(p), p)
	}
	return fmt.Sprintf("%d bytes %q…%q", len(p), p[:20], p[len(p)-20:])
}

// firstDiff says where got first differs from want.
func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (first difference at byte %d: %#02x, want %#02x)", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf(" (lengths differ: %d, want %d)", len(got), len(want))
	}
	return ""
}

// expectMessage receives one message and checks its type and content.
func expectMessage(t *testing.T, ctx context.Context, l *link, text bool, want []byte) bool {
	t.Helper()
	buf := make([]byte, len(want)+1024)
	n, gotText, err := l.ep.Recv(ctx, buf)
	if err != nil {
		t.Errorf("Recv: want %s message of %s, got error %v", kindName(text), describe(want), err)
		return false
	}
	if gotText != text || !bytes.Equal(buf[:n], want) {
		t.Errorf("Recv: want %s message of %s, got %s message of %s%s",
			kindName(text), describe(want), kindName(gotText), describe(buf[:n]), firstDiff(buf[:n], want))
		return false
	}
	return true
}

// weClose closes from our side with code and reason and checks what the
// peer received.
func weClose(t *testing.T, ctx context.Context, l *link, code int, reason string) {
	t.Helper()
	if err := l.ep.Detach(ctx, code, reason); err != nil {
		t.Errorf("Detach(%d, %q): %v", code, reason, err)
	}
	ev, err := l.peer.wait(ctx, l.id, "closed")
	if err != nil {
		t.Error(err)
		return
	}
	if ev.Code != peerSees(code) || ev.Reason != reason {
		t.Errorf("we closed with %s; the %s peer received %d %q", closeName(code, reason), l.peer.kind, ev.Code, ev.Reason)
	}
}

func testEcho(t *testing.T, s *session, text bool, msg []byte) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	if err := l.ep.Send(ctx, text, msg); err != nil {
		t.Fatalf("Send %s %s: %v", kindName(text), describe(msg), err)
	}
	if !expectMessage(t, ctx, l, text, msg) {
		return
	}
	weClose(t, ctx, l, 1000, "")
}

func testUTF8(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	for _, m := range utf8Texts {
		if err := l.ep.Send(ctx, true, []byte(m)); err != nil {
			t.Fatalf("Send %q: %v", m, err)
		}
		if !expectMessage(t, ctx, l, true, []byte(m)) {
			return
		}
	}
	weClose(t, ctx, l, 1000, "")
}

// orderMessage is message i of the order scenario: text and binary in turn,
// of varying sizes, each starting with its index.
func orderMessage(i int) (bool, []byte) {
	if i%2 == 0 {
		return true, []byte(fmt.Sprintf("%04d:%s", i, textOf(i%300)))
	}
	return false, append([]byte(fmt.Sprintf("%04d:", i)), pattern(i%700)...)
}

// testOrder sends 1000 messages from one goroutine while another receives
// the echoes, which must come back in order.
func testOrder(t *testing.T, s *session) {
	const count = 1000
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	sent := make(chan error, 1)
	go func() {
		for i := range count {
			text, m := orderMessage(i)
			if err := l.ep.Send(ctx, text, m); err != nil {
				sent <- fmt.Errorf("Send message %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	for i := range count {
		text, m := orderMessage(i)
		if !expectMessage(t, ctx, l, text, m) {
			t.Errorf("at message %d of %d", i, count)
			l.ep.Close()
			<-sent
			return
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	weClose(t, ctx, l, 1000, "")
}

// fragmentsExpected are the messages the peers send in fragments in the
// "fragments" scenario (see sendFragments in peer.js and send_fragments in
// peer.py): the peer cuts text inside code points where its library can, and
// sends a ping between two fragments.
func fragmentsExpected() []struct {
	text bool
	data []byte
} {
	return []struct {
		text bool
		data []byte
	}{
		{true, []byte("héllo, wörld — €𝄞 ✓")},
		{false, pattern(300)},
		{true, []byte("abc")},
		{false, pattern(1 << 20)},
		{false, pattern(10000)}, // in 1000 fragments
		{true, []byte("fragments-done")},
	}
}

func testFragments(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "fragments", connOptions{})
	for i, m := range fragmentsExpected() {
		if !expectMessage(t, ctx, l, m.text, m.data) {
			t.Fatalf("at fragmented message %d", i+1)
		}
	}
	weClose(t, ctx, l, 1000, "")
}

// testPing receives while the peer pings: the peer reports every pong it
// got back as a text message.
func testPing(t *testing.T, s *session) {
	ctx := scenarioContext(t)
	l := s.dial(t, "ping", connOptions{})
	for _, n := range []int{0, 5, 125} {
		if !expectMessage(t, ctx, l, true, []byte(fmt.Sprintf("pong-ok:%d", n))) {
			t.Fatalf("the %s peer's ping of %d bytes was not answered by a pong with its payload", l.peer.kind, n)
		}
	}
	weClose(t, ctx, l, 1000, "")
}

// testPeerCloses has the peer start the close handshake with code and
// reason after a message; we check both and answer with the same code.
func testPeerCloses(t *testing.T, s *session, code int, reason string) {
	ctx := scenarioContext(t)
	q := url.Values{"code": {fmt.Sprint(code)}, "reason": {reason}}
	l := s.dial(t, "close", connOptions{query: q})
	if !expectMessage(t, ctx, l, true, []byte("closing")) {
		return
	}
	_, _, err := l.ep.Recv(ctx, make([]byte, 1024))
	pc, ok := asPeerClose(err)
	if !ok {
		t.Fatalf("Recv after the peer's close(%d, %q): want its close, got %v", code, reason, err)
	}
	if pc.code != code || pc.reason != reason {
		t.Errorf("the %s peer closed with %s; we received %d %q", l.peer.kind, closeName(code, reason), pc.code, pc.reason)
	}
	if err := l.ep.Detach(ctx, pc.code, ""); err != nil {
		t.Errorf("Detach(%d, \"\") answering the peer's close: %v", pc.code, err)
	}
	ev, err := l.peer.wait(ctx, l.id, "closed")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Code != peerSees(code) || ev.Reason != "" {
		t.Errorf("we answered the close with %s; the %s peer received %d %q", closeName(code, ""), l.peer.kind, ev.Code, ev.Reason)
	}
}

// peerSees is the close code a peer reports for a close frame with code:
// 1005 ("no status received") for a close frame without a status.
func peerSees(code int) int {
	if code == 0 {
		return 1005
	}
	return code
}

func closeName(code int, reason string) string {
	if code == 0 {
		return "a close frame without a status"
	}
	return fmt.Sprintf("%d %q", code, reason)
}

// testWeClose starts the close handshake from our side after an exchange.
func testWeClose(t *testing.T, s *session, code int, reason string) {
	ctx := scenarioContext(t)
	l := s.dial(t, "echo", connOptions{})
	if err := l.ep.Send(ctx, true, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if !expectMessage(t, ctx, l, true, []byte("hello")) {
		return
	}
	weClose(t, ctx, l, code, reason)
}

// testSubprotocol has the client (ours or the peer's) offer protocols to a
// server that speaks serverProtocols and checks both sides agree on want.
func testSubprotocol(t *testing.T, s *session, offer []string, want string) {
	ctx := scenarioContext(t)
	l, err := s.tryDial(t, "subprotocol", connOptions{protocols: slices.Clone(offer)})
	if s.peerIsClient && s.peer.kind == "node" && len(offer) > 0 && want == "" {
		// Node's ws client fails the connection when the server picks no
		// subprotocol (RFC 6455 4.1 allows it either way).
		if err == nil || !strings.Contains(err.Error(), "Server sent no subprotocol") {
			t.Errorf("node client offered %q, our server speaking %q picked none: want the client to fail with \"Server sent no subprotocol\", got %v", offer, serverProtocols, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ep.Subprotocol(); got != want {
		t.Errorf("client offered %q to a server speaking %q: our side negotiated %q, want %q", offer, serverProtocols, got, want)
	}
	if l.open.Protocol != want {
		t.Errorf("client offered %q to a server speaking %q: the %s peer negotiated %q, want %q", offer, serverProtocols, l.peer.kind, l.open.Protocol, want)
	}
	if !expectMessage(t, ctx, l, true, []byte("proto:"+want)) {
		return
	}
	weClose(t, ctx, l, 1000, "")
}

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
