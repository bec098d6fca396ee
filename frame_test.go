package ws

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// pureHdr builds the bytes of a frame header from its parts, independently of
// putHeader: b0, then the 7-bit length field, then ext (the extended
// length) and the key when masked.
func pureHdr(b0, len7 byte, ext []byte, key []byte) []byte {
	b := []byte{b0, len7}
	if key != nil {
		b[1] |= 0x80
	}
	b = append(b, ext...)
	return append(b, key...)
}

func pureBE16(n uint16) []byte { return binary.BigEndian.AppendUint16(nil, n) }
func pureBE64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func TestParseHeader_RFC6455_5_2(t *testing.T) {
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	lekey := binary.LittleEndian.Uint32(key)
	tests := []struct {
		name string
		in   []byte
		want header
		n    int
		err  error
	}{
		{"empty", nil, header{}, 0, errShort},
		{"one byte", []byte{0x81}, header{}, 0, errShort},
		// §5.7 examples.
		{"single-frame unmasked text Hello", []byte{0x81, 0x05}, header{fin: true, op: opText, length: 5}, 2, nil},
		{"single-frame masked text Hello", pureHdr(0x81, 5, nil, key), header{fin: true, op: opText, masked: true, key: lekey, length: 5}, 6, nil},
		{"first fragment", []byte{0x01, 0x03}, header{op: opText, length: 3}, 2, nil},
		{"last fragment", []byte{0x80, 0x02}, header{fin: true, op: opCont, length: 2}, 2, nil},
		{"unmasked ping", []byte{0x89, 0x05}, header{fin: true, op: opPing, length: 5}, 2, nil},
		{"masked pong", pureHdr(0x8a, 5, nil, key), header{fin: true, op: opPong, masked: true, key: lekey, length: 5}, 6, nil},
		{"256 bytes binary", []byte{0x82, 0x7E, 0x01, 0x00}, header{fin: true, op: opBinary, length: 256}, 4, nil},
		{"64KiB binary", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, header{fin: true, op: opBinary, length: 65536}, 10, nil},
		// Field extraction.
		{"rsv1", []byte{0xc1, 0}, header{fin: true, rsv: 0x40, op: opText}, 2, nil},
		{"rsv2", []byte{0xa1, 0}, header{fin: true, rsv: 0x20, op: opText}, 2, nil},
		{"rsv3", []byte{0x91, 0}, header{fin: true, rsv: 0x10, op: opText}, 2, nil},
		{"all rsv, reserved opcode", []byte{0x7f, 0}, header{rsv: 0x70, op: 0xf}, 2, nil},
		{"length 125", []byte{0x82, 125}, header{fin: true, op: opBinary, length: 125}, 2, nil},
		{"length 126", pureHdr(0x82, 126, pureBE16(126), nil), header{fin: true, op: opBinary, length: 126}, 4, nil},
		{"length 65535", pureHdr(0x82, 126, pureBE16(65535), nil), header{fin: true, op: opBinary, length: 65535}, 4, nil},
		{"length 2^63-1", pureHdr(0x82, 127, pureBE64(1<<63-1), nil), header{fin: true, op: opBinary, length: 1<<63 - 1}, 10, nil},
		{"length 2^63-1 masked", pureHdr(0x82, 127, pureBE64(1<<63-1), key), header{fin: true, op: opBinary, masked: true, key: lekey, length: 1<<63 - 1}, 14, nil},
		// "the most significant bit MUST be 0"
		{"length 2^63", pureHdr(0x82, 127, pureBE64(1<<63), nil), header{}, 0, errBadLength},
		{"length 2^64-1 masked", pureHdr(0x82, 127, pureBE64(1<<64-1), key), header{}, 0, errBadLength},
		// "the minimal number of bytes MUST be used to encode the length":
		// refused as soon as the length is read, before the mask key, as
		// the conformance suite's reader does (a parser differential is
		// where smuggling starts).
		{"non-minimal 16-bit", pureHdr(0x82, 126, pureBE16(5), nil), header{}, 0, errNonMinimal},
		{"non-minimal 16-bit 125", pureHdr(0x82, 126, pureBE16(125), nil), header{}, 0, errNonMinimal},
		{"non-minimal 64-bit", pureHdr(0x82, 127, pureBE64(5), nil), header{}, 0, errNonMinimal},
		{"non-minimal 64-bit 65535, mask key missing", []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, header{}, 0, errNonMinimal},
		// Trailing payload is not part of the header.
		{"trailing payload", []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, header{fin: true, op: opText, length: 5}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := parseHeader(tt.in)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if n != 0 {
					t.Errorf("n = %d on error", n)
				}
				return
			}
			if h != tt.want || n != tt.n {
				t.Errorf("got %+v, %d; want %+v, %d", h, n, tt.want, tt.n)
			}
			// Every proper prefix of the header is short.
			for i := 0; i < n; i++ {
				if _, _, err := parseHeader(tt.in[:i]); err != errShort {
					t.Errorf("prefix of %d bytes: err = %v, want errShort", i, err)
				}
			}
		})
	}
}

