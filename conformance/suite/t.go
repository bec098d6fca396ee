package suite

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// T is the state of one running case. Cases drive the peer through it:
// send hand-built frames, then state what the peer must do. Every wait is
// bounded by the case deadline.
type T struct {
	c    *Case
	mode Mode
	opts Options

	conn     net.Conn
	br       *bufio.Reader
	q        *eventQueue
	deadline time.Time

	outcome       Outcome
	informational bool
	details       []string

	started    bool // the frame reader runs
	over       bool // the peer closed, dropped or broke the protocol; no further events
	closeSent  bool // we sent a close frame
	writeErr   error
	peerPings  int
	sentOther  bool     // we sent a message of the type an OnlyType peer refuses
	refused    bool     // an OnlyType peer closed with 1003 on such a message
	closeBuilt bool     // a close frame of ours has been encoded
	afterClose [][]byte // payloads of data frames we sent after our close
	barrierSeq int
	lastClose  int           // code of the peer's last close frame (0: none or no status)
	allowRsv   atomic.Uint32 // RSV bits a negotiated extension lets the peer set
	pmd        *pmdState     // permessage-deflate, once UseDeflate was called

	resource string // the request target of the case

	addr string // ModeServer: the server's host:port

	// ModeServer: the key sent and the server's response (nil for Raw cases until they set it).
	Key  string
	Resp *Response
	// ModeClient: the client's request.
	Req *ClientRequest
}

// Mode says which side is under test.
func (t *T) Mode() Mode { return t.mode }

// Full reports whether this is a full-size run.
func (t *T) Full() bool { return t.opts.Full }

// Settle is the run's "nothing happens" interval.
func (t *T) Settle() time.Duration { return t.opts.Settle }

// Resource is the request target of the case (Raw cases send it in
// ModeServer; in ModeClient the client requested it).
func (t *T) Resource() string { return t.resource }

// Host is the server's host:port as a Host field value (ModeServer).
func (t *T) Host() string { return t.addr }

// Conn is the raw connection (for Raw handshake cases).
func (t *T) Conn() net.Conn { return t.conn }

// Reader is the buffered reader over Conn (for Raw handshake cases).
func (t *T) Reader() *bufio.Reader { return t.br }

// Deadline is the case's time bound.
func (t *T) Deadline() time.Time { return t.deadline }

// Logf records a detail without changing the outcome.
func (t *T) Logf(format string, args ...any) {
	t.details = append(t.details, fmt.Sprintf(format, args...))
}

func (t *T) mark(o Outcome, format string, args ...any) {
	if o.severity() > t.outcome.severity() {
		t.outcome = o
	}
	msg := fmt.Sprintf(format, args...)
	if o != Failed {
		msg = o.String() + ": " + msg
	}
	t.details = append(t.details, msg)
}

// Fail marks the case FAILED.
func (t *T) Fail(format string, args ...any) { t.mark(Failed, format, args...) }

// NonStrict marks the case NON-STRICT (unless something worse happened).
func (t *T) NonStrict(format string, args ...any) { t.mark(NonStrict, format, args...) }

// Unimplemented marks the case UNIMPLEMENTED (an optional feature is missing).
func (t *T) Unimplemented(format string, args ...any) { t.mark(Unimplemented, format, args...) }

// Info makes the case INFORMATIONAL: its behaviour is recorded, not judged.
func (t *T) Info(format string, args ...any) {
	t.informational = true
	t.Logf(format, args...)
}

// Failed reports whether the case has failed so far.
func (t *T) Failed() bool { return t.outcome == Failed }

// Over reports whether the peer has closed, dropped or broken the connection.
func (t *T) Over() bool { return t.over }

// Start launches the frame reader. The engine calls it after a successful
// handshake; Raw cases call it themselves once their handshake succeeded.
func (t *T) Start() {
	if t.started {
		return
	}
	t.started = true
	fr := &frameReader{r: t.br, expectMasked: t.mode == ModeClient, q: t.q, allowRsv: &t.allowRsv}
	go fr.run()
}

// AllowRsv lets the peer set the given RSV bits (4 = RSV1) once an
// extension that defines them was negotiated, before the peer sends such
// frames.
func (t *T) AllowRsv(bits byte) { t.allowRsv.Store(uint32(bits)) }

