package suite

import (
	"bytes"
	"slices"
	"time"
)

// The closing side of T: closing handshakes we start, failures the peer
// must produce, and the end of the TCP connection.

// SendClose sends a close frame with the given status (0 = no status).
func (t *T) SendClose(code uint16, reason string) {
	var p []byte
	if code != 0 {
		p = ClosePayload(code, reason)
	}
	t.SendCloseRaw(p)
}

// SendCloseRaw sends a close frame with an arbitrary payload.
func (t *T) SendCloseRaw(p []byte) {
	t.Send(Close(p))
	t.closeSent = true
}

// CloseNormal performs a closing handshake started by us with status
// 1000: the peer must answer with a close (1000 or no status) and, if it
// is a server, then close TCP.
func (t *T) CloseNormal() {
	t.SendClose(1000, "")
	t.AwaitClose(1000)
}

// AwaitClose waits for the peer's answer to the close we sent: a close
// frame with one of codes (or without a status); messages or pongs in
// between fail the case, as does a TCP drop without a close frame.
func (t *T) AwaitClose(codes ...int) {
	for {
		ev, ok := t.next(time.Time{})
		if !ok {
			if !t.over {
				t.Fail("peer did not answer our close frame")
			}
			return
		}
		switch ev.Kind {
		case EvClose:
			t.checkCode(ev, codes)
			t.lingerEOF()
			return
		case EvEOF:
			t.Fail("peer dropped TCP without answering our close frame (%v)", ev.Err)
			return
		case EvProto:
			t.Fail("%v", ev.Err)
			return
		case EvMessage:
			if t.echoesAfterClose(ev) {
				t.Fail("peer echoed data we sent after our close frame: %s", ev)
				return
			}
			// RFC 6455 §5.5.1: an endpoint MAY finish sending its current
			// message before answering a close.
			t.NonStrict("peer finished a message (%s) before answering our close frame", ev)
		default:
			t.Fail("peer sent %s after our close frame", ev)
			return
		}
	}
}

// echoesAfterClose reports whether a message carries data we sent after
// our close frame, which the peer must have discarded.
func (t *T) echoesAfterClose(ev Event) bool {
	for _, p := range t.afterClose {
		if bytes.Contains(ev.Data, p) {
			return true
		}
	}
	return false
}

// refusedType reports whether ev is an OnlyType peer's 1003 close for a
// message of the type it does not accept; the case then ends without
// judging further.
func (t *T) refusedType(ev Event) bool {
	if ev.Code != 1003 || !t.sentOther {
		return false
	}
	t.Logf("peer accepts only %s messages and closed with 1003 (unsupported data) on the other type", t.opts.OnlyType)
	t.refused = true
	return true
}

func (t *T) checkCode(ev Event, codes []int) {
	t.lastClose = ev.Code
	if t.refusedType(ev) {
		return
	}
	if ev.Code == 0 || len(codes) == 0 || slices.Contains(codes, ev.Code) {
		t.Logf("peer closed with %s", ev)
		return
	}
	t.Fail("peer closed with code %d, want %v or no status", ev.Code, codes)
}

// answerClose replies to the peer's close (echoing its code) and waits
// for the TCP connection to end.
func (t *T) answerClose(ev Event) {
	if !t.closeSent {
		code := uint16(ev.Code)
		if code != 0 && !ValidCloseCode(int(code)) {
			code = 1002
		}
		t.SendClose(code, "")
	}
	t.lingerEOF()
}

// lingerEOF ends the connection after a closing handshake. A server under
// test should close TCP first (RFC 6455 §7.1.1); when we are the server,
// we close it ourselves.
func (t *T) lingerEOF() {
	if t.mode == ModeClient {
		t.conn.Close()
		return
	}
	until := time.Now().Add(t.opts.LingerServer)
	for {
		ev, ok := t.next(until)
		if !ok {
			if !t.over {
				t.NonStrict("server did not close TCP within %v after the closing handshake (RFC 6455 §7.1.1: the server should close first)", t.opts.LingerServer)
			}
			return
		}
		switch ev.Kind {
		case EvEOF:
			return
		default:
			t.Fail("peer sent %s after the closing handshake", ev)
			return
		}
	}
}

// ExpectFail requires the peer to fail the connection: a close frame with
// one of codes (or no status), or a TCP drop. Any message or pong before
// that fails the case.
func (t *T) ExpectFail(codes ...int) {
	if !t.awaitFail(t.deadline, codes) {
		t.Fail("peer did not fail the connection")
	}
}

// FailsWithin waits up to d for the peer to fail the connection and
// reports whether it did (the fail-fast checks of 6.4.x). A message or
// pong in the meantime fails the case.
func (t *T) FailsWithin(d time.Duration, codes ...int) bool {
	return t.awaitFail(time.Now().Add(d), codes)
}

func (t *T) awaitFail(until time.Time, codes []int) bool {
	if t.over {
		return true
	}
	ev, ok := t.next(until)
	if !ok {
		return t.over
	}
	switch ev.Kind {
	case EvClose:
		t.checkCode(ev, codes)
		t.answerClose(ev)
	case EvEOF:
		t.Logf("peer failed the connection by dropping TCP (%v)", ev.Err)
	case EvProto:
		t.Fail("%v", ev.Err)
	default:
		t.Fail("peer sent %s instead of failing the connection", ev)
	}
	return true
}
