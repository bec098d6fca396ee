package ws

import "encoding/binary"

// Opcodes (RFC 6455 §5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

const (
	maxHeader   = 14  // 2 + 8 (length) + 4 (mask key)
	maxControl  = 125 // payload bound of a control frame (§5.5)
	maxReason   = 123 // a close reason after its 2-byte code
	bitFin      = 0x80
	bitRsv1     = 0x40
	bitsRsv     = 0x70
	bitMask     = 0x80
	maxCtlFrame = maxHeader + maxControl
)

// header is a decoded frame header (RFC 6455 §5.2).
type header struct {
	fin    bool
	rsv    byte // the RSV1..RSV3 bits, in place (0x70 mask)
	op     byte
	masked bool
	key    uint32 // the masking key as loaded little-endian, ready for mask
	length uint64
}

func (h *header) control() bool { return h.op&0x8 != 0 }

// parseHeader decodes the frame header at the start of b and returns it
// with its encoded length. It returns errShort if b holds only part of it,
// and errBadLength for a 64-bit length with the top bit set (§5.2).
func parseHeader(b []byte) (h header, n int, err error) {
	if len(b) < 2 {
		return h, 0, errShort
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&bitFin != 0
	h.rsv = b0 & bitsRsv
	h.op = b0 & 0x0f
	h.masked = b1&bitMask != 0
	n = 2
	switch l := b1 & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, errShort
		}
		h.length = uint64(binary.BigEndian.Uint16(b[2:]))
		if h.length < 126 {
			return h, 0, errNonMinimal
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, errShort
		}
		h.length = binary.BigEndian.Uint64(b[2:])
		if h.length>>63 != 0 {
			return h, 0, errBadLength
		}
		if h.length <= 0xffff {
			return h, 0, errNonMinimal
		}
		n = 10
	default:
		h.length = uint64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, 0, errShort
		}
		h.key = binary.LittleEndian.Uint32(b[n:])
		n += 4
	}
	return h, n, nil
}

// checkHeader applies the rules of RFC 6455 §5.2–§5.5 and RFC 7692 §6 to a
// header received by a server (fromClient) or a client, while a fragmented
// message is open (inMsg) or not, with compression negotiated (deflate) or
// not.
func checkHeader(h *header, fromClient, inMsg, deflate bool) *wireError {
	allowed := byte(0)
	if deflate {
		allowed = bitRsv1
	}
	if h.rsv&^allowed != 0 {
		return errReservedBits
	}
	switch h.op {
	case opCont:
		if !inMsg {
			return errNoMessage
		}
		if h.rsv != 0 {
			return errRSV1
		}
	case opText, opBinary:
		if inMsg {
			return errNested
		}
	case opClose, opPing, opPong:
		if !h.fin {
			return errFragControl
		}
		if h.length > maxControl {
			return errBigControl
		}
		if h.rsv != 0 {
			return errRSV1
		}
	default:
		return errReservedOp
	}
	if h.masked != fromClient {
		if fromClient {
			return errUnmasked
		}
		return errMasked
	}
	return nil
}

// putHeader encodes a frame header into b, which must hold maxHeader bytes,
// and returns its length. A client (masked) passes its masking key.
func putHeader(b []byte, fin bool, rsv, op byte, length int, masked bool, key uint32) int {
	b0 := rsv | op
	if fin {
		b0 |= bitFin
	}
	var m byte
	if masked {
		m = bitMask
	}
	b[0] = b0
	n := 2
	switch {
	case length <= 125:
		b[1] = m | byte(length)
	case length <= 0xffff:
		b[1] = m | 126
		binary.BigEndian.PutUint16(b[2:], uint16(length))
		n = 4
	default:
		b[1] = m | 127
		binary.BigEndian.PutUint64(b[2:], uint64(length))
		n = 10
	}
	if masked {
		binary.LittleEndian.PutUint32(b[n:], key)
		n += 4
	}
	return n
}

// headerLen is the encoded length of a header for a payload of length n.
func headerLen(n int, masked bool) int {
	l := 2
	switch {
	case n > 0xffff:
		l = 10
	case n > 125:
		l = 4
	}
	if masked {
		l += 4
	}
	return l
}

// validCode reports whether code may appear in a close frame on the wire
// (RFC 6455 §7.4.1–§7.4.2, IANA registry): 1000–1003, 1007–1014 and
// 3000–4999.
func validCode(code StatusCode) bool {
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

// parseClose decodes a close frame's payload (RFC 6455 §5.5.1): no
// payload is code 0; otherwise a valid code and a UTF-8 reason.
func parseClose(p []byte) (code StatusCode, reason []byte, err *wireError) {
	switch len(p) {
	case 0:
		return 0, nil, nil
	case 1:
		return 0, nil, errCloseLen
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !validCode(code) {
		return 0, nil, errCloseCode
	}
	reason = p[2:]
	if !validText(reason) {
		return 0, nil, errBadReason
	}
	return code, reason, nil
}

// putClose encodes a close payload into b (len ≥ maxControl) and returns
// its length. Code 0 means an empty payload.
func putClose(b []byte, code StatusCode, reason string) int {
	if code == 0 {
		return 0
	}
	binary.BigEndian.PutUint16(b, uint16(code))
	return 2 + copy(b[2:], reason)
}

// checkClose validates the arguments of Done and Detach.
func checkClose(code StatusCode, reason string) error {
	if code == 0 {
		if reason != "" {
			return detail("a reason needs a status code")
		}
		return nil
	}
	if !validCode(code) {
		return detail("status code may not be sent")
	}
	if len(reason) > maxReason {
		return detail("reason over 123 bytes")
	}
	if !validText([]byte(reason)) {
		return detail("reason is not UTF-8")
	}
	return nil
}
