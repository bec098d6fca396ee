package ws

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// Send sends p as one message of the type in flags (Text or Binary), in a
// single frame, like libdill's ws_send. A client masks the payload into
// its write buffer; p is never modified. It blocks until the message is
// written or ctx ends; it waits for a pong or a close being written by
// another goroutine only until ctx ends. A message up to the write buffer
// (16 KiB less the header) leaves in one write call, header and payload
// together; larger ones in one writev on a server.
//
// Send is one goroutine at a time: a concurrent Send fails with ErrBusy
// instead of waiting behind the first. Concurrent sends are not queued
// and coalesced here by design: a queued send would hand its message to
// whichever goroutine holds the wire, so that its ctx would stop bounding
// it once taken, its error would be the holder's, and with context
// takeover one failed write would break the compressor's window for
// messages of every sender. The Hub does that hand-off explicitly: any
// goroutine publishes, one writer per connection owns the wire and sends
// everything queued in one write call.
//
// Errors:
//   - ErrPipe after Done (or our close of a failed connection);
//   - ErrBusy if another goroutine is sending (or streaming through a
//     Writer, or the Hub's writer is writing); ErrInvalid for flags other
//     than Text or Binary;
//   - ErrTimedOut or ErrCanceled when ctx ends: if no byte of the message
//     was written the connection stays usable, otherwise the send side is
//     broken; with permessage-deflate and context takeover, a compressed
//     message that timed out breaks the send side, since the compressor
//     already holds it;
//   - ErrConnReset if the connection failed; net.ErrClosed after Close or
//     Detach.
func (c *Conn) Send(ctx context.Context, flags Flags, p []byte) error {
	if flags&^Text == 0 && ctx.Done() == nil {
		return c.sendFast(ctx, "send", flags, p)
	}
	bufs := [1][]byte{p}
	return c.sendv(ctx, "send", flags, bufs[:])
}

// SendV sends the concatenation of bufs as one message, like libdill's
// ws_sendl. See Send.
func (c *Conn) SendV(ctx context.Context, flags Flags, bufs ...[]byte) error {
	return c.sendv(ctx, "sendv", flags, bufs)
}

// MSend sends p as one message of the connection's type (chosen at attach
// time), like libdill's msend. See Send.
func (c *Conn) MSend(ctx context.Context, p []byte) error {
	if ctx.Done() == nil {
		return c.sendFast(ctx, "msend", c.typ, p)
	}
	bufs := [1][]byte{p}
	return c.sendv(ctx, "msend", c.typ, bufs[:])
}

// MSendV sends the concatenation of bufs as one message of the
// connection's type, like libdill's msendl. See Send.
func (c *Conn) MSendV(ctx context.Context, bufs ...[]byte) error {
	return c.sendv(ctx, "msendv", c.typ, bufs)
}

func dataOp(flags Flags) byte {
	if flags&Text != 0 {
		return opText
	}
	return opBinary
}

func newMaskKey() uint32 { return rand.Uint32() }

// sendFast is Send for a ctx that never ends (Background, TODO) and
// valid flags: the common case of one uncompressed frame that fits the
// write buffer, on a connection with nothing else to do (send side and
// frame lock free in one load each, no pending control frame, no
// deadline left on u, no failure), goes from here to the write with no
// call between but the header's. Anything else takes the general path
// (sendv), with the send side already held where it was taken.
func (c *Conn) sendFast(ctx context.Context, op string, flags Flags, p []byte) error {
	s := &c.out
	if c.closed.Load() || !s.busy.CompareAndSwap(false, true) {
		bufs := [1][]byte{p}
		return c.sendv(ctx, op, flags, bufs[:])
	}
	if s.buf == nil {
		c.takeWriteBuf()
	}
	n := len(p)
	if s.zw != nil || n > len(s.buf)-maxHeader || !s.lock.state.CompareAndSwap(lockFree, lockHeld) {
		bufs := [1][]byte{p}
		return c.sendHeld(ctx, op, flags, bufs[:])
	}
	// The frame lock is ours; the checks of lockWrite and writable for a
	// ctx that never ends follow.
	if s.lock.closed.Load() || s.pending.any.Load() || s.dl.at != 0 || s.dl.dirty.Load() ||
		s.err != nil || s.closeSent.Load() || c.kaFailed.Load() {
		s.lock.unlock()
		bufs := [1][]byte{p}
		return c.sendHeld(ctx, op, flags, bufs[:])
	}
	buf := s.buf
	copy(buf[maxHeader:], p)
	b0 := bitFin | dataOp(flags)
	var start int
	if c.client {
		key := newMaskKey()
		mask(buf[maxHeader:maxHeader+n], key, 0)
		start = maxHeader - headerLen(n, true)
		putHeader(buf[start:], true, 0, b0&^bitFin, n, true, key)
	} else if n <= 125 {
		start = maxHeader - 2
		buf[start], buf[start+1] = b0, byte(n)
	} else {
		start = maxHeader - headerLen(n, false)
		putHeader(buf[start:], true, 0, b0&^bitFin, n, false, 0)
	}
	m, werr := c.u.Write(buf[start : maxHeader+n])
	var err error
	if werr != nil {
		err = withOp(op, c.sendResult(ctx, int64(m), werr))
	}
	if s.pending.any.Load() || !s.lock.state.CompareAndSwap(lockHeld, lockFree) {
		c.unlockWrite(nil)
	} else if s.pending.any.Load() {
		c.flushQueued()
	}
	if c.pooled && s.buf != nil {
		writePool.Put((*[writeBufSize]byte)(s.buf))
		s.buf = nil
	}
	s.busy.Store(false)
	return err
}