// Extensions is the Sec-WebSocket-Extensions value the server accepted
// (ModeServer).
func (t *T) Extensions() string {
	if t.Resp == nil {
		return ""
	}
	return t.Resp.Header.Get("Sec-WebSocket-Extensions")
}

// masked reports whether our frames are masked by default: we mask when
// we play the client, i.e. when a server is under test.
func (t *T) masked(f Frame) bool {
	switch {
	case f.ForceMask:
		return true
	case f.NoMask:
		return false
	}
	return t.mode == ModeServer
}

// Build encodes frames the way Send would.
func (t *T) Build(fs ...Frame) []byte {
	n := 0
	for _, f := range fs {
		n += len(f.Payload) + 14
	}
	b := make([]byte, 0, n)
	for _, f := range fs {
		var key [4]byte
		m := t.masked(f)
		if m {
			k := rand.Uint32()
			key = [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		}
		b = AppendFrame(b, f.Fin, f.Rsv, f.Op, m, key, f.Payload)
		switch {
		case f.Op == OpClose:
			t.closeBuilt = true
		case t.closeBuilt && !IsControl(f.Op) && len(f.Payload) > 0:
			t.afterClose = append(t.afterClose, f.Payload)
		}
		t.noteType(f.Op)
	}
	return b
}

// noteType records that a message of type op is being sent, for OnlyType peers.
func (t *T) noteType(op byte) {
	if (op == OpText && t.opts.OnlyType == "binary") || (op == OpBinary && t.opts.OnlyType == "text") {
		t.sentOther = true
	}
}

// Write writes raw bytes in one call.
func (t *T) Write(b []byte) { t.WriteChopped(len(b), b) }

// WriteChopped writes b in writes of at most chop bytes.
func (t *T) WriteChopped(chop int, b []byte) {
	if t.writeErr != nil {
		return
	}
	if chop <= 0 {
		chop = len(b)
	}
	t.conn.SetWriteDeadline(t.deadline)
	for len(b) > 0 {
		n := min(chop, len(b))
		if _, err := t.conn.Write(b[:n]); err != nil {
			t.writeErr = err
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fail("write blocked until the case deadline: the peer stopped reading")
			} else {
				t.Logf("write failed: %v", err)
			}
			return
		}
		b = b[n:]
	}
}

// Send writes the frames in one write.
func (t *T) Send(fs ...Frame) { t.Write(t.Build(fs...)) }

// SendChopped writes the frames' bytes in writes of chop bytes each
// (chop 1 = octet-wise, the peer must cope with any TCP segmentation).
func (t *T) SendChopped(chop int, fs ...Frame) { t.WriteChopped(chop, t.Build(fs...)) }

// SendSync writes each frame with its own write and a short pause in
// between, so that frames arrive as separate segments (Autobahn's "sync").
func (t *T) SendSync(fs ...Frame) {
	for i, f := range fs {
		if i > 0 {
			t.Sleep(2 * time.Millisecond)
		}
		t.Send(f)
	}
}

// Sleep pauses, bounded by the case deadline.
func (t *T) Sleep(d time.Duration) {
	if until := time.Until(t.deadline); d > until {
		d = until
	}
	if d > 0 {
		time.Sleep(d)
	}
}

// next returns the next event other than a peer ping, waiting until the
// earlier of until and the case deadline.
func (t *T) next(until time.Time) (Event, bool) {
	if until.IsZero() || until.After(t.deadline) {
		until = t.deadline
	}
	for {
		if t.over {
			return Event{}, false
		}
		ev, ok := t.q.pop(until)
		if !ok {
			return ev, false
		}
		if ev.Kind == EvMessage && t.pmd != nil {
			t.inflateEvent(&ev)
		}
		switch ev.Kind {
		case EvPing:
			t.peerPings++ // peers under test are echo agents; unsolicited pings are legal and ignored
			continue
		case EvClose, EvProto, EvEOF:
			t.over = ev.Kind != EvClose
		}
		return ev, true
	}
}

// Want is one event a case expects.
type Want struct {
	Kind EventKind // EvMessage or EvPong
	Text bool
	Data []byte
}

