package interop

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
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
	// permessage-deflate with the extension negotiated is in
	// deflate_test.go; deflate/not-negotiated checks that our side,
	// not configured to compress, declines it.
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
	echoInOrder(t, ctx, l, count, orderMessage)
}

// echoInOrder sends count messages msg(0), msg(1), … from one goroutine
// while this one checks that their echoes come back in order, then closes.
func echoInOrder(t *testing.T, ctx context.Context, l *link, count int, msg func(int) (bool, []byte)) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		for i := range count {
			text, m := msg(i)
			if err := l.ep.Send(ctx, text, m); err != nil {
				sent <- fmt.Errorf("Send message %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	for i := range count {
		text, m := msg(i)
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