func TestPutHeader_RFC6455_5_2(t *testing.T) {
	lengths := []struct {
		n       int
		len7    byte // the 7-bit length field (minimal encoding)
		hdrSize int  // unmasked
	}{
		{0, 0, 2}, {1, 1, 2}, {125, 125, 2},
		{126, 126, 4}, {127, 126, 4}, {65535, 126, 4},
		{65536, 127, 10}, {1 << 32, 127, 10}, {1<<63 - 1, 127, 10},
	}
	ops := []struct {
		fin bool
		rsv byte
		op  byte
	}{
		{true, 0, opText}, {false, 0, opBinary}, {false, 0, opCont}, {true, bitRsv1, opText},
		{true, 0, opClose}, {true, 0, opPing}, {true, 0, opPong},
	}
	for _, l := range lengths {
		for _, masked := range []bool{false, true} {
			for _, o := range ops {
				var b [maxHeader + 4]byte
				for i := range b {
					b[i] = 0xee
				}
				key := uint32(0xa1b2c3d4)
				n := putHeader(b[:], o.fin, o.rsv, o.op, l.n, masked, key)
				want := l.hdrSize
				if masked {
					want += 4
				}
				if n != want || headerLen(l.n, masked) != want {
					t.Fatalf("len %d masked %v: putHeader = %d, headerLen = %d, want %d", l.n, masked, n, headerLen(l.n, masked), want)
				}
				if b[n] != 0xee {
					t.Fatalf("len %d masked %v: wrote past the header", l.n, masked)
				}
				if b[1]&0x7f != l.len7 {
					t.Errorf("len %d: length field %d, want %d (minimal encoding)", l.n, b[1]&0x7f, l.len7)
				}
				h, m, err := parseHeader(b[:n])
				if err != nil || m != n {
					t.Fatalf("len %d masked %v: parse = %v, %d", l.n, masked, err, m)
				}
				wantH := header{fin: o.fin, rsv: o.rsv, op: o.op, masked: masked, length: uint64(l.n)}
				if masked {
					wantH.key = key
				}
				if h != wantH {
					t.Errorf("round trip: got %+v, want %+v", h, wantH)
				}
			}
		}
	}
}

// TestPutHeaderKeyBytes checks that the key goes on the wire in the byte
// order that mask uses: the key byte at offset i masks payload byte i.
func TestPutHeaderKeyBytes_RFC6455_5_3(t *testing.T) {
	var b [maxHeader]byte
	wire := []byte{0x37, 0xfa, 0x21, 0x3d}
	n := putHeader(b[:], true, 0, opText, 5, true, binary.LittleEndian.Uint32(wire))
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}
	if !bytes.Equal(b[:n], want) {
		t.Fatalf("header % x, want % x", b[:n], want)
	}
}

