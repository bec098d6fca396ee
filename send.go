package ws

import (
	"context"
	"math/rand/v2"
	"net"
	"time"
)

// Send sends p as one message of the type in flags (Text or Binary), in a
// single frame, like libdill's ws_send. A client masks the payload into
// its write buffer; p is never modified. It blocks until the message is
// written or ctx ends.
//
// Errors: ErrPipe after Done; ErrBusy if another goroutine is sending;
// ErrInvalid for flags other than Text or Binary; ErrTimedOut or
// ErrCanceled when ctx ends (if no byte of the message was written the
// connection stays usable, otherwise the send side is broken);
// ErrConnReset if the connection failed; net.ErrClosed after Close or
// Detach.
func (c *Conn) Send(ctx context.Context, flags Flags, p []byte) error {
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

func (c *Conn) sendv(ctx context.Context, op string, flags Flags, bufs [][]byte) error {
	if flags&^Text != 0 {
		return newError(op, ErrInvalid, detail("flags other than Text or Binary"))
	}
	if err := c.enterSend(ctx, op); err != nil {
		return err
	}
	defer c.leaveSend()
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	stop := c.armWrite(ctx)
	var err error
	if c.pmd != nil && n >= c.pmd.threshold {
		out := c.pmd.compress(bufs, true)
		zb := [1][]byte{out}
		err = c.writeFrame(ctx, true, bitRsv1, dataOp(flags), zb[:], len(out))
	} else {
		err = c.writeFrame(ctx, true, 0, dataOp(flags), bufs, n)
	}
	c.disarmWrite(stop)
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
	if !c.sendBusy.CompareAndSwap(false, true) {
		return newError(op, ErrBusy, nil)
	}
	c.takeWriteBuf()
	return nil
}

// writeFrame writes one frame whose payload is the concatenation of bufs
// (n bytes in all). Small payloads are gathered with the header in the
// write buffer and written at once; larger ones go out with writev on a
// server and masked through the write buffer on a client.
func (c *Conn) writeFrame(ctx context.Context, fin bool, rsv, op byte, bufs [][]byte, n int) error {
	if n <= len(c.wbuf)-maxHeader {
		off := maxHeader
		for _, b := range bufs {
			off += copy(c.wbuf[off:], b)
		}
		return c.writeStaged(ctx, fin, rsv, op, n)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(ctx); err != nil {
		return err
	}
	var key uint32
	if c.client {
		key = rand.Uint32()
	}
	hl := putHeader(c.hbuf[:], fin, rsv, op, n, c.client, key)
	var written int64
	var err error
	if !c.client {
		c.vec = append(append(c.vec[:0], c.hbuf[:hl]), bufs...)
		c.nb = c.vec
		written, err = c.nb.WriteTo(c.u)
		clear(c.vec)
		c.nb = nil
	} else {
		written, err = c.writeMasked(hl, bufs, key)
	}
	return c.sendResult(ctx, written, err)
}

// writeMasked writes the header in hbuf[:hl] and the masked payload
// through wbuf, one buffer-full at a time.
func (c *Conn) writeMasked(hl int, bufs [][]byte, key uint32) (int64, error) {
	off := copy(c.wbuf, c.hbuf[:hl])
	pos := 0
	var written int64
	for _, b := range bufs {
		for len(b) > 0 {
			k := min(len(b), len(c.wbuf)-off)
			pos = maskCopy(c.wbuf[off:], b[:k], key, pos)
			b = b[k:]
			off += k
			if off == len(c.wbuf) {
				m, err := c.u.Write(c.wbuf)
				written += int64(m)
				if err != nil {
					return written, err
				}
				off = 0
			}
		}
	}
	if off > 0 {
		m, err := c.u.Write(c.wbuf[:off])
		written += int64(m)
		return written, err
	}
	return written, nil
}

// writeStaged writes one frame whose n-byte payload is in
// wbuf[maxHeader:], with the header placed just before it.
func (c *Conn) writeStaged(ctx context.Context, fin bool, rsv, op byte, n int) error {
	var key uint32
	if c.client {
		key = rand.Uint32()
		mask(c.wbuf[maxHeader:maxHeader+n], key, 0)
	}
	hl := headerLen(n, c.client)
	start := maxHeader - hl
	putHeader(c.wbuf[start:], fin, rsv, op, n, c.client, key)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(ctx); err != nil {
		return err
	}
	m, err := c.u.Write(c.wbuf[start : maxHeader+n])
	return c.sendResult(ctx, int64(m), err)
}

// writable checks, under wmu, that a data frame may be written now, and
// applies ctx's deadline to the write side.
func (c *Conn) writable(ctx context.Context) error {
	if c.werr != nil {
		return &opError{kind: ErrConnReset, cause: c.werr}
	}
	if c.done {
		return &opError{kind: ErrPipe}
	}
	if ctx.Done() == nil { // never ends: only clear an earlier deadline
		if !c.wdl.IsZero() || c.cancels.wdirty.Load() {
			c.setWriteDeadline(time.Time{})
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return &opError{kind: ctxKind(ctx, err)}
	}
	dl, _ := ctx.Deadline()
	c.setWriteDeadline(dl)
	return nil
}

// sendResult turns the outcome of a frame write into an error, under wmu.
// A write cut short by ctx before its first byte leaves the send side
// usable; any other failure breaks it for good.
func (c *Conn) sendResult(ctx context.Context, written int64, err error) error {
	if err == nil {
		return nil
	}
	kind, cause := c.ioKind(ctx, err)
	if (kind == ErrTimedOut || kind == ErrCanceled) && written == 0 {
		return &opError{kind: kind}
	}
	if c.werr == nil {
		if cause == nil {
			cause = kind
		}
		c.werr = cause
	}
	return &opError{kind: kind, cause: cause}
}

// writeControl writes a control frame with payload p (≤ 125 bytes) under
// wmu, with deadline dl. It is used for pongs and closes, from either side.
func (c *Conn) writeControl(op byte, p []byte, dl time.Time) error {
	if c.werr != nil {
		return c.werr
	}
	var key uint32
	if c.client {
		key = rand.Uint32()
	}
	hl := putHeader(c.cbuf[:], true, 0, op, len(p), c.client, key)
	n := copy(c.cbuf[hl:], p)
	if c.client {
		mask(c.cbuf[hl:hl+n], key, 0)
	}
	c.setWriteDeadline(dl)
	if _, err := c.u.Write(c.cbuf[:hl+n]); err != nil {
		c.werr = err
		return err
	}
	return nil
}
