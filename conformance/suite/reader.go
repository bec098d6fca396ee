package suite

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// EventKind says what the peer did.
type EventKind int

const (
	EvMessage EventKind = iota // a complete data message (fragments reassembled)
	EvPing                     // a ping frame
	EvPong                     // a pong frame
	EvClose                    // a valid close frame
	EvProto                    // the peer broke the protocol; no further events
	EvEOF                      // the TCP stream ended or failed; no further events
)

func (k EventKind) String() string {
	switch k {
	case EvMessage:
		return "message"
	case EvPing:
		return "ping"
	case EvPong:
		return "pong"
	case EvClose:
		return "close"
	case EvProto:
		return "protocol violation"
	case EvEOF:
		return "TCP end"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one thing the peer did.
type Event struct {
	Kind   EventKind
	Text   bool   // EvMessage: text (true) or binary
	Data   []byte // EvMessage, EvPing, EvPong payload; EvClose raw payload
	Code   int    // EvClose: status code, 0 when the frame had none
	Reason string // EvClose: reason
	Frames int    // EvMessage: number of frames the message came in
	Rsv    byte   // EvMessage: RSV bits of the first frame (an extension's flag, e.g. RSV1 = 4 for deflate)
	Err    error  // EvProto, EvEOF
	At     time.Time
}

func (e Event) String() string {
	switch e.Kind {
	case EvMessage:
		typ := "binary"
		if e.Text {
			typ = "text"
		}
		return fmt.Sprintf("%s message of %d bytes (%d frames) %s", typ, len(e.Data), e.Frames, preview(e.Data))
	case EvPing, EvPong:
		return fmt.Sprintf("%s %s", e.Kind, preview(e.Data))
	case EvClose:
		if e.Code == 0 {
			return "close without status"
		}
		return fmt.Sprintf("close %d %q", e.Code, e.Reason)
	}
	return fmt.Sprintf("%s: %v", e.Kind, e.Err)
}

// preview renders at most 16 bytes of p for details.
func preview(p []byte) string {
	if len(p) <= 16 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%q…", p[:16])
}

// maxMessage bounds what the engine will buffer from a peer (the largest
// case is 16 MiB).
const maxMessage = 64 << 20

// eventQueue is an unbounded queue: the reader never blocks on the case,
// so a peer echoing a large message can never deadlock against our writes.
type eventQueue struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{} // receives a token when events are appended
}

func newEventQueue() *eventQueue { return &eventQueue{notify: make(chan struct{}, 1)} }

func (q *eventQueue) push(e Event) {
	e.At = time.Now()
	q.mu.Lock()
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop returns the oldest event, waiting until deadline.
func (q *eventQueue) pop(deadline time.Time) (Event, bool) {
	for {
		q.mu.Lock()
		if len(q.events) > 0 {
			e := q.events[0]
			q.events[0] = Event{}
			q.events = q.events[1:]
			q.mu.Unlock()
			return e, true
		}
		q.mu.Unlock()
		d := time.Until(deadline)
		if d <= 0 {
			return Event{}, false
		}
		timer := time.NewTimer(d)
		select {
		case <-q.notify:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// frameReader turns the peer's bytes into events. expectMasked is true when
// the peer is a client (RFC 6455 §5.1: clients mask, servers must not).
type frameReader struct {
	r            *bufio.Reader
	expectMasked bool
	allowRsv     *atomic.Uint32 // nil: no RSV bits allowed
	q            *eventQueue
	hdr          [14]byte

	msgOp     byte // opcode of the message being reassembled, 0 if none
	msgRsv    byte
	msg       []byte
	msgFrames int
}

// run reads until the stream ends or the peer breaks the protocol.
func (fr *frameReader) run() {
	for {
		ev, stop := fr.next()
		if ev != nil {
			fr.q.push(*ev)
		}
		if stop {
			return
		}
	}
}

func (fr *frameReader) proto(format string, args ...any) (*Event, bool) {
	return &Event{Kind: EvProto, Err: fmt.Errorf(format, args...)}, true
}

// next reads one frame and returns the event it completes, if any.
func (fr *frameReader) next() (*Event, bool) {
	h, err := fr.readHeader()
	if err != nil {
		var pe protoError
		if errors.As(err, &pe) {
			return fr.proto("%v", pe.error)
		}
		return &Event{Kind: EvEOF, Err: err}, true
	}
	if h.Masked != fr.expectMasked {
		if fr.expectMasked {
			return fr.proto("client sent an unmasked frame (RFC 6455 §5.1)")
		}
		return fr.proto("server sent a masked frame (RFC 6455 §5.1)")
	}
	if h.Rsv != 0 {
		allowed := fr.rsvAllowed()
		switch {
		case allowed == 0 || h.Rsv&^allowed != 0:
			return fr.proto("peer set RSV bits %03b without a negotiated extension", h.Rsv)
		case h.Op != OpText && h.Op != OpBinary:
			// RFC 7692 §6: the per-message bit is set on the first
			// frame of a data message only, never on continuation or
			// control frames.
			return fr.proto("peer set RSV bits %03b on an op %#x frame; a negotiated extension allows them only on a message's first frame", h.Rsv, h.Op)
		}
	}
	if h.Length > maxMessage || uint64(len(fr.msg))+h.Length > maxMessage {
		return fr.proto("peer sent a frame of %d bytes, over the engine's %d-byte bound", h.Length, maxMessage)
	}
	if IsControl(h.Op) && (h.Length > 125 || !h.Fin) {
		return fr.proto("peer sent control frame op %#x with fin=%v and %d bytes", h.Op, h.Fin, h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return &Event{Kind: EvEOF, Err: fmt.Errorf("in the payload of an op %#x frame: %w", h.Op, err)}, true
	}
	if h.Masked {
		maskBytes(p, h.Key, 0)
	}
	return fr.dispatch(h, p)
}

func (fr *frameReader) dispatch(h Header, p []byte) (*Event, bool) {
	switch h.Op {
	case OpPing:
		return &Event{Kind: EvPing, Data: p}, false
	case OpPong:
		return &Event{Kind: EvPong, Data: p}, false
	case OpClose:
		code, reason, err := CheckClosePayload(p)
		if err != nil {
			return fr.proto("peer sent an invalid close frame: %v", err)
		}
		return &Event{Kind: EvClose, Data: p, Code: code, Reason: reason}, false
	case OpText, OpBinary:
		if fr.msgOp != 0 {
			return fr.proto("peer started a new message inside a fragmented one")
		}
		fr.msgOp, fr.msgRsv, fr.msg, fr.msgFrames = h.Op, h.Rsv, p, 1
	case OpCont:
		if fr.msgOp == 0 {
			return fr.proto("peer sent a continuation frame with no message to continue")
		}
		fr.msg = append(fr.msg, p...)
		fr.msgFrames++
	default:
		return fr.proto("peer sent reserved opcode %#x", h.Op)
	}
	if !h.Fin {
		return nil, false
	}
	ev := &Event{Kind: EvMessage, Text: fr.msgOp == OpText, Data: fr.msg, Frames: fr.msgFrames, Rsv: fr.msgRsv}
	fr.msgOp, fr.msg, fr.msgFrames = 0, nil, 0
	if ev.Text && ev.Rsv == 0 && !utf8.Valid(ev.Data) {
		return fr.proto("peer sent a text message that is not valid UTF-8 (%d bytes)", len(ev.Data))
	}
	return ev, false
}

func (fr *frameReader) rsvAllowed() byte {
	if fr.allowRsv == nil {
		return 0
	}
	return byte(fr.allowRsv.Load())
}

type protoError struct{ error }

// readHeader reads one frame header.
func (fr *frameReader) readHeader() (Header, error) {
	b := fr.hdr[:0]
	need := 2
	for {
		for len(b) < need {
			c, err := fr.r.ReadByte()
			if err != nil {
				if len(b) > 0 && errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return Header{}, err
			}
			b = append(b, c)
		}
		h, _, err := ParseHeader(b)
		switch {
		case err == nil:
			return h, nil
		case errors.Is(err, errShort):
			need++
		default:
			return h, protoError{err}
		}
	}
}
