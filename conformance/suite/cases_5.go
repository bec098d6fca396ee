package suite

import "fmt"

// Section 5: fragmentation.

// sender is one of the three ways Autobahn writes a case's frames.
type sender struct {
	how  string
	send func(t *T, fs ...Frame)
}

var senders = []sender{
	{"in one write", (*T).Send},
	{"one write per frame", (*T).SendSync},
	{"one byte at a time", func(t *T, fs ...Frame) { t.SendChopped(1, fs...) }},
}

func init() {
	f1, f2 := []byte("fragment1"), []byte("fragment2")
	Register(&Case{
		ID:     "5.1",
		Desc:   "Send a ping fragmented into 2 frames.",
		Expect: "The connection is failed (control frames must not be fragmented).",
		Run: func(t *T) {
			t.Send(Frame{Op: OpPing, Payload: f1}, Cont(true, f2))
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "5.2",
		Desc:   "Send a pong fragmented into 2 frames.",
		Expect: "The connection is failed.",
		Run: func(t *T) {
			t.Send(Frame{Op: OpPong, Payload: f1}, Cont(true, f2))
			t.ExpectFail(1002)
		},
	})
	whole := []byte("fragment1fragment2")
	for i, s := range senders {
		s := s
		Register(&Case{
			ID:     fmt.Sprintf("5.%d", 3+i),
			Desc:   "Send a text message fragmented into 2 frames, " + s.how + ".",
			Expect: "The reassembled message is echoed.",
			Run: func(t *T) {
				s.send(t, Fragment(OpText, false, f1), Cont(true, f2))
				echoThenClose(t, WantText(whole))
			},
		}, &Case{
			ID:     fmt.Sprintf("5.%d", 6+i),
			Desc:   "Send a text message fragmented into 2 frames with a ping in between, " + s.how + ".",
			Expect: "A pong, then the reassembled message.",
			Run: func(t *T) {
				ping := []byte("ping payload")
				s.send(t, Fragment(OpText, false, f1), Ping(ping), Cont(true, f2))
				echoThenClose(t, WantPong(ping), WantText(whole))
			},
		}, &Case{
			ID:     fmt.Sprintf("5.%d", 9+i),
			Desc:   "Send a continuation frame with FIN = true and nothing to continue, then a text message, " + s.how + ".",
			Expect: "The connection is failed; the text message is not echoed.",
			Run: func(t *T) {
				s.send(t, Cont(true, []byte("non-continuation payload")), Text(hello))
				t.ExpectFail(1002)
			},
		}, &Case{
			ID:     fmt.Sprintf("5.%d", 12+i),
			Desc:   "Send a continuation frame with FIN = false and nothing to continue, then a text message, " + s.how + ".",
			Expect: "The connection is failed; the text message is not echoed.",
			Run: func(t *T) {
				s.send(t, Cont(false, []byte("non-continuation payload")), Text(hello))
				t.ExpectFail(1002)
			},
		})
	}
	Register(&Case{
		ID:     "5.15",
		Desc:   "Send a text message in 2 fragments, then a continuation frame with FIN = false and nothing to continue, then a text message.",
		Expect: "The first message is echoed, then the connection is failed.",
		Run: func(t *T) {
			t.Send(Fragment(OpText, false, f1), Cont(true, f2), Cont(false, []byte("fragment3")), Text([]byte("fragment4")))
			if t.Expect(WantText(whole)) {
				t.ExpectFail(1002)
			}
		},
	}, &Case{
		ID:     "5.16",
		Desc:   "Twice: a continuation frame (FIN = false) with nothing to continue, a text frame (FIN = false), a continuation (FIN = true).",
		Expect: "The connection is failed on the first frame.",
		Run: func(t *T) {
			fs := []Frame{Cont(false, f1), Fragment(OpText, false, f2), Cont(true, []byte("fragment3"))}
			t.Send(append(fs, fs...)...)
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "5.17",
		Desc:   "Twice: a continuation frame (FIN = true) with nothing to continue, a text frame (FIN = false), a continuation (FIN = true).",
		Expect: "The connection is failed on the first frame.",
		Run: func(t *T) {
			fs := []Frame{Cont(true, f1), Fragment(OpText, false, f2), Cont(true, []byte("fragment3"))}
			t.Send(append(fs, fs...)...)
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "5.18",
		Desc:   "Send a text message in 2 fragments where both frames carry the text opcode.",
		Expect: "The connection is failed (a new message inside a fragmented one).",
		Run: func(t *T) {
			t.Send(Fragment(OpText, false, f1), Fragment(OpText, true, f2))
			t.ExpectFail(1002)
		},
	})
	for i, s := range senders[:2] {
		s := s
		Register(&Case{
			ID: fmt.Sprintf("5.%d", 19+i),
			Desc: "Send a text message in 5 fragments with 2 pings in between, " + s.how +
				"; each pong is awaited before the message goes on.",
			Expect: "Both pongs arrive while the message is incomplete, then the message is echoed.",
			Run:    func(t *T) { fragmentsWithPings(t, s) },
		})
	}
}

func fragmentsWithPings(t *T, s sender) {
	p1, p2 := []byte("pongme 1!"), []byte("pongme 2!")
	frag := func(i int) []byte { return []byte(fmt.Sprintf("fragment%d", i)) }
	s.send(t, Fragment(OpText, false, frag(1)), Cont(false, frag(2)), Ping(p1))
	if !t.Expect(WantPong(p1)) {
		return
	}
	s.send(t, Cont(false, frag(3)), Cont(false, frag(4)), Ping(p2))
	if !t.Expect(WantPong(p2)) {
		return
	}
	s.send(t, Cont(true, frag(5)))
	echoThenClose(t, WantText([]byte("fragment1fragment2fragment3fragment4fragment5")))
}