// WantText expects a text message with payload p.
func WantText(p []byte) Want { return Want{Kind: EvMessage, Text: true, Data: p} }

// WantBinary expects a binary message with payload p.
func WantBinary(p []byte) Want { return Want{Kind: EvMessage, Data: p} }

// WantPong expects a pong with payload p.
func WantPong(p []byte) Want { return Want{Kind: EvPong, Data: p} }

func (w Want) String() string {
	if w.Kind == EvPong {
		return "pong " + preview(w.Data)
	}
	typ := "binary"
	if w.Text {
		typ = "text"
	}
	return fmt.Sprintf("%s message of %d bytes %s", typ, len(w.Data), preview(w.Data))
}

func (w Want) matches(e Event) bool {
	if w.Kind != e.Kind || (w.Kind == EvMessage && w.Text != e.Text) {
		return false
	}
	return bytes.Equal(w.Data, e.Data)
}

// Expect waits for the wanted messages and pongs. Messages must arrive in
// the wanted order, and pongs in theirs; how the two interleave is not
// judged. Anything else (a close, a drop, a different payload) fails the
// case. It returns whether everything arrived.
func (t *T) Expect(want ...Want) bool {
	var wantMsgs, wantPongs []Want
	for _, w := range want {
		if w.Kind == EvPong {
			wantPongs = append(wantPongs, w)
		} else {
			wantMsgs = append(wantMsgs, w)
		}
	}
	var gotMsgs, gotPongs int
	for gotMsgs < len(wantMsgs) || gotPongs < len(wantPongs) {
		ev, ok := t.next(time.Time{})
		if !ok {
			t.Fail("timed out waiting for %s", t.pending(wantMsgs[gotMsgs:], wantPongs[gotPongs:]))
			return false
		}
		var w Want
		switch {
		case ev.Kind == EvMessage && gotMsgs < len(wantMsgs):
			w = wantMsgs[gotMsgs]
			gotMsgs++
		case ev.Kind == EvPong && gotPongs < len(wantPongs):
			w = wantPongs[gotPongs]
			gotPongs++
		case ev.Kind == EvClose && t.refusedType(ev):
			t.answerClose(ev)
			return false
		case ev.Kind == EvClose:
			t.Fail("peer sent %s while we expected %s", ev, t.pending(wantMsgs[gotMsgs:], wantPongs[gotPongs:]))
			t.answerClose(ev)
			return false
		default:
			t.Fail("got %s while we expected %s", ev, t.pending(wantMsgs[gotMsgs:], wantPongs[gotPongs:]))
			return false
		}
		if !w.matches(ev) {
			t.Fail("got %s, want %s%s", ev, w, diffAt(w.Data, ev.Data))
			return false
		}
	}
	return true
}

func (t *T) pending(msgs, pongs []Want) string {
	var s []string
	for _, w := range slices.Concat(msgs, pongs) {
		s = append(s, w.String())
	}
	return strings.Join(s, ", ")
}

// diffAt describes where two payloads first differ.
func diffAt(want, got []byte) string {
	if len(want) != len(got) {
		return fmt.Sprintf(" (length %d, want %d)", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf(" (first difference at byte %d)", i)
		}
	}
	return ""
}

// Barrier sends a ping with a fresh payload and waits for its pong: any
// message or pong the peer sent before it is unexpected and fails the
// case. It proves the peer ignored what came before, without waiting.
func (t *T) Barrier() bool {
	t.barrierSeq++
	p := []byte(fmt.Sprintf("barrier-%d", t.barrierSeq))
	t.Send(Ping(p))
	return t.Expect(WantPong(p))
}

// result finalises the outcome.
func (t *T) result() (Outcome, string) {
	o := t.outcome
	if t.informational && o != Failed {
		o = Informational
	}
	if o == Unimplemented && t.c.Feature == "" {
		o = Failed
		t.details = append(t.details, "UNIMPLEMENTED on a required feature counts as FAILED")
	}
	if t.peerPings > 0 {
		t.details = append(t.details, fmt.Sprintf("peer sent %d pings", t.peerPings))
	}
	return o, strings.Join(t.details, "; ")
}
