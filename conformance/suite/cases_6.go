package suite

import (
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// Section 6: UTF-8 handling. 6.1–6.4 are hand-written; 6.5–6.23 come from
// the sequence table below (Markus Kuhn's UTF-8 decoder stress test, as
// Autobahn groups it), each sent as one whole text message. Our own
// section U repeats every 6.5–6.23 sequence fragmented one octet per frame
// (U.x.y.1) and as one frame written one octet at a time (U.x.y.2).

const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε

type utf8Group struct {
	name string
	seqs []string
}

// utf8Groups are sections 6.5 to 6.23 in order; validity is computed with
// unicode/utf8 and checked against the group's expectation in the tests.
func utf8Groups() []utf8Group {
	var prefixes []string
	for i := 1; i <= len(kosme); i++ {
		prefixes = append(prefixes, kosme[:i])
	}
	var cont []byte
	for b := 0x80; b < 0xbf; b++ {
		cont = append(cont, byte(b))
	}
	lonely := func(lo, hi int) string {
		var s []byte
		for b := lo; b < hi; b++ {
			s = append(s, byte(b), ' ')
		}
		return string(s)
	}
	missing := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var concat string
	for _, m := range missing {
		concat += m
	}
	nonchars := []string{"\xef\xbf\xbe", "\xef\xbf\xbf"}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f {
				continue // above U+10FFFF
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				if z1 == 0xf0 && z2 == 0x8f {
					continue // overlong
				}
				nonchars = append(nonchars, string([]byte{z1, z2, 0xbf, z3}))
			}
		}
	}
	return []utf8Group{
		{"Some valid UTF-8 sequences", []string{"hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme}},
		{"All prefixes of a valid UTF-8 string with multi-byte code points", prefixes},
		{"First possible sequence of a certain length", []string{"\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80"}},
		{"First possible sequence of length 5/6 (invalid code points)", []string{"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80"}},
		{"Last possible sequence of a certain length", []string{"\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}},
		{"Last possible sequence of length 4/5/6 (invalid code points)", []string{"\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf"}},
		{"Other boundary conditions", []string{"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80"}},
		{"Unexpected continuation bytes", []string{"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf", string(cont)}},
		{"Lonely start characters", []string{lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd)}},
		{"Sequences with last continuation byte missing", missing},
		{"Concatenation of incomplete sequences", []string{concat}},
		{"Impossible bytes", []string{"\xfe", "\xff", "\xfe\xfe\xff\xff"}},
		{"Overlong ASCII character", []string{"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf"}},
		{"Maximum overlong sequences", []string{"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf"}},
		{"Overlong representation of NUL", []string{"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80"}},
		{"Single UTF-16 surrogates", []string{"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf"}},
		{"Paired UTF-16 surrogates", []string{"\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf"}},
		{"Noncharacter code points (valid UTF-8)", nonchars},
		{"Unicode specials such as the replacement character (valid UTF-8)", []string{"\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf"}},
	}
}

// sendText sends p as one text message in the given shape.
type textShape int

const (
	wholeFrame   textShape = iota // one frame, one write
	octetFrames                   // one octet per frame
	octetChopped                  // one frame written one octet at a time
)

func sendTextShaped(t *T, p []byte, shape textShape) {
	switch shape {
	case wholeFrame:
		t.Send(Text(p))
	case octetChopped:
		t.SendChopped(1, Text(p))
	case octetFrames:
		if len(p) == 0 {
			t.Send(Text(p))
			return
		}
		fs := make([]Frame, len(p))
		for i := range p {
			op := OpCont
			if i == 0 {
				op = OpText
			}
			fs[i] = Fragment(op, i == len(p)-1, p[i:i+1])
		}
		t.Send(fs...)
	}
}

// utf8Case sends p and expects an echo if valid, else close 1007 or a drop.
func utf8Case(id string, p []byte, shape textShape, how string) *Case {
	valid := utf8.Valid(p)
	c := &Case{ID: id}
	if valid {
		c.Desc = fmt.Sprintf("Send a text message with valid UTF-8 payload 0x%s %s.", hex.EncodeToString(p), how)
		c.Expect = "The message is echoed."
	} else {
		c.Desc = fmt.Sprintf("Send a text message with invalid UTF-8 payload 0x%s %s.", hex.EncodeToString(p), how)
		c.Expect = "The connection is failed (close 1007 or TCP drop); nothing is echoed."
	}
	c.Run = func(t *T) {
		sendTextShaped(t, p, shape)
		if valid {
			echoThenClose(t, WantText(p))
		} else {
			t.ExpectFail(1007)
		}
	}
	return c
}

func init() {
	registerUTF8Basics()
	registerFailFast()
	for gi, g := range utf8Groups() {
		for si, s := range g.seqs {
			sec := fmt.Sprintf("%d.%d", gi+5, si+1)
			p := []byte(s)
			c := utf8Case("6."+sec, p, wholeFrame, "in one frame")
			c.Desc = g.name + ": " + c.Desc
			Register(c,
				utf8Case("U."+sec+".1", p, octetFrames, "fragmented one octet per frame (the sequence of 6."+sec+")"),
				utf8Case("U."+sec+".2", p, octetChopped, "in one frame written one octet at a time (the sequence of 6."+sec+")"))
		}
	}
}

func registerUTF8Basics() {
	Register(&Case{
		ID: "6.1.1", Desc: "Send a text message of length 0.", Expect: "The empty message is echoed.",
		Run: func(t *T) { t.Send(Text([]byte{})); echoThenClose(t, WantText([]byte{})) },
	}, &Case{
		ID: "6.1.2", Desc: "Send a text message in 3 fragments, each of length 0.", Expect: "The empty message is echoed.",
		Run: func(t *T) {
			t.Send(Fragment(OpText, false, nil), Cont(false, nil), Cont(true, nil))
			echoThenClose(t, WantText([]byte{}))
		},
	}, &Case{
		ID: "6.1.3", Desc: "Send a text message in 3 fragments; the first and last are empty, the middle is not.", Expect: "The message is echoed.",
		Run: func(t *T) {
			mid := []byte("middle frame payload")
			t.Send(Fragment(OpText, false, nil), Cont(false, mid), Cont(true, nil))
			echoThenClose(t, WantText(mid))
		},
	})
	greeting := []byte("Hello-µ@ßöäüàá-UTF-8!!")
	Register(&Case{
		ID: "6.2.1", Desc: "Send a valid UTF-8 text message in one frame.", Expect: "The message is echoed.",
		Run: func(t *T) { t.Send(Text(greeting)); echoThenClose(t, WantText(greeting)) },
	}, &Case{
		ID: "6.2.2", Desc: "Send a valid UTF-8 text message in 2 fragments split on a code point boundary.", Expect: "The message is echoed.",
		Run: func(t *T) {
			t.Send(Fragment(OpText, false, greeting[:13]), Cont(true, greeting[13:]))
			echoThenClose(t, WantText(greeting))
		},
	},
		utf8CaseDesc("6.2.3", greeting, octetFrames, "Send a valid UTF-8 text message one octet per frame (frames end inside code points)."),
		utf8CaseDesc("6.2.4", []byte(kosme), octetFrames, "Send the valid UTF-8 text κόσμε one octet per frame."),
	)
	invalid := []byte(kosme + "\xed\xa0\x80" + "edited")
	Register(
		utf8CaseDesc("6.3.1", invalid, wholeFrame, "Send an invalid UTF-8 text message (a surrogate) in one frame."),
		utf8CaseDesc("6.3.2", invalid, octetFrames, "Send an invalid UTF-8 text message (a surrogate) one octet per frame."),
	)
}

func utf8CaseDesc(id string, p []byte, shape textShape, desc string) *Case {
	c := utf8Case(id, p, shape, "")
	c.Desc = desc + " Payload 0x" + hex.EncodeToString(p) + "."
	return c
}

// registerFailFast adds 6.4.x: an invalid message in 3 parts with pauses;
// failing on the part that makes it invalid is OK, failing only once the
// message is complete is NON-STRICT, failing on the valid first part is FAILED.
func registerFailFast() {
	full := []byte(kosme + "\xf4\x90\x80\x80" + "edited")
	cuts := []struct {
		a, b   int
		frames bool
		desc   string
	}{
		{11, 15, true, "in 3 frames: valid κόσμε, then 0xf4908080 (a code point above U+10FFFF), then 'edited'"},
		{12, 13, true, "in 3 frames, the 2nd holding only the octet that makes the payload invalid"},
		{11, 15, false, "as one frame written in 3 chops (as 6.4.1's parts)"},
		{12, 13, false, "as one frame written in 3 chops (as 6.4.2's parts)"},
	}
	for i, c := range cuts {
		c := c
		Register(&Case{
			ID:     fmt.Sprintf("6.4.%d", i+1),
			Desc:   "Send an invalid UTF-8 text message " + c.desc + ", pausing after parts 1 and 2.",
			Expect: "Not failed after part 1; failed (1007) right after part 2 (OK) or only after part 3 (NON-STRICT).",
			Run: func(t *T) {
				var parts [3][]byte
				if c.frames {
					parts[0] = t.Build(Fragment(OpText, false, full[:c.a]))
					parts[1] = t.Build(Cont(false, full[c.a:c.b]))
					parts[2] = t.Build(Cont(true, full[c.b:]))
				} else {
					b := t.Build(Text(full))
					h := len(b) - len(full)
					parts = [3][]byte{b[:h+c.a], b[h+c.a : h+c.b], b[h+c.b:]}
				}
				failFast(t, parts)
			},
		})
	}
}

func failFast(t *T, parts [3][]byte) {
	t.Write(parts[0])
	if t.FailsWithin(t.Settle()) {
		if !t.refused {
			t.Fail("the peer failed the connection on a valid prefix")
		}
		return
	}
	t.Write(parts[1])
	if t.FailsWithin(t.Settle(), 1007) {
		return
	}
	t.Write(parts[2])
	t.ExpectFail(1007)
	if !t.Failed() {
		t.NonStrict("failed only once the message was complete, not on the invalid octet")
	}
}
