package ws

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// failAtRef returns the index of the first byte of p that cannot be part
// of valid UTF-8 text whatever follows, or -1 if p is valid text or a valid
// text cut in the middle of its last character. It is built on
// unicode/utf8: a tail that is not a FullRune is a viable incomplete
// sequence, and a FullRune that decodes to an error fails at its last byte.
func failAtRef(p []byte) int {
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		for k := 1; i+k <= len(p); k++ {
			if utf8.FullRune(p[i : i+k]) {
				return i + k - 1
			}
		}
		return -1 // truncated at the end
	}
	return -1
}

// failAt runs validUTF8 one byte at a time and returns the index of the
// byte it refused, -1 if none, and the final state.
func failAt(p []byte) (int, uint32) {
	var st uint32
	for i := range p {
		var ok bool
		if st, ok = validUTF8(st, p[i:i+1]); !ok {
			return i, st
		}
	}
	return -1, st
}

// checkUTF8 checks validUTF8 and validText on p against unicode/utf8, in
// one call, byte by byte and by prefixes (fail fast).
func checkUTF8(t *testing.T, name string, p []byte) {
	t.Helper()
	want := failAtRef(p)
	valid := utf8.Valid(p)
	if got := validText(p); got != valid {
		t.Errorf("%s % x: validText = %v, want %v", name, p, got, valid)
	}
	st, ok := validUTF8(0, p)
	if ok != (want < 0) || (ok && (st == 0) != valid) {
		t.Errorf("%s % x: validUTF8 = %#x, %v; want fail at %d, valid %v", name, p, st, ok, want, valid)
	}
	if got, _ := failAt(p); got != want {
		t.Errorf("%s % x: byte by byte, failed at %d, want %d", name, p, got, want)
	}
	if want >= 0 {
		if _, ok := validUTF8(0, p[:want]); !ok {
			t.Errorf("%s % x: prefix of %d bytes refused, want fail at %d", name, p, want, want)
		}
		if _, ok := validUTF8(0, p[:want+1]); ok {
			t.Errorf("%s % x: prefix of %d bytes accepted, want fail at %d", name, p, want+1, want)
		}
	}
}

