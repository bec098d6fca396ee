package suite

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Section X (ours): RFC 6455 requirements and robustness points Autobahn's
// sections 1–10 do not check.

func init() {
	Register(&Case{
		ID: "X.1", Modes: ModeServer,
		Desc:   "Send an unmasked text frame from the client.",
		Expect: "The server fails the connection (RFC 6455 §5.1: a server MUST close the connection upon an unmasked frame); no echo.",
		Run: func(t *T) {
			f := Text(hello)
			f.NoMask = true
			t.Send(f)
			t.ExpectFail(1002)
		},
	}, &Case{
		ID: "X.2", Modes: ModeClient,
		Desc:   "Send a masked text frame from the server.",
		Expect: "The client fails the connection (RFC 6455 §5.1: a client MUST close the connection upon a masked frame); no echo.",
		Run: func(t *T) {
			f := Text(hello)
			f.ForceMask = true
			t.Send(f)
			t.ExpectFail(1002)
		},
	}, &Case{
		ID:     "X.3",
		Desc:   "Send a binary frame whose 64-bit length has the most significant bit set.",
		Expect: "The connection is failed (RFC 6455 §5.2: the most significant bit MUST be 0): close 1002 or 1009, or a TCP drop.",
		Run: func(t *T) {
			t.Write(rawHeader(t, OpBinary, 1<<63|5, []byte("hello")))
			t.ExpectFail(1002, 1009)
		},
	})
	for i, enc := range []string{"16-bit", "64-bit"} {
		enc := enc
		Register(&Case{
			ID:     fmt.Sprintf("X.%d", 4+i),
			Desc:   fmt.Sprintf("Send a 5-byte text frame whose length uses the non-minimal %s encoding.", enc),
			Expect: "Informational: RFC 6455 §5.2 requires senders to use the minimal encoding but says nothing of receivers; echo or failure is recorded.",
			Run: func(t *T) {
				t.Write(nonMinimal(t, enc == "64-bit", []byte("hello")))
				ev, ok := t.next(time.Time{})
				switch {
				case !ok:
					t.Info("peer did nothing before the case deadline")
				case ev.Kind == EvMessage && ev.Text && string(ev.Data) == "hello":
					t.Info("peer accepted the frame and echoed it")
					t.CloseNormal()
				case ev.Kind == EvClose:
					t.Info("peer failed the connection: %s", ev)
					t.answerClose(ev)
				case ev.Kind == EvEOF:
					t.Info("peer dropped TCP")
				default:
					t.Fail("peer answered with %s", ev)
				}
			},
		})
	}
	Register(&Case{
		ID:     "X.6",
		Desc:   "Send the header of a binary frame declaring 2^62 bytes, then 16 bytes of it.",
		Expect: "The connection is failed with 1009 (message too big) without waiting for the payload (OK); 1002 is NON-STRICT; a peer that just waits is recorded as INFORMATIONAL.",
		Run: func(t *T) {
			t.Write(rawHeader(t, OpBinary, 1<<62, make([]byte, 16)))
			if !t.FailsWithin(4*t.Settle(), 1002, 1009) {
				t.Info("peer waits for the payload (no message size limit)")
				return
			}
			if t.lastClose == 1002 {
				t.NonStrict("failed with 1002 where 1009 (message too big) is the precise code")
			}
		},
	}, &Case{
		ID:     "X.7",
		Desc:   "Send 100 small text messages in one write.",
		Expect: "All 100 are echoed in order.",
		Run: func(t *T) {
			var fs []Frame
			var want []Want
			for i := 0; i < 100; i++ {
				p := []byte(fmt.Sprintf("message %d", i))
				fs = append(fs, Text(p))
				want = append(want, WantText(p))
			}
			t.Send(fs...)
			echoThenClose(t, want...)
		},
	}, &Case{
		ID:     "X.8",
		Desc:   "Send a text message in 1000 one-byte fragments with an empty ping after every 100th, in one write.",
		Expect: "10 pongs and the reassembled message.",
		Run: func(t *T) {
			p := fill("abcdefghij", 1000)
			var fs []Frame
			want := []Want{WantText(p)}
			for i := range p {
				op := OpCont
				if i == 0 {
					op = OpText
				}
				fs = append(fs, Fragment(op, i == len(p)-1, p[i:i+1]))
				if i%100 == 99 {
					fs = append(fs, Ping(nil))
					want = append(want, WantPong(nil))
				}
			}
			t.Send(fs...)
			echoThenClose(t, want...)
		},
	}, &Case{
		ID:     "X.9",
		Desc:   "Send a text message, a ping, a binary message, an unsolicited pong and a ping in one write.",
		Expect: "Both messages echoed in order, pongs for both pings in order, nothing for the pong.",
		Run: func(t *T) {
			b := []byte{0, 1, 2, 0xff}
			t.Send(Text(hello), Ping([]byte("p1")), Binary(b), Pong([]byte("unsolicited")), Ping([]byte("p2")))
			echoThenClose(t, WantText(hello), WantPong([]byte("p1")), WantBinary(b), WantPong([]byte("p2")))
		},
	}, &Case{
		ID:     "X.10",
		Desc:   "Send a 65536-byte binary message (64-bit length) whose first 64 bytes, header included, are written one byte at a time.",
		Expect: "The message is echoed.",
		Run: func(t *T) {
			p := fill("\x01\x02\x03\xfe", 65536)
			b := t.Build(Binary(p))
			t.WriteChopped(1, b[:64])
			t.Write(b[64:])
			echoThenClose(t, WantBinary(p))
		},
	}, &Case{
		ID:     "X.11",
		Desc:   "Send a close frame with code 1000 and a 123-byte reason of 3-byte UTF-8 characters (41 × '€').",
		Expect: "A clean close answered with 1000 or no status.",
		Run: func(t *T) {
			t.SendCloseRaw(ClosePayload(1000, strings.Repeat("€", 41)))
			t.AwaitClose(1000)
		},
	}, &Case{
		ID:     "X.12",
		Desc:   "Send a close frame with code 1000 and a reason ending in a truncated UTF-8 sequence (\"abc\\xe2\\x82\").",
		Expect: "The connection is failed (close 1002 or 1007, or a TCP drop).",
		Run: func(t *T) {
			t.SendCloseRaw(append(ClosePayload(1000, "abc"), 0xe2, 0x82))
			t.ExpectFail(1002, 1007)
		},
	}, &Case{
		ID:      "X.13",
		Desc:    "Send a 256 KiB binary message, then 20 pings, in one write.",
		Expect:  "The message is echoed and all 20 pings are answered (pongs may come before, between or after the echo's frames).",
		Timeout: 15 * time.Second,
		Run: func(t *T) {
			p := fill("\xfe\xed", 256<<10)
			fs := []Frame{Binary(p)}
			want := []Want{WantBinary(p)}
			for i := 0; i < 20; i++ {
				q := []byte(fmt.Sprintf("ping %d", i))
				fs = append(fs, Ping(q))
				want = append(want, WantPong(q))
			}
			t.Send(fs...)
			echoThenClose(t, want...)
		},
	})
}

// rawHeader builds a data frame header declaring length (whatever it is),
// masked as the engine's role requires, followed by p masked with it.
func rawHeader(t *T, op byte, length uint64, p []byte) []byte {
	t.noteType(op)
	b := []byte{0x80 | op, 127}
	b = binary.BigEndian.AppendUint64(b, length)
	return appendMasked(t, b, p)
}

// nonMinimal builds a final text frame for p with a 16- or 64-bit length
// field although p is shorter than 126 bytes.
func nonMinimal(t *T, long bool, p []byte) []byte {
	t.noteType(OpText)
	b := []byte{0x80 | OpText, 126}
	if long {
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	}
	return appendMasked(t, b, p)
}

func appendMasked(t *T, hdr, p []byte) []byte {
	if t.mode != ModeServer {
		return append(hdr, p...)
	}
	hdr[1] |= 0x80
	key := [4]byte{0x5a, 0xa5, 0x3c, 0xc3}
	hdr = append(hdr, key[:]...)
	start := len(hdr)
	hdr = append(hdr, p...)
	maskBytes(hdr[start:], key, 0)
	return hdr
}
