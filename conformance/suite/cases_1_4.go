package suite

import (
	"bytes"
	"fmt"
)

// Sections 1–4: framing, pings and pongs, reserved bits, opcodes.

// echoThenClose expects the wanted events and then closes normally.
func echoThenClose(t *T, want ...Want) {
	if t.Expect(want...) {
		t.CloseNormal()
	}
}

// fill returns n bytes repeating pattern.
func fill(pattern string, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	return bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n]
}

var hello = []byte("Hello, world!")

func init() {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	for i, n := range sizes {
		n := n
		Register(&Case{
			ID:     fmt.Sprintf("1.1.%d", i+1),
			Desc:   fmt.Sprintf("Send a text message with a payload of %d bytes.", n),
			Expect: "The message is echoed back.",
			Run: func(t *T) {
				p := fill("*", n)
				t.Send(Text(p))
				echoThenClose(t, WantText(p))
			},
		}, &Case{
			ID:     fmt.Sprintf("1.2.%d", i+1),
			Desc:   fmt.Sprintf("Send a binary message with a payload of %d bytes.", n),
			Expect: "The message is echoed back.",
			Run: func(t *T) {
				p := fill("\xfe", n)
				t.Send(Binary(p))
				echoThenClose(t, WantBinary(p))
			},
		})
	}
	Register(&Case{
		ID:     "1.1.8",
		Desc:   "Send a text message of 65536 bytes, written in chops of 997 bytes.",
		Expect: "The message is echoed back.",
		Run: func(t *T) {
			p := fill("*", 65536)
			t.SendChopped(997, Text(p))
			echoThenClose(t, WantText(p))
		},
	}, &Case{
		ID:     "1.2.8",
		Desc:   "Send a binary message of 65536 bytes, written in chops of 997 bytes.",
		Expect: "The message is echoed back.",
		Run: func(t *T) {
			p := fill("\xfe", 65536)
			t.SendChopped(997, Binary(p))
			echoThenClose(t, WantBinary(p))
		},
	})
	registerSection2()
	registerSection3()
	registerSection4()
}

