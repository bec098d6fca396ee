package ws

import (
	"context"
	"sync"
)

// PreparedMessage is a message encoded once and sent to many connections:
// its server frame (header and payload, unmasked) is built by
// NewPreparedMessage, and its permessage-deflate frame is compressed once
// per compression setting (level and window size) the first time a
// connection with that setting needs it. Server connections that share a
// setting write the same bytes. Client connections mask a copy.
//
// Connections that agreed context takeover (the default of
// permessage-deflate) cannot share compressed bytes, since each one's
// window differs: SendPrepared compresses through the connection's own
// compressor, and a Hub sends them the message uncompressed (RFC 7692
// allows any message to be sent uncompressed; the windows of both sides
// are untouched), so that the hub encodes nothing per connection.
//
// A PreparedMessage is immutable and safe for concurrent use.
type PreparedMessage struct {
	op    byte
	p     []byte // the payload, the tail of frame
	frame []byte // the uncompressed server frame
	mu    sync.Mutex
	z     []zframe // compressed frames, by setting (mu)
}

// zframe is the compressed server frame for one compression setting.
type zframe struct {
	level, bits int
	frame       []byte
	hl          int // header length
}

// NewPreparedMessage encodes p as one message of the type in flags (Text
// or Binary). p is copied: the caller may reuse it at once. Text is not
// validated. Errors: ErrInvalid for flags other than Text or Binary.
func NewPreparedMessage(flags Flags, p []byte) (*PreparedMessage, error) {
	if flags&^Text != 0 {
		return nil, newError("prepare", ErrInvalid, detail("flags other than Text or Binary"))
	}
	op := dataOp(flags)
	hl := headerLen(len(p), false)
	frame := make([]byte, hl+len(p))
	putHeader(frame, true, 0, op, len(p), false, 0)
	copy(frame[hl:], p)
	return &PreparedMessage{op: op, p: frame[hl:], frame: frame}, nil
}

// Len returns the length of the message's payload.
func (m *PreparedMessage) Len() int { return len(m.p) }

// size is what the message counts against a queue's byte budget.
func (m *PreparedMessage) size() int { return len(m.frame) }

// encoded returns the frame to send to c when frames can be shared:
// the compressed frame for c's setting when c compresses this message
// without context takeover, the plain frame otherwise. rsv is the frame's
// RSV1 bit and hl its header length (the payload is frame[hl:]).
func (m *PreparedMessage) encoded(c *Conn) (frame []byte, rsv byte, hl int) {
	z := c.out.zw
	if z == nil || z.takeover || len(m.p) < z.threshold {
		return m.frame, 0, len(m.frame) - len(m.p)
	}
	zf := m.compressed(z.level, z.bits)
	return zf.frame, bitRsv1, zf.hl
}

// compressed returns the compressed frame for a setting, compressing it
// on first use.
func (m *PreparedMessage) compressed(level, bits int) *zframe {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.z {
		if m.z[i].level == level && m.z[i].bits == bits {
			return &m.z[i]
		}
	}
	z := &deflater{level: level, bits: bits} // no takeover: a fresh window
	bufs := [1][]byte{m.p}
	out := z.compress(bufs[:], true)
	hl := headerLen(len(out), false)
	frame := make([]byte, hl+len(out))
	putHeader(frame, true, bitRsv1, m.op, len(out), false, 0)
	copy(frame[hl:], out)
	m.z = append(m.z, zframe{level: level, bits: bits, frame: frame, hl: hl})
	return &m.z[len(m.z)-1]
}

// appendMasked appends to b the frame for client connection c: the
// header with a fresh masking key and the masked payload of frame
// (encoded for c, header length hl).
func appendMasked(b []byte, frame []byte, rsv, op byte, hl int) []byte {
	p := frame[hl:]
	key := newMaskKey()
	var h [maxHeader]byte
	n := putHeader(h[:], true, rsv, op, len(p), true, key)
	b = append(b, h[:n]...)
	start := len(b)
	b = append(b, p...)
	mask(b[start:], key, 0)
	return b
}

// SendPrepared sends the prepared message m on c, like Send with m's type
// and payload, without encoding it again: a server writes the shared
// frame as it is. With permessage-deflate and context takeover, m is
// compressed through c's compressor, as Send does. It blocks until the
// message is written or ctx ends.
//
// Errors: as Send; ErrInvalid for a nil m.
func (c *Conn) SendPrepared(ctx context.Context, m *PreparedMessage) error {
	const op = "sendprepared"
	if m == nil {
		return newError(op, ErrInvalid, detail("nil message"))
	}
	if err := c.enterSend(ctx, op); err != nil {
		return err
	}
	defer c.leaveSend()
	bufs := [1][]byte{m.p}
	if z := c.out.zw; z != nil && z.takeover && len(m.p) >= z.threshold {
		return withOp(op, c.writeCompressed(ctx, true, bitRsv1, m.op, bufs[:]))
	}
	frame, rsv, hl := m.encoded(c)
	if c.client {
		bufs[0] = frame[hl:]
		return withOp(op, c.writeFrame(ctx, true, rsv, m.op, bufs[:], len(bufs[0])))
	}
	return withOp(op, c.writeEncoded(ctx, frame))
}