func TestCheckHeader_RFC6455_5_5(t *testing.T) {
	type side struct{ fromClient, inMsg, deflate bool }
	srv := side{fromClient: true}     // a server receiving from a client
	cli := side{}                     // a client receiving from a server
	srvMsg := side{true, true, false} // a fragmented message is open
	srvDeflate := side{fromClient: true, deflate: true}
	srvDeflateMsg := side{true, true, true}
	tests := []struct {
		name string
		h    header
		s    side
		want *wireError
	}{
		// §5.1 masking.
		{"5.1 masked from client", header{fin: true, op: opText, masked: true}, srv, nil},
		{"5.1 unmasked from client", header{fin: true, op: opText}, srv, errUnmasked},
		{"5.1 unmasked from server", header{fin: true, op: opText}, cli, nil},
		{"5.1 masked from server", header{fin: true, op: opText, masked: true}, cli, errMasked},
		// §5.2 reserved bits and opcodes.
		{"5.2 rsv1 without extension", header{fin: true, rsv: 0x40, op: opText, masked: true}, srv, errReservedBits},
		{"5.2 rsv2", header{fin: true, rsv: 0x20, op: opText, masked: true}, srvDeflate, errReservedBits},
		{"5.2 rsv3", header{fin: true, rsv: 0x10, op: opText, masked: true}, srvDeflate, errReservedBits},
		{"5.2 all rsv on ping", header{fin: true, rsv: 0x70, op: opPing, masked: true}, srv, errReservedBits},
		{"5.2 opcode 3", header{fin: true, op: 3, masked: true}, srv, errReservedOp},
		{"5.2 opcode 7", header{fin: true, op: 7, masked: true}, srv, errReservedOp},
		{"5.2 opcode 0xB", header{fin: true, op: 0xb, masked: true}, srv, errReservedOp},
		{"5.2 opcode 0xF", header{fin: true, op: 0xf, masked: true}, srv, errReservedOp},
		// §5.4 fragmentation.
		{"5.4 continuation without message", header{op: opCont, masked: true}, srv, errNoMessage},
		{"5.4 final continuation without message", header{fin: true, op: opCont, masked: true}, srv, errNoMessage},
		{"5.4 continuation in message", header{op: opCont, masked: true}, srvMsg, nil},
		{"5.4 final continuation in message", header{fin: true, op: opCont, masked: true}, srvMsg, nil},
		{"5.4 text inside a message", header{fin: true, op: opText, masked: true}, srvMsg, errNested},
		{"5.4 binary start inside a message", header{op: opBinary, masked: true}, srvMsg, errNested},
		{"5.4 ping between fragments", header{fin: true, op: opPing, masked: true}, srvMsg, nil},
		{"5.4 close between fragments", header{fin: true, op: opClose, masked: true}, srvMsg, nil},
		{"5.4 first fragment", header{op: opText, masked: true, length: 1 << 40}, srv, nil},
		// §5.5 control frames.
		{"5.5 ping 125", header{fin: true, op: opPing, masked: true, length: 125}, srv, nil},
		{"5.5 ping 126", header{fin: true, op: opPing, masked: true, length: 126}, srv, errBigControl},
		{"5.5 pong 126", header{fin: true, op: opPong, length: 126}, cli, errBigControl},
		{"5.5 close 2^62", header{fin: true, op: opClose, masked: true, length: 1 << 62}, srv, errBigControl},
		{"5.5 fragmented ping", header{op: opPing, masked: true}, srv, errFragControl},
		{"5.5 fragmented pong", header{op: opPong}, cli, errFragControl},
		{"5.5 fragmented close", header{op: opClose, masked: true}, srvMsg, errFragControl},
		{"5.5 empty close", header{fin: true, op: opClose}, cli, nil},
		// RFC 7692 §6: RSV1 marks the first frame of a compressed message.
		{"7692 rsv1 on text", header{fin: true, rsv: 0x40, op: opText, masked: true}, srvDeflate, nil},
		{"7692 rsv1 on first fragment", header{rsv: 0x40, op: opBinary, masked: true}, srvDeflate, nil},
		{"7692 rsv1 on continuation", header{rsv: 0x40, op: opCont, masked: true}, srvDeflateMsg, errRSV1},
		{"7692 rsv1 on ping", header{fin: true, rsv: 0x40, op: opPing, masked: true}, srvDeflate, errRSV1},
		{"7692 rsv1 on close", header{fin: true, rsv: 0x40, op: opClose, masked: true}, srvDeflateMsg, errRSV1},
		{"7692 plain continuation", header{op: opCont, masked: true}, srvDeflateMsg, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			got := checkHeader(&h, tt.s.fromClient, tt.s.inMsg, tt.s.deflate)
			if got != tt.want {
				t.Errorf("checkHeader = %v, want %v", got, tt.want)
			}
			if got != nil && got.code != StatusProtocolError {
				t.Errorf("code = %d, want 1002", got.code)
			}
			if h != tt.h {
				t.Errorf("checkHeader changed the header")
			}
		})
	}
}