// The cases of Autobahn's section 6 (UTF-8 handling), after Markus Kuhn's
// UTF-8 decoder capability and stress test, and RFC 3629 §3–§4.
var utf8Cases = []struct {
	name   string
	in     string
	failAt int // -1: no byte fails
	valid  bool
}{
	// 6.1–6.2 valid text.
	{"6.1 empty", "", -1, true},
	{"6.2 Hello-µ@ßöäüàá-UTF-8!!", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", -1, true},
	{"6.5 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", -1, true},
	// 6.3–6.4 fail fast.
	{"6.3 kosme + surrogate", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12, false},
	{"6.4.1 kosme + F4 90 80 80", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", 12, false},
	{"6.4.2 kosme + F4 then 90", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90", 12, false},
	{"6.4.4 kosme + F4 90 80 80 exactly", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", 12, false},
	// 6.7 first possible sequence of each length.
	{"6.7.1 U+0000", "\x00", -1, true},
	{"6.7.2 U+0080", "\xc2\x80", -1, true},
	{"6.7.3 U+0800", "\xe0\xa0\x80", -1, true},
	{"6.7.4 U+10000", "\xf0\x90\x80\x80", -1, true},
	// 6.8 5- and 6-byte sequences (outside RFC 3629).
	{"6.8.1 F8 88 80 80 80", "\xf8\x88\x80\x80\x80", 0, false},
	{"6.8.2 FC 84 80 80 80 80", "\xfc\x84\x80\x80\x80\x80", 0, false},
	// 6.9 last possible sequence of each length.
	{"6.9.1 U+007F", "\x7f", -1, true},
	{"6.9.2 U+07FF", "\xdf\xbf", -1, true},
	{"6.9.3 U+FFFF noncharacter is valid", "\xef\xbf\xbf", -1, true},
	{"6.9.4 U+10FFFF", "\xf4\x8f\xbf\xbf", -1, true},
	// 6.10 beyond the last.
	{"6.10.1 F7 BF BF BF", "\xf7\xbf\xbf\xbf", 0, false},
	{"6.10.2 FB BF BF BF BF", "\xfb\xbf\xbf\xbf\xbf", 0, false},
	{"6.10.3 FD BF BF BF BF BF", "\xfd\xbf\xbf\xbf\xbf\xbf", 0, false},
	// 6.11 other boundaries.
	{"6.11.1 U+D7FF", "\xed\x9f\xbf", -1, true},
	{"6.11.2 U+E000", "\xee\x80\x80", -1, true},
	{"6.11.3 U+FFFD", "\xef\xbf\xbd", -1, true},
	{"6.11.4 U+10FFFF", "\xf4\x8f\xbf\xbf", -1, true},
	{"6.11.5 U+110000", "\xf4\x90\x80\x80", 1, false},
	// 6.12 unexpected continuation bytes.
	{"6.12.1 80", "\x80", 0, false},
	{"6.12.2 BF", "\xbf", 0, false},
	{"6.12.3 80 BF", "\x80\xbf", 0, false},
	{"6.12.4 80 BF 80", "\x80\xbf\x80", 0, false},
	{"6.12.5 80 BF 80 BF", "\x80\xbf\x80\xbf", 0, false},
	{"6.12.6 80 BF 80 BF 80", "\x80\xbf\x80\xbf\x80", 0, false},
	{"6.12.7 80 BF 80 BF 80 BF", "\x80\xbf\x80\xbf\x80\xbf", 0, false},
	{"6.12.8 all 64 continuation bytes", contBytes(), 0, false},
	{"continuation after ASCII", "abcdefghij\x80", 10, false},
	{"continuation after a complete character", "\xc3\xa9\xa9", 2, false},
	// 6.13 lonely start characters followed by a space.
	{"6.13.1 C0 20", "\xc0\x20", 0, false},
	{"6.13.1 C2 20", "\xc2\x20", 1, false},
	{"6.13.1 DF 20", "\xdf\x20", 1, false},
	{"6.13.2 E0 20", "\xe0\x20", 1, false},
	{"6.13.2 EF 20", "\xef\x20", 1, false},
	{"6.13.3 F0 20", "\xf0\x20", 1, false},
	{"6.13.3 F4 20", "\xf4\x20", 1, false},
	{"6.13.3 F7 20", "\xf7\x20", 0, false},
	{"6.13.4 F8 20", "\xf8\x20", 0, false},
	{"6.13.5 FC 20", "\xfc\x20", 0, false},
	// 6.14 last continuation byte missing (at the end: truncated, not failed).
	{"6.14.1 C0", "\xc0", 0, false},
	{"6.14.2 E0 80", "\xe0\x80", 1, false},
	{"6.14.3 F0 80 80", "\xf0\x80\x80", 1, false},
	{"6.14.4 F8 80 80 80", "\xf8\x80\x80\x80", 0, false},
	{"6.14.5 FC 80 80 80 80", "\xfc\x80\x80\x80\x80", 0, false},
	{"6.14.6 DF", "\xdf", -1, false},
	{"6.14.7 EF BF", "\xef\xbf", -1, false},
	{"6.14.8 F7 BF BF", "\xf7\xbf\xbf", 0, false},
	{"6.14.8' F3 BF BF", "\xf3\xbf\xbf", -1, false},
	{"6.14.8'' F4 8F BF", "\xf4\x8f\xbf", -1, false},
	{"6.14.9 FB BF BF BF", "\xfb\xbf\xbf\xbf", 0, false},
	{"6.14.10 FD BF BF BF BF", "\xfd\xbf\xbf\xbf\xbf", 0, false},
	{"truncated 2-byte after text", "kosme\xce", -1, false},
	{"truncated 4-byte after text", "kosme\xf0\x9f\x98", -1, false},
	// 6.15 concatenation of incomplete sequences.
	{"6.15.1 all incomplete", "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf", 0, false},
	{"incomplete then ASCII", "\xdf\x41", 1, false},
	{"incomplete 3 then ASCII", "\xef\xbf\x41", 2, false},
	// 6.16 impossible bytes.
	{"6.16.1 FE", "\xfe", 0, false},
	{"6.16.2 FF", "\xff", 0, false},
	{"6.16.3 FE FE FF FF", "\xfe\xfe\xff\xff", 0, false},
	{"F5", "\xf5\x80\x80\x80", 0, false},
	{"C1", "\xc1\x80", 0, false},
	// 6.17 overlong ASCII '/'.
	{"6.17.1 C0 AF", "\xc0\xaf", 0, false},
	{"6.17.2 E0 80 AF", "\xe0\x80\xaf", 1, false},
	{"6.17.3 F0 80 80 AF", "\xf0\x80\x80\xaf", 1, false},
	{"6.17.4 F8 80 80 80 AF", "\xf8\x80\x80\x80\xaf", 0, false},
	{"6.17.5 FC 80 80 80 80 AF", "\xfc\x80\x80\x80\x80\xaf", 0, false},
	// 6.18 maximum overlongs.
	{"6.18.1 C1 BF", "\xc1\xbf", 0, false},
	{"6.18.2 E0 9F BF", "\xe0\x9f\xbf", 1, false},
	{"6.18.3 F0 8F BF BF", "\xf0\x8f\xbf\xbf", 1, false},
	{"6.18.4 F8 87 BF BF BF", "\xf8\x87\xbf\xbf\xbf", 0, false},
	{"6.18.5 FC 83 BF BF BF BF", "\xfc\x83\xbf\xbf\xbf\xbf", 0, false},
	// 6.19 overlong NUL.
	{"6.19.1 C0 80", "\xc0\x80", 0, false},
	{"6.19.2 E0 80 80", "\xe0\x80\x80", 1, false},
	{"6.19.3 F0 80 80 80", "\xf0\x80\x80\x80", 1, false},
	{"6.19.4 F8 80 80 80 80", "\xf8\x80\x80\x80\x80", 0, false},
	{"6.19.5 FC 80 80 80 80 80", "\xfc\x80\x80\x80\x80\x80", 0, false},
	// 6.20 single UTF-16 surrogates.
	{"6.20.1 U+D800", "\xed\xa0\x80", 1, false},
	{"6.20.2 U+DB7F", "\xed\xad\xbf", 1, false},
	{"6.20.3 U+DB80", "\xed\xae\x80", 1, false},
	{"6.20.4 U+DBFF", "\xed\xaf\xbf", 1, false},
	{"6.20.5 U+DC00", "\xed\xb0\x80", 1, false},
	{"6.20.6 U+DF80", "\xed\xbe\x80", 1, false},
	{"6.20.7 U+DFFF", "\xed\xbf\xbf", 1, false},
	// 6.21 paired UTF-16 surrogates.
	{"6.21.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", 1, false},
	{"6.21.2 U+D800 U+DFFF", "\xed\xa0\x80\xed\xbf\xbf", 1, false},
	{"6.21.3 U+DB7F U+DC00", "\xed\xad\xbf\xed\xb0\x80", 1, false},
	{"6.21.4 U+DB7F U+DFFF", "\xed\xad\xbf\xed\xbf\xbf", 1, false},
	{"6.21.5 U+DB80 U+DC00", "\xed\xae\x80\xed\xb0\x80", 1, false},
	{"6.21.6 U+DB80 U+DFFF", "\xed\xae\x80\xed\xbf\xbf", 1, false},
	{"6.21.7 U+DBFF U+DC00", "\xed\xaf\xbf\xed\xb0\x80", 1, false},
	{"6.21.8 U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", 1, false},
	// 6.22 noncharacters are valid (Unicode corrigendum #9).
	{"6.22.1 U+FFFE", "\xef\xbf\xbe", -1, true},
	{"6.22.2 U+FFFF", "\xef\xbf\xbf", -1, true},
	{"6.22.3 U+1FFFE", "\xf0\x9f\xbf\xbe", -1, true},
	{"6.22.4 U+1FFFF", "\xf0\x9f\xbf\xbf", -1, true},
	{"6.22.33 U+10FFFE", "\xf4\x8f\xbf\xbe", -1, true},
	{"6.22.34 U+10FFFF", "\xf4\x8f\xbf\xbf", -1, true},
	{"U+FDD0", "\xef\xb7\x90", -1, true},
	{"U+FDEF", "\xef\xb7\xaf", -1, true},
	// 6.23 miscellaneous.
	{"6.23.1 U+FFFD", "\xef\xbf\xbd", -1, true},
	{"6.23.2 U+FFFD x2", "\xef\xbf\xbd\xef\xbf\xbd", -1, true},
	{"6.23.3 BOM", "\xef\xbb\xbf", -1, true},
	{"6.23.4 U+FEFF U+FFFD", "\xef\xbb\xbf\xef\xbf\xbd", -1, true},
	{"6.23.5 U+0065 U+0301", "e\xcc\x81", -1, true},
	// Failures past the 8-byte ASCII fast path.
	{"ASCII x8 then bad", "abcdefgh\xff", 8, false},
	{"ASCII x17 then overlong", "abcdefghijklmnopq\xc0\xaf", 17, false},
	{"ASCII x8 around emoji", "abcdefgh\xf0\x9f\x98\x80abcdefgh", -1, true},
}

func contBytes() string {
	var b []byte
	for c := 0x80; c <= 0xbf; c++ {
		b = append(b, byte(c))
	}
	return string(b)
}

func TestUTF8_RFC3629(t *testing.T) {
	for _, tt := range utf8Cases {
		t.Run(tt.name, func(t *testing.T) {
			p := []byte(tt.in)
			if got := utf8.Valid(p); got != tt.valid {
				t.Fatalf("test table disagrees with unicode/utf8: Valid = %v", got)
			}
			if got := failAtRef(p); got != tt.failAt {
				t.Fatalf("test table disagrees with the reference: fails at %d", got)
			}
			checkUTF8(t, tt.name, p)
			got, st := failAt(p)
			if got != tt.failAt {
				t.Errorf("failed at %d, want %d", got, tt.failAt)
			}
			if got < 0 && (st == 0) != tt.valid {
				t.Errorf("final state %#x, want valid = %v", st, tt.valid)
			}
			// Every split into two chunks gives the same answer.
			for s := 0; s <= len(p); s++ {
				st, ok := validUTF8(0, p[:s])
				if ok {
					st, ok = validUTF8(st, p[s:])
				}
				if ok != (tt.failAt < 0) || (ok && (st == 0) != tt.valid) {
					t.Errorf("split at %d: %#x %v", s, st, ok)
				}
			}
			// After 8 ASCII bytes (the word-at-a-time path) and before more.
			q := append([]byte("01234567"), p...)
			q = append(q, "89abcdefghijklmn"...)
			checkUTF8(t, tt.name+" in ASCII", q)
		})
	}
}

// TestUTF8FailFastIndex_RFC6455_8_1 is the brief's example: a surrogate-
// free κόσμε followed by F4 90 80 80 (over U+10FFFF) fails at the 0x90.
func TestUTF8FailFastIndex_RFC6455_8_1(t *testing.T) {
	p := []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80")
	if i, _ := failAt(p); i != 12 || p[i] != 0x90 {
		t.Fatalf("failed at %d, want 12 (the 0x90)", i)
	}
	if _, ok := validUTF8(0, p[:12]); !ok {
		t.Fatal("κόσμε + F4 refused")
	}
	if _, ok := validUTF8(0, p[:13]); ok {
		t.Fatal("κόσμε + F4 90 accepted")
	}
}

// viable reports whether some valid UTF-8 text starts with p, by trying the
// completions that satisfy every lead byte's second-byte range (E0 needs
// A0.., ED ..9F, F0 90.., F4 ..8F) followed by plain continuation bytes.
func viable(p []byte, buf []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	buf = append(buf[:0], p...)
	for _, c := range [...]byte{0x80, 0x90, 0xa0} {
		q := append(buf[:len(p)], c)
		for k := 0; k < 3; k++ {
			if utf8.Valid(q) {
				return true
			}
			q = append(q, 0x80)
		}
	}
	return false
}

func checkExhaustive(t *testing.T, p []byte, buf []byte) bool {
	st, ok := validUTF8(0, p)
	if want := viable(p, buf); ok != want {
		t.Errorf("% x: validUTF8 ok = %v, but a valid continuation exists = %v", p, ok, want)
		return false
	}
	if ok && (st == 0) != utf8.Valid(p) {
		t.Errorf("% x: complete = %v, utf8.Valid = %v", p, st == 0, utf8.Valid(p))
		return false
	}
	// Byte by byte gives the same state.
	var s2 uint32
	ok2 := true
	for i := range p {
		if s2, ok2 = validUTF8(s2, p[i:i+1]); !ok2 {
			break
		}
	}
	if ok2 != ok || (ok && s2 != st) {
		t.Errorf("% x: byte by byte %#x %v, at once %#x %v", p, s2, ok2, st, ok)
		return false
	}
	return true
}

// TestUTF8Exhaustive_RFC3629 checks every 1-, 2- and 3-byte sequence and
// random 4-byte ones against unicode/utf8, including the fail-fast
// property: validUTF8 accepts a prefix only if a valid continuation exists.
func TestUTF8Exhaustive_RFC3629(t *testing.T) {
	buf := make([]byte, 0, 16)
	p := make([]byte, 4)
	for a := 0; a < 256; a++ {
		p[0] = byte(a)
		if !checkExhaustive(t, p[:1], buf) {
			return
		}
		for b := 0; b < 256; b++ {
			p[1] = byte(b)
			if !checkExhaustive(t, p[:2], buf) {
				return
			}
			if testing.Short() && a < 0x80 {
				continue // after ASCII, the 3-byte case is the 2-byte one
			}
			for c := 0; c < 256; c++ {
				p[2] = byte(c)
				if !checkExhaustive(t, p[:3], buf) {
					return
				}
			}
		}
	}
	// 4-byte sequences drawn from the bytes where the ranges change.
	edges := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				for _, d := range edges {
					p[0], p[1], p[2], p[3] = a, b, c, d
					if !checkExhaustive(t, p, buf) {
						return
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1 << 20
	if testing.Short() {
		n = 1 << 16
	}
	for i := 0; i < n; i++ {
		v := rng.Uint32()
		p[0] = 0xf0 | byte(v&0x07) // mostly 4-byte leads
		if v&0x100 != 0 {
			p[0] = byte(v >> 24)
		}
		p[1] = 0x80 | byte(v>>9)&0x3f
		p[2] = 0x80 | byte(v>>15)&0x3f
		p[3] = byte(v >> 21)
		if v&0x200 != 0 {
			p[1] = byte(v >> 11)
		}
		if !checkExhaustive(t, p, buf) {
			return
		}
	}
}

func FuzzUTF8(f *testing.F) {
	for _, tt := range utf8Cases {
		f.Add([]byte(tt.in), uint16(len(tt.in)/2))
	}
	f.Add([]byte("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"), uint16(7))
	f.Add([]byte("abcdefgh\xf0\x9f\x98\x80abcdefgh"), uint16(10))
	f.Fuzz(func(t *testing.T, p []byte, split uint16) {
		s := 0
		if len(p) > 0 {
			s = int(split) % (len(p) + 1)
		}
		want := utf8.Valid(p)
		st, ok := validUTF8(0, p[:s])
		if ok {
			st, ok = validUTF8(st, p[s:])
		}
		if got := ok && st == 0; got != want {
			t.Fatalf("% x split at %d: %v, utf8.Valid %v", p, s, got, want)
		}
		if validText(p) != want {
			t.Fatalf("% x: validText != utf8.Valid", p)
		}
		wantFail := failAtRef(p)
		if ok != (wantFail < 0) {
			t.Fatalf("% x split at %d: ok = %v, reference fails at %d", p, s, ok, wantFail)
		}
		if wantFail >= 0 {
			if _, ok := validUTF8(0, p[:wantFail]); !ok {
				t.Fatalf("% x: refused before byte %d", p, wantFail)
			}
		}
	})
}

func BenchmarkUTF8(b *testing.B) {
	texts := []struct {
		name string
		s    string
	}{
		{"ASCII", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1<<10)},
		{"Multilingual", strings.Repeat("Hello, κόσμε, привет мир, こんにちは世界, 你好, مرحبا, 🌍🚀. ", 1<<9)},
	}
	for _, tt := range texts {
		p := []byte(tt.s)
		if !validText(p) {
			b.Fatal("sample is not valid")
		}
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for i := 0; i < b.N; i++ {
				if !validText(p) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(tt.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for i := 0; i < b.N; i++ {
				if !utf8.Valid(p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