func (c *Conn) sendv(ctx context.Context, op string, flags Flags, bufs [][]byte) error {
	if flags&^Text != 0 {
		return newError(op, ErrInvalid, detail("flags other than Text or Binary"))
	}
	if err := c.enterSend(ctx, op); err != nil {
		return err
	}
	return c.sendHeld(ctx, op, flags, bufs)
}

// sendHeld sends bufs as one message with the send side taken (valid
// flags), and frees it.
func (c *Conn) sendHeld(ctx context.Context, op string, flags Flags, bufs [][]byte) error {
	defer c.leaveSend()
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	var err error
	if z := c.out.zw; z != nil && n >= z.threshold {
		err = c.writeCompressed(ctx, true, bitRsv1, dataOp(flags), bufs)
	} else {
		err = c.writeFrame(ctx, true, 0, dataOp(flags), bufs, n)
	}
	return withOp(op, err)
}

// withOp names the operation in an error built below the API layer.
func withOp(op string, err error) error {
	if e, ok := err.(*opError); ok && e.op == "" {
		e.op = op
	}
	return err
}

// enterSend checks ctx and the connection's state and takes the send side.
func (c *Conn) enterSend(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return newError(op, ctxKind(ctx, err), nil)
	}
	if c.closed.Load() {
		return newError(op, net.ErrClosed, nil)
	}
	if !c.out.busy.CompareAndSwap(false, true) {
		return newError(op, ErrBusy, nil)
	}
	c.takeWriteBuf()
	return nil
}

// writeFrame writes one frame whose payload is the concatenation of bufs
// (n bytes in all; bufs nil: already staged in buf[maxHeader:]) under the
// frame lock, bounded by ctx.
func (c *Conn) writeFrame(ctx context.Context, fin bool, rsv, op byte, bufs [][]byte, n int) error {
	stop, err := c.lockWrite(ctx)
	if err != nil {
		return err
	}
	if err = c.writable(); err == nil {
		var written int64
		var werr error
		if buf := c.out.buf; n <= len(buf)-maxHeader {
			off := maxHeader
			for _, b := range bufs {
				off += copy(buf[off:], b)
			}
			written, werr = c.writeStaged(fin, rsv, op, n)
		} else {
			written, werr = c.writeLocked(fin, rsv, op, bufs, n)
		}
		if werr != nil {
			err = c.sendResult(ctx, written, werr)
		}
	}
	c.unlockWrite(stop)
	return err
}

// writeCompressed compresses bufs as (the next part of) a message and
// writes the result as one frame. The frame lock is taken and the send
// side checked before the compressor sees the data, so that a send cut
// short before that leaves the compressor as it was. Once compressed,
// with context takeover, the data is in the compressor's window: if it
// does not reach the peer whole, the send side is broken (the peer would
// decode later messages against a window it never had).
func (c *Conn) writeCompressed(ctx context.Context, fin bool, rsv, op byte, bufs [][]byte) error {
	stop, err := c.lockWrite(ctx)
	if err != nil {
		return err
	}
	if err = c.writable(); err == nil {
		z := c.out.zw
		out := z.compress(bufs, fin)
		zb := [1][]byte{out}
		written, werr := c.writeLocked(fin, rsv, op, zb[:], len(out))
		err = c.sendResult(ctx, written, werr)
		if werr != nil && z.takeover {
			if c.out.err == nil {
				c.out.err = errLostWindow
			}
			if e, ok := err.(*opError); ok && e.cause == nil {
				e.cause = errLostWindow
			}
		}
	}
	c.unlockWrite(stop)
	return err
}