// validCodeRef is RFC 6455 §7.4.1–§7.4.2 and the IANA registry, written
// as a list.
func validCodeRef(c int) bool {
	switch c {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014:
		return true
	}
	return c >= 3000 && c <= 4999
}

func TestValidCode_RFC6455_7_4_1(t *testing.T) {
	for _, c := range []StatusCode{1004, 1005, 1006, 1015, 1016, 999, 0, 2999, 5000, 65535, 1100, 2000} {
		if validCode(c) {
			t.Errorf("validCode(%d) = true", c)
		}
	}
	for c := 0; c <= 0xffff; c++ {
		if got := validCode(StatusCode(c)); got != validCodeRef(c) {
			t.Errorf("validCode(%d) = %v", c, got)
		}
	}
}

func wireClose(code uint16, reason string) []byte {
	return append(pureBE16(code), reason...)
}

func TestParseClose_RFC6455_7_4(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		code   StatusCode
		reason string
		err    *wireError
	}{
		{"5.5.1 empty", nil, 0, "", nil},
		{"5.5.1 one byte", []byte{0x03}, 0, "", errCloseLen},
		{"7.4.1 1000", wireClose(1000, ""), 1000, "", nil},
		{"7.4.1 1000 with reason", wireClose(1000, "bye"), 1000, "bye", nil},
		{"7.4.1 1001", wireClose(1001, ""), 1001, "", nil},
		{"7.4.1 1003", wireClose(1003, ""), 1003, "", nil},
		{"7.4.1 1004 reserved", wireClose(1004, ""), 0, "", errCloseCode},
		{"7.4.1 1005 never on the wire", wireClose(1005, ""), 0, "", errCloseCode},
		{"7.4.1 1006 never on the wire", wireClose(1006, ""), 0, "", errCloseCode},
		{"7.4.1 1007", wireClose(1007, ""), 1007, "", nil},
		{"IANA 1014", wireClose(1014, ""), 1014, "", nil},
		{"7.4.1 1015 never on the wire", wireClose(1015, ""), 0, "", errCloseCode},
		{"7.4.2 0", wireClose(0, ""), 0, "", errCloseCode},
		{"7.4.2 999", wireClose(999, ""), 0, "", errCloseCode},
		{"7.4.2 1016 unassigned", wireClose(1016, ""), 0, "", errCloseCode},
		{"7.4.2 2999", wireClose(2999, ""), 0, "", errCloseCode},
		{"7.4.2 3000 registered", wireClose(3000, ""), 3000, "", nil},
		{"7.4.2 4999 private", wireClose(4999, "x"), 4999, "x", nil},
		{"7.4.2 5000", wireClose(5000, ""), 0, "", errCloseCode},
		{"7.4.2 65535", wireClose(65535, ""), 0, "", errCloseCode},
		{"5.5.1 UTF-8 reason", wireClose(1000, "κόσμε"), 1000, "κόσμε", nil},
		{"5.5.1 123-byte reason", wireClose(1000, strings.Repeat("a", 123)), 1000, strings.Repeat("a", 123), nil},
		{"5.5.1 invalid UTF-8 reason", wireClose(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"), 0, "", errBadReason},
		{"5.5.1 truncated UTF-8 reason", wireClose(1000, "a\xce"), 0, "", errBadReason},
		{"5.5.1 bad code and bad reason", wireClose(1005, "\xff"), 0, "", errCloseCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := parseClose(tt.in)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if code != tt.code || string(reason) != tt.reason {
				t.Errorf("got %d %q, want %d %q", code, reason, tt.code, tt.reason)
			}
			if err == errBadReason && err.code != StatusInvalidFramePayloadData {
				t.Errorf("bad reason code %d, want 1007", err.code)
			}
			if err == errCloseCode || err == errCloseLen {
				if err.code != StatusProtocolError {
					t.Errorf("code %d, want 1002", err.code)
				}
			}
		})
	}
}

