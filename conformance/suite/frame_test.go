package suite

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendFrameRFCExamples(t *testing.T) {
	// RFC 6455 §5.7.
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	tests := []struct {
		name   string
		fin    bool
		op     byte
		masked bool
		p      []byte
		want   string
	}{
		{"unmasked text", true, OpText, false, []byte("Hello"), "810548656c6c6f"},
		{"masked text", true, OpText, true, []byte("Hello"), "818537fa213d7f9f4d5158"},
		{"first fragment", false, OpText, false, []byte("Hel"), "010348656c"},
		{"last fragment", true, OpCont, false, []byte("lo"), "80026c6f"},
		{"unmasked ping", true, OpPing, false, []byte("Hello"), "890548656c6c6f"},
		{"masked pong", true, OpPong, true, []byte("Hello"), "8a8537fa213d7f9f4d5158"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := hex.EncodeToString(AppendFrame(nil, tc.fin, 0, tc.op, tc.masked, key, tc.p))
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAppendFrameLengths(t *testing.T) {
	tests := []struct {
		n    int
		head string
	}{
		{0, "8200"},
		{125, "827d"},
		{126, "827e007e"},
		{256, "827e0100"},
		{65535, "827effff"},
		{65536, "827f0000000000010000"},
	}
	for _, tc := range tests {
		b := AppendFrame(nil, true, 0, OpBinary, false, [4]byte{}, make([]byte, tc.n))
		if got := hex.EncodeToString(b[:len(b)-tc.n]); got != tc.head {
			t.Errorf("len %d: header %s, want %s", tc.n, got, tc.head)
		}
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 1, 3, 125, 126, 127, 65535, 65536, 70000} {
		for _, masked := range []bool{false, true} {
			for _, rsv := range []byte{0, 1, 5, 7} {
				p := fill("abcdefg", n)
				orig := bytes.Clone(p)
				b := AppendFrame([]byte("prefix"), n%2 == 0, rsv, OpBinary, masked, key, p)
				if !bytes.Equal(p, orig) {
					t.Fatalf("payload mutated")
				}
				h, hn, err := ParseHeader(b[len("prefix"):])
				if err != nil {
					t.Fatalf("n=%d: %v", n, err)
				}
				if h.Fin != (n%2 == 0) || h.Rsv != rsv || h.Op != OpBinary || h.Masked != masked || h.Length != uint64(n) {
					t.Fatalf("n=%d masked=%v rsv=%d: header %+v", n, masked, rsv, h)
				}
				body := bytes.Clone(b[len("prefix")+hn:])
				if masked {
					if h.Key != key {
						t.Fatalf("key %v", h.Key)
					}
					maskBytes(body, h.Key, 0)
				}
				if !bytes.Equal(body, orig) {
					t.Fatalf("n=%d masked=%v: payload differs", n, masked)
				}
			}
		}
	}
}

func TestParseHeaderShortAndInvalid(t *testing.T) {
	full := AppendFrame(nil, true, 0, OpBinary, true, [4]byte{9, 9, 9, 9}, make([]byte, 70000))
	hdrLen := 2 + 8 + 4
	for i := 0; i < hdrLen; i++ {
		if _, _, err := ParseHeader(full[:i]); !errors.Is(err, errShort) {
			t.Errorf("prefix %d: err %v, want errShort", i, err)
		}
	}
	if _, n, err := ParseHeader(full[:hdrLen]); err != nil || n != hdrLen {
		t.Errorf("whole header: n=%d err=%v", n, err)
	}
	bad := map[string]string{
		"16-bit length under 126": "827e007d",
		"64-bit length under 64K": "827f000000000000ffff",
		"64-bit length MSB set":   "827f8000000000000000",
	}
	for name, h := range bad {
		b, _ := hex.DecodeString(h)
		if _, _, err := ParseHeader(b); err == nil || errors.Is(err, errShort) {
			t.Errorf("%s: err %v, want a protocol error", name, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		if n > len(b) || n < 2 {
			t.Fatalf("n=%d of %d", n, len(b))
		}
		// Re-encoding a valid header gives the same bytes.
		enc := AppendFrame(nil, h.Fin, h.Rsv, h.Op, h.Masked, h.Key, nil)
		if h.Length == 0 && !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded %x, parsed from %x", enc, b[:n])
		}
	})
}

func TestCheckClosePayload(t *testing.T) {
	tests := []struct {
		p    []byte
		code int
		ok   bool
	}{
		{nil, 0, true},
		{[]byte{3}, 0, false},
		{ClosePayload(1000, ""), 1000, true},
		{ClosePayload(1000, "bye"), 1000, true},
		{ClosePayload(1005, ""), 1005, false},
		{ClosePayload(1006, ""), 1006, false},
		{ClosePayload(1004, ""), 1004, false},
		{ClosePayload(1014, ""), 1014, true},
		{ClosePayload(1015, ""), 1015, false},
		{ClosePayload(2999, ""), 2999, false},
		{ClosePayload(3000, ""), 3000, true},
		{ClosePayload(4999, ""), 4999, true},
		{ClosePayload(5000, ""), 5000, false},
		{append(ClosePayload(1000, ""), 0xff), 1000, false},
	}
	for _, tc := range tests {
		code, _, err := CheckClosePayload(tc.p)
		if code != tc.code || (err == nil) != tc.ok {
			t.Errorf("%x: code %d err %v, want code %d ok %v", tc.p, code, err, tc.code, tc.ok)
		}
	}
}

// readEvents runs a frameReader over b and returns its events.
func readEvents(b []byte, expectMasked bool) []Event {
	q := newEventQueue()
	fr := &frameReader{r: bufio.NewReader(bytes.NewReader(b)), expectMasked: expectMasked, q: q}
	fr.run()
	var out []Event
	for {
		ev, ok := q.pop(time.Now())
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func TestFrameReader(t *testing.T) {
	k := [4]byte{1, 2, 3, 4}
	frames := func(masked bool, fs ...Frame) []byte {
		var b []byte
		for _, f := range fs {
			b = AppendFrame(b, f.Fin, f.Rsv, f.Op, masked, k, f.Payload)
		}
		return b
	}
	kinds := func(evs []Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.Kind.String())
		}
		return strings.Join(s, ",")
	}
	t.Run("fragments with a ping between", func(t *testing.T) {
		evs := readEvents(frames(true, Fragment(OpText, false, []byte("ab")), Ping([]byte("p")), Cont(true, []byte("cd")), Close(ClosePayload(1000, "x"))), true)
		if got := kinds(evs); got != "ping,message,close,TCP end" {
			t.Fatalf("events %s", got)
		}
		if m := evs[1]; !m.Text || string(m.Data) != "abcd" || m.Frames != 2 {
			t.Errorf("message %+v", m)
		}
		if c := evs[2]; c.Code != 1000 || c.Reason != "x" {
			t.Errorf("close %+v", c)
		}
	})
	violations := map[string][]byte{
		"unmasked from a client":       frames(false, Text([]byte("a"))),
		"reserved opcode":              frames(true, Frame{Fin: true, Op: 3}),
		"rsv bits":                     frames(true, Text([]byte("a")).WithRsv(4)),
		"continuation without a start": frames(true, Cont(true, []byte("a"))),
		"new message inside another":   frames(true, Fragment(OpText, false, []byte("a")), Text([]byte("b"))),
		"invalid UTF-8":                frames(true, Text([]byte{0xff})),
		"fragmented ping":              frames(true, Frame{Op: OpPing}),
		"invalid close code":           frames(true, Close(ClosePayload(1005, ""))),
	}
	for name, b := range violations {
		if got := kinds(readEvents(b, true)); got != "protocol violation" {
			t.Errorf("%s: events %s", name, got)
		}
	}
	if got := kinds(readEvents(frames(true, Text([]byte("a"))), false)); got != "protocol violation" {
		t.Errorf("masked from a server: events %s", got)
	}
	if got := kinds(readEvents(frames(true, Text([]byte("abc")))[:5], true)); got != "TCP end" {
		t.Errorf("truncated: events %s", got)
	}
}