// writeLocked writes one frame. Caller holds the frame lock. Small
// payloads are gathered with the header in the write buffer and written
// at once; larger ones go out with writev on a server, and masked through
// a pooled 64 KiB buffer (with Storage, the write buffer) on a client.
func (c *Conn) writeLocked(fin bool, rsv, op byte, bufs [][]byte, n int) (int64, error) {
	s := &c.out
	if n <= len(s.buf)-maxHeader {
		off := maxHeader
		for _, b := range bufs {
			off += copy(s.buf[off:], b)
		}
		return c.writeStaged(fin, rsv, op, n)
	}
	if c.client {
		key := newMaskKey()
		if c.pooled {
			// A connection without Storage masks through a pooled
			// 64 KiB buffer, so that a frame of up to 64 KiB leaves in
			// one write (four or more through the write buffer).
			mb := maskPool.Get().(*[maskBufSize]byte)
			hl := putHeader(mb[:], fin, rsv, op, n, true, key)
			written, err := c.writeMasked(mb[:], hl, bufs, key)
			maskPool.Put(mb)
			return written, err
		}
		hl := putHeader(s.buf, fin, rsv, op, n, true, key)
		return c.writeMasked(s.buf, hl, bufs, key)
	}
	g := c.gatherScratch()
	hl := putHeader(g.hbuf[:], fin, rsv, op, n, false, 0)
	g.vec = append(append(g.vec[:0], g.hbuf[:hl]), bufs...)
	return c.writev(g)
}

// writeMasked writes the header in buf[:off] and the masked payload
// through buf, one buffer-full at a time.
func (c *Conn) writeMasked(buf []byte, off int, bufs [][]byte, key uint32) (int64, error) {
	pos := 0
	var written int64
	for _, b := range bufs {
		for len(b) > 0 {
			k := min(len(b), len(buf)-off)
			pos = maskCopy(buf[off:], b[:k], key, pos)
			b = b[k:]
			off += k
			if off == len(buf) {
				m, err := c.u.Write(buf)
				written += int64(m)
				if err != nil {
					return written, err
				}
				off = 0
			}
		}
	}
	if off > 0 {
		m, err := c.u.Write(buf[:off])
		written += int64(m)
		return written, err
	}
	return written, nil
}

// writeStaged writes one frame whose n-byte payload is in
// buf[maxHeader:], with the header placed just before it.
func (c *Conn) writeStaged(fin bool, rsv, op byte, n int) (int64, error) {
	buf := c.out.buf
	var key uint32
	if c.client {
		key = newMaskKey()
		mask(buf[maxHeader:maxHeader+n], key, 0)
	}
	hl := headerLen(n, c.client)
	start := maxHeader - hl
	putHeader(buf[start:], fin, rsv, op, n, c.client, key)
	m, err := c.u.Write(buf[start : maxHeader+n])
	return int64(m), err
}

// writable checks, under the frame lock, that a data frame may be written.
func (c *Conn) writable() error {
	if c.out.err == nil && !c.out.closeSent.Load() && !c.kaFailed.Load() {
		return nil
	}
	return c.notWritable()
}

func (c *Conn) notWritable() error {
	switch {
	case c.kaFailed.Load():
		if c.out.err == nil {
			c.out.err = errKeepalive
		}
		return newError("", ErrConnReset, c.out.err)
	case c.out.err != nil:
		return newError("", ErrConnReset, c.out.err)
	}
	return newError("", ErrPipe, nil)
}

