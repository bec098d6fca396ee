package suite

import (
	"fmt"
	"strings"
	"time"
)

// Section 7: close handling.

func init() {
	registerClose1()
	registerClose3()
	Register(&Case{
		ID:     "7.5.1",
		Desc:   "Send a close frame with code 1000 and a reason that is not valid UTF-8.",
		Expect: "The connection is failed (close 1002 or 1007, or a TCP drop).",
		Run: func(t *T) {
			t.SendCloseRaw(append(ClosePayload(1000, ""), kosme+"\xed\xa0\x80edited"...))
			t.ExpectFail(1002, 1007)
		},
	})
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		code := code
		Register(&Case{
			ID:     fmt.Sprintf("7.7.%d", i+1),
			Desc:   fmt.Sprintf("Send a close frame with valid code %d.", code),
			Expect: fmt.Sprintf("A clean close answered with 1000 or %d.", code),
			Run: func(t *T) {
				t.SendClose(code, "")
				t.AwaitClose(1000, int(code))
			},
		})
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		code := code
		Register(&Case{
			ID:     fmt.Sprintf("7.9.%d", i+1),
			Desc:   fmt.Sprintf("Send a close frame with invalid code %d.", code),
			Expect: "The connection is failed: close 1002 or a TCP drop.",
			Run: func(t *T) {
				t.SendCloseRaw(ClosePayload(code, ""))
				t.ExpectFail(1002)
			},
		})
	}
	for i, code := range []uint16{5000, 65535} {
		code := code
		Register(&Case{
			ID:     fmt.Sprintf("7.13.%d", i+1),
			Desc:   fmt.Sprintf("Send a close frame with code %d, outside the ranges RFC 6455 §7.4 defines.", code),
			Expect: "Informational: a close 1002 or a TCP drop is expected; behaviour is recorded.",
			Run: func(t *T) {
				t.SendCloseRaw(ClosePayload(code, ""))
				informational(t)
			},
		})
	}
}

// informational records what the peer does until the connection ends.
func informational(t *T) {
	var seen []string
	for {
		ev, ok := t.next(time.Time{})
		if !ok {
			seen = append(seen, "nothing more before the case deadline")
			break
		}
		seen = append(seen, ev.String())
		if ev.Kind == EvClose {
			t.answerClose(ev)
			break
		}
		if ev.Kind == EvEOF || ev.Kind == EvProto {
			break
		}
	}
	t.Info("peer did: %s", strings.Join(seen, ", "))
}

func registerClose1() {
	msg := []byte("Hello World!")
	Register(&Case{
		ID: "7.1.1", Desc: "Send a text message, then a close frame.", Expect: "The message is echoed, then a clean close.",
		Run: func(t *T) {
			t.Send(Text(msg))
			echoThenClose(t, WantText(msg))
		},
	}, &Case{
		ID: "7.1.2", Desc: "Send two close frames.", Expect: "One clean close; the second close frame is ignored.",
		Run: func(t *T) {
			t.Send(Close(ClosePayload(1000, "")), Close(ClosePayload(1000, "")))
			t.closeSent = true
			t.AwaitClose(1000)
		},
	}, &Case{
		ID: "7.1.3", Desc: "Send a close frame, then a ping.", Expect: "A clean close; no pong.",
		Run: func(t *T) {
			t.Send(Close(ClosePayload(1000, "")), Ping(hello))
			t.closeSent = true
			t.AwaitClose(1000)
		},
	}, &Case{
		ID: "7.1.4", Desc: "Send a close frame, then a text message.", Expect: "A clean close; the message is not echoed.",
		Run: func(t *T) {
			t.Send(Close(ClosePayload(1000, "")), Text(msg))
			t.closeSent = true
			t.AwaitClose(1000)
		},
	}, &Case{
		ID: "7.1.5", Desc: "Send the first fragment of a text message, a close frame, then the last fragment.", Expect: "A clean close; nothing is echoed.",
		Run: func(t *T) {
			t.Send(Fragment(OpText, false, []byte("fragment1")), Close(ClosePayload(1000, "")), Cont(true, []byte("fragment2")))
			t.closeSent = true
			t.AwaitClose(1000)
		},
	}, &Case{
		ID: "7.1.6", Desc: "Send a 256 KiB text message, a small text message, a close frame and a ping back to back.",
		Expect:  "Informational: whether the messages are echoed before the close depends on the implementation.",
		Timeout: 20 * time.Second,
		Run: func(t *T) {
			t.Send(Text(fill("BAsd7&jh23", 256<<10)), Text(msg), Close(ClosePayload(1000, "")), Ping(nil))
			t.closeSent = true
			informational(t)
		},
	})
}

func registerClose3() {
	type closeCase struct {
		desc    string
		payload []byte
		fail    bool
	}
	cases := []closeCase{
		{"an empty payload", []byte{}, false},
		{"a 1-byte payload", []byte{0x03}, true},
		{"code 1000 and no reason", ClosePayload(1000, ""), false},
		{"code 1000 and a short reason", ClosePayload(1000, "Hello World!"), false},
		{"code 1000 and a 123-byte reason (125-byte payload)", ClosePayload(1000, strings.Repeat("*", 123)), false},
		{"code 1000 and a 124-byte reason (126-byte payload, too long for a control frame)", ClosePayload(1000, strings.Repeat("*", 124)), true},
	}
	for i, c := range cases {
		c := c
		cs := &Case{ID: fmt.Sprintf("7.3.%d", i+1), Desc: "Send a close frame with " + c.desc + "."}
		if c.fail {
			cs.Expect = "The connection is failed: close 1002 or a TCP drop."
			cs.Run = func(t *T) { t.SendCloseRaw(c.payload); t.ExpectFail(1002) }
		} else {
			cs.Expect = "A clean close answered with 1000 or no status."
			cs.Run = func(t *T) { t.SendCloseRaw(c.payload); t.AwaitClose(1000) }
		}
		Register(cs)
	}
}
