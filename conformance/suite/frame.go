package suite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Opcodes of RFC 6455 §5.2, plus the reserved ones the cases send on purpose.
const (
	OpCont   byte = 0x0
	OpText   byte = 0x1
	OpBinary byte = 0x2
	OpClose  byte = 0x8
	OpPing   byte = 0x9
	OpPong   byte = 0xA
)

// Frame is one hand-built WebSocket frame. The zero value is an empty,
// non-final continuation frame. Whether it is masked is decided by the
// engine (clients mask, servers don't) unless ForceMask or NoMask is set.
type Frame struct {
	Fin     bool
	Rsv     byte // the three RSV bits as a number 0..7 (RSV1 = 4, RSV2 = 2, RSV3 = 1)
	Op      byte
	Payload []byte

	ForceMask bool // mask even when the engine would not (a server sending masked frames)
	NoMask    bool // do not mask even when the engine would (a client sending unmasked frames)
}

// Text is a final text frame.
func Text(p []byte) Frame { return Frame{Fin: true, Op: OpText, Payload: p} }

// Binary is a final binary frame.
func Binary(p []byte) Frame { return Frame{Fin: true, Op: OpBinary, Payload: p} }

// Ping is a ping frame.
func Ping(p []byte) Frame { return Frame{Fin: true, Op: OpPing, Payload: p} }

// Pong is a pong frame.
func Pong(p []byte) Frame { return Frame{Fin: true, Op: OpPong, Payload: p} }

// Close is a close frame with the raw payload p (see ClosePayload).
func Close(p []byte) Frame { return Frame{Fin: true, Op: OpClose, Payload: p} }

// Cont is a continuation frame.
func Cont(fin bool, p []byte) Frame { return Frame{Fin: fin, Op: OpCont, Payload: p} }

// Fragment is a data frame with the given opcode and FIN bit.
func Fragment(op byte, fin bool, p []byte) Frame { return Frame{Fin: fin, Op: op, Payload: p} }

// WithRsv returns f with the RSV bits set to rsv (0..7).
func (f Frame) WithRsv(rsv byte) Frame { f.Rsv = rsv; return f }

// ClosePayload is the payload of a close frame: a 2-byte big-endian code
// followed by reason.
func ClosePayload(code uint16, reason string) []byte {
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, code)
	return append(b, reason...)
}

// AppendFrame appends the wire encoding of a frame to dst. When masked, the
// payload is XORed with key into dst; payload itself is never modified.
// The payload length uses the shortest encoding (7, 16 or 64 bits).
func AppendFrame(dst []byte, fin bool, rsv, op byte, masked bool, key [4]byte, payload []byte) []byte {
	b0 := rsv&7<<4 | op&0xF
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if masked {
		b1 = 0x80
	}
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !masked {
		return append(dst, payload...)
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], key, 0)
	return dst
}

// maskBytes XORs b with key starting at key position pos and returns the next position.
func maskBytes(b []byte, key [4]byte, pos int) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// Header is a parsed frame header.
type Header struct {
	Fin    bool
	Rsv    byte
	Op     byte
	Masked bool
	Key    [4]byte
	Length uint64
}

// errShort means ParseHeader needs more bytes.
var errShort = errors.New("short frame header")

// ParseHeader decodes the frame header at the start of b. It returns
// errShort when b does not hold the whole header, and an error for a
// non-minimal length encoding or a 64-bit length with the top bit set.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, errShort
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = b[0] >> 4 & 7
	h.Op = b[0] & 0xF
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return h, 0, errShort
		}
		h.Length = uint64(binary.BigEndian.Uint16(b[2:]))
		n = 4
		if h.Length < 126 {
			return h, n, fmt.Errorf("non-minimal 16-bit length %d", h.Length)
		}
	case 127:
		if len(b) < 10 {
			return h, 0, errShort
		}
		h.Length = binary.BigEndian.Uint64(b[2:])
		n = 10
		if h.Length>>63 != 0 {
			return h, n, fmt.Errorf("64-bit length with the most significant bit set")
		}
		if h.Length <= 0xFFFF {
			return h, n, fmt.Errorf("non-minimal 64-bit length %d", h.Length)
		}
	default:
		h.Length = uint64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, errShort
		}
		copy(h.Key[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// IsControl reports whether op is a control opcode (0x8..0xF).
func IsControl(op byte) bool { return op&0x8 != 0 }

// CheckClosePayload validates a close frame payload a peer sent (RFC 6455
// §5.5.1, §7.4): empty, or a code a peer may send plus a UTF-8 reason. It
// returns the code (0 when absent) and reason.
func CheckClosePayload(p []byte) (code int, reason string, err error) {
	switch {
	case len(p) == 0:
		return 0, "", nil
	case len(p) == 1:
		return 0, "", errors.New("close payload of 1 byte")
	}
	code = int(binary.BigEndian.Uint16(p))
	reason = string(p[2:])
	if !ValidCloseCode(code) {
		return code, reason, fmt.Errorf("close code %d may not be sent on the wire", code)
	}
	if !utf8.ValidString(reason) {
		return code, reason, errors.New("close reason is not valid UTF-8")
	}
	return code, reason, nil
}

// ValidCloseCode reports whether code may appear in a close frame on the
// wire (RFC 6455 §7.4.1, §7.4.2 and the IANA registry): 1000–1003,
// 1007–1014 and 3000–4999.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