// sendResult turns the outcome of a frame write into an error, under the
// frame lock. A write cut short by ctx before its first byte leaves the
// send side usable; any other failure breaks it for good.
func (c *Conn) sendResult(ctx context.Context, written int64, err error) error {
	if err == nil {
		return nil
	}
	kind, cause := c.ioKind(ctx, err)
	if c.kaFailed.Load() {
		kind, cause = ErrConnReset, errKeepalive
	}
	if (kind == ErrTimedOut || kind == ErrCanceled) && written == 0 {
		return newError("", kind, nil)
	}
	if c.out.err == nil {
		if cause == nil {
			cause = kind
		}
		c.out.err = cause
	}
	return newError("", kind, cause)
}

// writeEncoded writes one frame encoded in advance (a PreparedMessage's
// server frame) under the frame lock, bounded by ctx.
func (c *Conn) writeEncoded(ctx context.Context, frame []byte) error {
	stop, err := c.lockWrite(ctx)
	if err != nil {
		return err
	}
	if err = c.writable(); err == nil {
		m, werr := c.u.Write(frame)
		err = c.sendResult(ctx, int64(m), werr)
	}
	c.unlockWrite(stop)
	return err
}

// sendFrames is the Hub's writer: it writes bufs, whole encoded frames
// whose ends (cumulative byte offsets) are in ends, in one vectored write.
// It takes the send side (polling while a Send or a Writer holds it) and
// the frame lock; pending control frames go out first. The write deadline
// is dl (zero: none); another goroutine cuts the write by setting halt and
// calling haltWrite. A write cut inside a frame finishes that frame
// within grace (after calling cut, which may get the peer to
// read), so that the stream stays at a frame boundary and a close frame
// can follow. It returns the number of frames written whole
// and nil, ErrTimedOut (cut by dl or halt: the connection stays usable),
// or what Send returns for a failed connection (then the send side is
// broken if a byte went out).
func (c *Conn) sendFrames(dl time.Time, halt *atomic.Bool, bufs [][]byte, ends []int, cut func(), grace time.Duration) (int, error) {
	for !c.out.busy.CompareAndSwap(false, true) {
		switch {
		case c.closed.Load():
			return 0, newError("", net.ErrClosed, nil)
		case halt.Load() || (!dl.IsZero() && time.Now().After(dl)):
			return 0, newError("", ErrTimedOut, nil)
		}
		time.Sleep(time.Millisecond)
	}
	defer c.out.busy.Store(false)
	if err := c.out.lock.lock(context.Background()); err != nil {
		return 0, newError("", err, nil)
	}
	defer c.unlockWrite(nil)
	if c.out.pending.any.Load() {
		c.flushPending()
	}
	c.setWriteDeadline(dl)
	if halt.Load() {
		return 0, newError("", ErrTimedOut, nil)
	}
	if err := c.writable(); err != nil {
		return 0, err
	}
	written, err := c.writeBufs(bufs)
	if err == nil {
		return len(ends), nil
	}
	n := 0 // frames written whole
	for n < len(ends) && int64(ends[n]) <= written {
		n++
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded) && !c.closed.Load() && !c.kaFailed.Load()
	if timeout && (written == 0 || n > 0 && int64(ends[n-1]) == written) {
		return n, newError("", ErrTimedOut, nil)
	}
	if timeout { // finish the frame cut short
		cut()
		c.setWriteDeadline(time.Now().Add(grace))
		if _, err = c.writeBufs(byteRange(bufs, written, int64(ends[n]))); err == nil {
			return n + 1, newError("", ErrTimedOut, nil)
		}
	}
	return n, c.sendResult(context.Background(), written, err)
}

// writeBufs writes bufs with one writev where u supports it. Caller holds
// the frame lock.
func (c *Conn) writeBufs(bufs [][]byte) (int64, error) {
	if len(bufs) == 1 {
		m, err := c.u.Write(bufs[0])
		return int64(m), err
	}
	g := c.gatherScratch()
	g.vec = append(g.vec[:0], bufs...)
	return c.writev(g)
}

// byteRange returns the bytes [from, to) of the concatenation of bufs.
func byteRange(bufs [][]byte, from, to int64) [][]byte {
	var out [][]byte
	var off int64
	for _, b := range bufs {
		lo, hi := max(from-off, 0), min(to-off, int64(len(b)))
		if lo < hi {
			out = append(out, b[lo:hi])
		}
		off += int64(len(b))
	}
	return out
}

// haltWrite cuts the write of sendFrames in progress, from any goroutine:
// the caller set the halt flag first.
func (c *Conn) haltWrite() { c.out.dl.expire(c.u.SetWriteDeadline) }