func TestCheckClose_RFC6455_7_4(t *testing.T) {
	tests := []struct {
		code   StatusCode
		reason string
		ok     bool
	}{
		{0, "", true},
		{0, "why", false},
		{1000, "", true},
		{1000, strings.Repeat("a", 123), true},
		{1000, strings.Repeat("a", 124), false},
		{1000, strings.Repeat("é", 61) + "a", true}, // 123 bytes
		{1000, strings.Repeat("é", 62), false},      // 124 bytes
		{1000, "\xff", false},
		{1000, "a\xe2\x82", false},
		{1001, "going", true},
		{1004, "", false},
		{1005, "", false},
		{1006, "", false},
		{1015, "", false},
		{2999, "", false},
		{3000, "", true},
		{4999, "", true},
		{5000, "", false},
	}
	for _, tt := range tests {
		err := checkClose(tt.code, tt.reason)
		if (err == nil) != tt.ok {
			t.Errorf("checkClose(%d, %q) = %v, want ok=%v", tt.code, tt.reason, err, tt.ok)
		}
		if err == nil {
			// What Done accepts, parseClose accepts back.
			var b [maxControl]byte
			n := putClose(b[:], tt.code, tt.reason)
			code, reason, werr := parseClose(b[:n])
			if werr != nil || code != tt.code || string(reason) != tt.reason {
				t.Errorf("round trip (%d, %q): got (%d, %q, %v)", tt.code, tt.reason, code, reason, werr)
			}
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})
	f.Add([]byte{0x82, 0x7e, 0x01, 0x00})
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0x7e, 0x00, 0x05})
	f.Add([]byte{0x89, 0x7e})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil {
			if err != errShort && err != errBadLength && err != errNonMinimal {
				t.Fatalf("unexpected error %v", err)
			}
			if err == errShort && len(b) >= maxHeader {
				t.Fatalf("errShort with %d bytes", len(b))
			}
			return
		}
		if n < 2 || n > maxHeader || n > len(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		if h.length>>63 != 0 {
			t.Fatalf("length %d accepted", h.length)
		}
		for _, fc := range []bool{false, true} {
			for _, in := range []bool{false, true} {
				for _, d := range []bool{false, true} {
					checkHeader(&h, fc, in, d)
				}
			}
		}
		// putHeader writes the minimal encoding: the same bytes, or fewer
		// when the input's length encoding was not minimal.
		var enc [maxHeader]byte
		m := putHeader(enc[:], h.fin, h.rsv, h.op, int(h.length), h.masked, h.key)
		if m != headerLen(int(h.length), h.masked) {
			t.Fatalf("putHeader = %d, headerLen = %d", m, headerLen(int(h.length), h.masked))
		}
		h2, n2, err := parseHeader(enc[:m])
		if err != nil || n2 != m || h2 != h {
			t.Fatalf("round trip: %+v -> % x -> %+v, %d, %v", h, enc[:m], h2, n2, err)
		}
		if m == n && !bytes.Equal(enc[:m], b[:n]) {
			t.Fatalf("same length, different bytes: % x vs % x", enc[:m], b[:n])
		}
		if m > n {
			t.Fatalf("putHeader used %d bytes where the input used %d", m, n)
		}
	})
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add(wireClose(1000, "bye"))
	f.Add(wireClose(1005, ""))
	f.Add(wireClose(4999, "κόσμε"))
	f.Add(wireClose(1000, "\xed\xa0\x80"))
	f.Add(wireClose(3000, "\xf4\x90\x80\x80"))
	f.Fuzz(func(t *testing.T, p []byte) {
		orig := bytes.Clone(p)
		code, reason, err := parseClose(p)
		if !bytes.Equal(p, orig) {
			t.Fatal("parseClose modified its input")
		}
		if err != nil {
			if code != 0 || reason != nil {
				t.Fatalf("error %v with code %d reason %q", err, code, reason)
			}
			if err.kind != ErrProto {
				t.Fatalf("kind %v", err.kind)
			}
			return
		}
		if len(p) == 0 {
			if code != 0 {
				t.Fatalf("code %d from empty payload", code)
			}
			return
		}
		if !validCode(code) || !validText(reason) {
			t.Fatalf("accepted %d %q", code, reason)
		}
		if len(p) <= 2+maxReason {
			if e := checkClose(code, string(reason)); e != nil {
				t.Fatalf("parseClose accepted what checkClose refuses: %v", e)
			}
		}
		var b [2 + 0xffff]byte
		n := putClose(b[:], code, string(reason))
		if !bytes.Equal(b[:n], p) {
			t.Fatalf("round trip % x -> % x", p, b[:n])
		}
	})
}
