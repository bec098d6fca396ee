package ws

import (
	"context"
	"encoding/binary"
	"time"
)

// recvFast is the fast path of Recv and MRecv, one call level above the
// copy: no message open, a ctx that is Background (or, with a whole frame
// already buffered, any live ctx: no read is made, so its deadline does
// not matter), and the next frame a whole unfragmented, uncompressed data
// frame that fits p. If the read buffer is empty and ctx can never end, it
// reads once itself. Everything else, and anything whose checks fail, is
// left to the general path (ok false) with nothing consumed, which then
// does the same checks again and reports what it finds. ok true with a
// non-nil err only for a failed read, already accounted as recvv would.
func (c *Conn) recvFast(ctx context.Context, op string, p []byte, typed bool) (n int, f Flags, err error, ok bool) {
	in := &c.in
	if !in.busy.CompareAndSwap(false, true) {
		return 0, 0, nil, false
	}
	// The state checks: each is one load, and together they cover what
	// enterRecv checks (Close, the peer's close, a sticky failure, the
	// keepalive) and what recvMsg would need (an open message, a pooled
	// connection without its read buffer).
	if c.closed.Load() || in.peer.rec.Load() != nil || c.kaFailed.Load() || in.err != nil ||
		in.msg.op != 0 || in.buf == nil {
		in.busy.Store(false)
		return 0, 0, nil, false
	}
	if in.r == in.w {
		// Nothing buffered: read once, only with a ctx that can never
		// end and no deadline left on u by an earlier call.
		if ctx.Done() != nil || in.dl.at != 0 || in.dl.dirty.Load() {
			in.busy.Store(false)
			return 0, 0, nil, false
		}
		if rerr := c.fill(); rerr != nil {
			err = c.recvError(ctx, op, rerr)
			c.leaveRecv()
			return 0, 0, err, true
		}
	} else if ctx.Err() != nil {
		in.busy.Store(false)
		return 0, 0, nil, false
	}
	b := in.buf[in.r:in.w]
	// A frame with FIN, no RSV bit, opcode text or binary; masked
	// exactly when sent by a client; a 7- or minimal 16-bit length.
	if len(b) < 2 || b[0] != bitFin|opText && b[0] != bitFin|opBinary || (b[1]&bitMask != 0) == c.client {
		in.busy.Store(false)
		return 0, 0, nil, false
	}
	l, hn := int(b[1]&0x7f), 2
	if l >= 126 {
		if l == 127 || len(b) < 4 {
			in.busy.Store(false)
			return 0, 0, nil, false
		}
		l, hn = int(binary.BigEndian.Uint16(b[2:])), 4
		if l < 126 {
			in.busy.Store(false)
			return 0, 0, nil, false
		}
	}
	f = Flags(b[0] & 1) // opText is 1, opBinary 2: Text or Binary
	if typed && f != c.typ || l > len(p) {
		in.busy.Store(false)
		return 0, 0, nil, false
	}
	if c.client {
		if l > len(b)-hn {
			in.busy.Store(false)
			return 0, 0, nil, false
		}
		copy(p, b[hn:hn+l])
	} else {
		if hn+4 > len(b) || l > len(b)-hn-4 {
			in.busy.Store(false)
			return 0, 0, nil, false
		}
		key := binary.LittleEndian.Uint32(b[hn:])
		hn += 4
		maskCopy(p, b[hn:hn+l], key, 0)
	}
	if f == Text && !validText(p[:l]) {
		in.busy.Store(false)
		return 0, 0, nil, false
	}
	if c.ka != nil {
		c.ka.seen.Store(time.Now().UnixNano())
	}
	in.r += hn + l
	if c.pooled {
		c.leaveRecv()
	} else {
		in.busy.Store(false)
	}
	return l, f, nil, true
}