func registerSection2() {
	pings := []struct {
		desc    string
		payload []byte
		chop    int
	}{
		{"a ping without payload", []byte{}, 0},
		{"a ping with a small text payload", hello, 0},
		{"a ping with a small binary payload", []byte("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), 0},
		{"a ping with a 125-byte binary payload", fill("\xfe", 125), 0},
	}
	for i, p := range pings {
		p := p
		Register(&Case{
			ID:     fmt.Sprintf("2.%d", i+1),
			Desc:   "Send " + p.desc + ".",
			Expect: "A pong with the same payload.",
			Run: func(t *T) {
				t.Send(Ping(p.payload))
				echoThenClose(t, WantPong(p.payload))
			},
		})
	}
	Register(&Case{
		ID:     "2.5",
		Desc:   "Send a ping with a 126-byte binary payload (control frames carry at most 125).",
		Expect: "The connection is failed (close 1002 or TCP drop); no pong.",
		Run: func(t *T) {
			t.Send(Ping(fill("\xfe", 126)))
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "2.6",
		Desc:   "Send a ping with a 125-byte binary payload, written one byte at a time.",
		Expect: "A pong with the same payload.",
		Run: func(t *T) {
			p := fill("\xfe", 125)
			t.SendChopped(1, Ping(p))
			echoThenClose(t, WantPong(p))
		},
	}, &Case{
		ID:     "2.7",
		Desc:   "Send an unsolicited pong without payload.",
		Expect: "Nothing: the pong is ignored.",
		Run: func(t *T) {
			t.Send(Pong(nil))
			if t.Barrier() {
				t.CloseNormal()
			}
		},
	}, &Case{
		ID:     "2.8",
		Desc:   "Send an unsolicited pong with payload.",
		Expect: "Nothing: the pong is ignored.",
		Run: func(t *T) {
			t.Send(Pong([]byte("unsolicited pong payload")))
			if t.Barrier() {
				t.CloseNormal()
			}
		},
	}, &Case{
		ID:     "2.9",
		Desc:   "Send an unsolicited pong with payload, then a ping with payload.",
		Expect: "A pong for the ping only.",
		Run: func(t *T) {
			t.Send(Pong([]byte("unsolicited pong payload")), Ping([]byte("ping payload")))
			echoThenClose(t, WantPong([]byte("ping payload")))
		},
	}, &Case{
		ID:     "2.10",
		Desc:   "Send 10 pings with distinct payloads in one write.",
		Expect: "Pongs for all pings in order (OK); pongs for some ending with the last ping are allowed by RFC 6455 §5.5.3 (NON-STRICT).",
		Run:    func(t *T) { tenPings(t, 0) },
	}, &Case{
		ID:     "2.11",
		Desc:   "Send 10 pings with distinct payloads, written one byte at a time.",
		Expect: "Pongs for all pings in order (OK); pongs for some ending with the last ping (NON-STRICT).",
		Run:    func(t *T) { tenPings(t, 1) },
	})
}

// tenPings sends 10 pings and judges the pongs.
func tenPings(t *T, chop int) {
	var fs []Frame
	var want [][]byte
	for i := 0; i < 10; i++ {
		p := []byte(fmt.Sprintf("payload-%d", i))
		want = append(want, p)
		fs = append(fs, Ping(p))
	}
	t.SendChopped(chop, fs...)
	next := 0
	for {
		ev, ok := t.next(t.deadline)
		if !ok {
			t.Fail("timed out after %d of 10 pongs", next)
			return
		}
		if ev.Kind != EvPong {
			t.Fail("got %s while waiting for pongs", ev)
			if ev.Kind == EvClose {
				t.answerClose(ev)
			}
			return
		}
		i := -1
		for j, w := range want {
			if bytes.Equal(w, ev.Data) {
				i = j
			}
		}
		if i < next {
			t.Fail("unexpected or out-of-order pong %s", preview(ev.Data))
			return
		}
		if i > next {
			t.NonStrict("pongs for pings %d..%d were skipped (allowed by RFC 6455 §5.5.3)", next, i-1)
		}
		next = i + 1
		if next == 10 {
			t.CloseNormal()
			return
		}
	}
}

func registerSection3() {
	Register(&Case{
		ID:     "3.1",
		Desc:   "Send a small text message with RSV = 1.",
		Expect: "The connection is failed (close 1002 or TCP drop).",
		Run: func(t *T) {
			t.Send(Text(hello).WithRsv(1))
			t.ExpectFail(1002)
		},
	})
	rsvAfterEcho := []struct {
		rsv  byte
		send func(t *T, fs ...Frame)
		how  string
	}{
		{2, (*T).Send, "in one write"},
		{3, (*T).SendSync, "one write per frame"},
		{4, func(t *T, fs ...Frame) { t.SendChopped(1, fs...) }, "one byte at a time"},
	}
	for i, r := range rsvAfterEcho {
		r := r
		Register(&Case{
			ID:     fmt.Sprintf("3.%d", i+2),
			Desc:   fmt.Sprintf("Send a small text message, then one with RSV = %d, then a ping, %s.", r.rsv, r.how),
			Expect: "The first message is echoed, then the connection is failed; no pong.",
			Run: func(t *T) {
				r.send(t, Text(hello), Text(hello).WithRsv(r.rsv), Ping(hello))
				if t.Expect(WantText(hello)) {
					t.ExpectFail(1002)
				}
			},
		})
	}
	Register(&Case{
		ID:     "3.5",
		Desc:   "Send a small binary message with RSV = 5.",
		Expect: "The connection is failed.",
		Run: func(t *T) {
			t.Send(Binary([]byte("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")).WithRsv(5))
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "3.6",
		Desc:   "Send a ping with payload and RSV = 6.",
		Expect: "The connection is failed; no pong.",
		Run: func(t *T) {
			t.Send(Ping(hello).WithRsv(6))
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "3.7",
		Desc:   "Send a close frame (1000) with RSV = 7.",
		Expect: "The connection is failed (close 1002 or TCP drop).",
		Run: func(t *T) {
			t.Send(Close(ClosePayload(1000, "")).WithRsv(7))
			t.ExpectFail(1002)
		},
	})
}

func registerSection4() {
	for gi, base := range []byte{3, 11} {
		kind := "non-control"
		if base == 11 {
			kind = "control"
		}
		g := gi + 1
		op := base
		Register(&Case{
			ID:     fmt.Sprintf("4.%d.1", g),
			Desc:   fmt.Sprintf("Send a frame with reserved %s opcode %d.", kind, op),
			Expect: "The connection is failed.",
			Run: func(t *T) {
				t.Send(Frame{Fin: true, Op: op})
				t.ExpectFail(1002)
			},
		}, &Case{
			ID:     fmt.Sprintf("4.%d.2", g),
			Desc:   fmt.Sprintf("Send a frame with reserved %s opcode %d and a payload.", kind, op+1),
			Expect: "The connection is failed.",
			Run: func(t *T) {
				t.Send(Frame{Fin: true, Op: op + 1, Payload: []byte("reserved opcode payload")})
				t.ExpectFail(1002)
			},
		})
		after := []struct {
			payload []byte
			send    func(t *T, fs ...Frame)
			how     string
		}{
			{nil, (*T).Send, ""},
			{[]byte("reserved opcode payload"), (*T).Send, " with a payload"},
			{[]byte("reserved opcode payload"), func(t *T, fs ...Frame) { t.SendChopped(1, fs...) }, " with a payload, one byte at a time"},
		}
		for i, a := range after {
			a := a
			o := op + 2 + byte(i)
			Register(&Case{
				ID:     fmt.Sprintf("4.%d.%d", g, i+3),
				Desc:   fmt.Sprintf("Send a small text message, then a frame with reserved %s opcode %d%s, then a ping.", kind, o, a.how),
				Expect: "The text message is echoed, then the connection is failed; no pong.",
				Run: func(t *T) {
					a.send(t, Text(hello), Frame{Fin: true, Op: o, Payload: a.payload}, Ping(hello))
					if t.Expect(WantText(hello)) {
						t.ExpectFail(1002)
					}
				},
			})
		}
	}
}
