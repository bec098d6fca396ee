package ws

import (
	"context"
	"net"
	"unsafe"
)

// Recv receives one whole message into p, reassembling its fragments, and
// returns its length and type (Text or Binary), like libdill's ws_recv.
// Pings that arrive meanwhile are answered, pongs are accepted. It blocks
// until a message arrives or ctx ends.
//
// Errors:
//   - CloseError (which is ErrPipe) once the peer's close arrived, after
//     every message sent before it;
//   - ErrConnReset if the connection ends without a close frame (a message
//     cut by the end of the stream is never returned, in part or
//     shortened), failed, or broke earlier;
//   - ErrMsgSize if the message does not fit p: it is discarded and the
//     connection stays usable, unless it also exceeds
//     Config.MaxMessageSize, which fails the connection with close 1009;
//   - ErrProto if the peer broke the protocol: the connection is failed
//     with close 1002 (1007 for invalid UTF-8 or compressed data);
//   - ErrTimedOut or ErrCanceled when ctx ends: if no byte of the next
//     message reached p the connection stays fully usable, otherwise the
//     receive side is broken;
//   - ErrBusy if another goroutine is receiving; net.ErrClosed after Close
//     or Detach.
func (c *Conn) Recv(ctx context.Context, p []byte) (int, Flags, error) {
	if c.pooled {
		if err := c.awaitIdle(ctx); err != nil {
			return 0, 0, c.recvFailed(ctx, "recv", err)
		}
	}
	if n, f, err, ok := c.recvFast(ctx, "recv", p, false); ok {
		return n, f, err
	}
	return c.recv1(ctx, "recv", false, p)
}

// recv1 is recvv with one buffer, out of line so that the callers' frames
// stay small (see awaitIdle).
//
//go:noinline
func (c *Conn) recv1(ctx context.Context, op string, typed bool, p []byte) (int, Flags, error) {
	bufs := [1][]byte{p}
	return c.recvv(ctx, op, typed, bufs[:])
}

// RecvV receives one whole message scattered over bufs, like libdill's
// ws_recvl. An element made by Skip discards that many bytes of the
// message instead of storing them. See Recv; ErrInvalid if an element
// came from Skip with an out-of-range length.
func (c *Conn) RecvV(ctx context.Context, bufs ...[]byte) (int, Flags, error) {
	if len(bufs) == 1 && skipKind(bufs[0]) == 0 {
		if c.pooled {
			if err := c.awaitIdle(ctx); err != nil {
				return 0, 0, c.recvFailed(ctx, "recvv", err)
			}
		}
		if n, f, err, ok := c.recvFast(ctx, "recvv", bufs[0], false); ok {
			return n, f, err
		}
	}
	return c.recvv(ctx, "recvv", false, bufs)
}

// MRecv receives one whole message of the connection's type (chosen at
// attach time) into p, like libdill's mrecv. A message of the other type
// fails with ErrProto and stays queued: Recv or Reader can still take it.
// See Recv.
func (c *Conn) MRecv(ctx context.Context, p []byte) (int, error) {
	if c.pooled {
		if err := c.awaitIdle(ctx); err != nil {
			return 0, c.recvFailed(ctx, "mrecv", err)
		}
	}
	if n, _, err, ok := c.recvFast(ctx, "mrecv", p, true); ok {
		return n, err
	}
	n, _, err := c.recv1(ctx, "mrecv", true, p)
	return n, err
}

// MRecvV is MRecv scattered over bufs, like libdill's mrecvl. See RecvV.
func (c *Conn) MRecvV(ctx context.Context, bufs ...[]byte) (int, error) {
	if len(bufs) == 1 && skipKind(bufs[0]) == 0 {
		if c.pooled {
			if err := c.awaitIdle(ctx); err != nil {
				return 0, c.recvFailed(ctx, "mrecvv", err)
			}
		}
		if n, _, err, ok := c.recvFast(ctx, "mrecvv", bufs[0], true); ok {
			return n, err
		}
	}
	n, _, err := c.recvv(ctx, "mrecvv", true, bufs)
	return n, err
}

// MaxSkip is the largest length Skip accepts.
const MaxSkip = 1 << 20

// skipArea backs the elements Skip returns. It is never written: it reads
// as zeros, and as an untouched zero page it costs no memory.
var skipArea [MaxSkip + 1]byte

// Skip returns a receive-list element for RecvV and MRecvV that discards
// n bytes of the message instead of storing them: the Go spelling of
// libdill's iolist element with a NULL base. n must be between 0 and
// MaxSkip; for a longer gap pass several elements. The slice reads as
// zeros and must not be written. An out-of-range n yields an element that
// makes the receive fail with ErrInvalid.
func Skip(n int) []byte {
	if n < 0 || n > MaxSkip {
		return skipArea[MaxSkip:MaxSkip]
	}
	return skipArea[:n:n]
}

// skipKind tells a Skip element (1), an invalid Skip element (-1) or an
// ordinary buffer (0).
func skipKind(b []byte) int {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	base := uintptr(unsafe.Pointer(&skipArea[0]))
	switch {
	case p == base+MaxSkip:
		return -1
	case p >= base && p < base+MaxSkip && len(b) > 0:
		return 1
	}
	return 0
}

// enterRecv checks ctx and the connection's state and takes the receive
// side.
func (c *Conn) enterRecv(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return newError(op, ctxKind(ctx, err), nil)
	}
	if c.closed.Load() {
		return newError(op, net.ErrClosed, nil)
	}
	in := &c.in
	if !in.busy.CompareAndSwap(false, true) && !c.takeFromPing() {
		return newError(op, ErrBusy, nil)
	}
	if pc := in.peer.rec.Load(); pc != nil {
		in.busy.Store(false)
		return CloseError{pc.code, pc.reason}
	}
	if c.kaFailed.Load() && in.err == nil {
		in.err = errKeepalive
	}
	if in.err != nil {
		in.busy.Store(false)
		return newError(op, ErrConnReset, in.err)
	}
	return nil
}

func (c *Conn) recvv(ctx context.Context, op string, typed bool, bufs [][]byte) (int, Flags, error) {
	room := int64(0)
	for _, b := range bufs {
		if len(b) == 0 && skipKind(b) < 0 {
			return 0, 0, newError(op, ErrInvalid, detail("Skip length out of range"))
		}
		room += int64(len(b))
	}
	if err := c.enterRecv(ctx, op); err != nil {
		return 0, 0, err
	}
	defer c.leaveRecv()
	in := &c.in
	in.limit = max(room, in.maxMsg)
	stop := c.armRead(ctx)
	n, f, err := c.recvMsg(bufs, typed)
	c.disarmRead(stop)
	if err != nil {
		return 0, f, c.recvError(ctx, op, err)
	}
	return n, f, nil
}

// msgFlags is the type of the open message.
func (c *Conn) msgFlags() Flags {
	if c.in.msg.op == opText {
		return Text
	}
	return Binary
}

// recvMsg receives the next message (or the rest of the open one, if no
// byte of it was delivered yet) into bufs. It returns nil only for a
// whole message: its last frame read and, compressed, its DEFLATE data
// complete.
func (c *Conn) recvMsg(bufs [][]byte, typed bool) (int, Flags, error) {
	if err := c.openMessage(); err != nil {
		return 0, 0, err
	}
	f := c.msgFlags()
	if typed && f != c.typ {
		return 0, f, errWrongType
	}
	n := 0
	for _, b := range bufs {
		skip := skipKind(b) > 0
		for len(b) > 0 {
			var k int
			var err error
			if skip {
				k, err = c.skipPayload(len(b))
			} else {
				k, err = c.readPayload(b)
			}
			n += k
			b = b[k:]
			if err == errEndOfMessage {
				return n, f, c.endMessage()
			}
			if err != nil {
				return n, f, err
			}
		}
	}
	// The buffers are full: the message must end here.
	if err := c.moreToCome(); err == errEndOfMessage {
		return n, f, c.endMessage()
	} else if err != nil {
		return n, f, err
	}
	return n, f, c.discard()
}

// openMessage reads up to the first frame of the next message, dropping
// the rest of a message a Reader left unfinished.
func (c *Conn) openMessage() error {
	if c.in.msg.op != 0 && c.in.msg.streaming {
		if err := c.discard(); err != errDoesNotFit {
			return err
		}
	}
	if c.in.msg.op == 0 {
		return c.nextFrame()
	}
	return nil
}

// moreToCome returns errEndOfMessage if the open message has no byte
// left, nil if it has. A compressed message whose frames are all read may
// still end with DEFLATE data that produces nothing: one more byte is
// asked for to tell.
func (c *Conn) moreToCome() error {
	if !c.in.msg.z {
		return c.frameReady()
	}
	for {
		k, err := c.skipPayload(1)
		if k > 0 || err != nil {
			return err
		}
	}
}

// discard drops the rest of the open message, still checking it, and
// returns errDoesNotFit, or errTooBig past the message size limit.
func (c *Conn) discard() error {
	for {
		_, err := c.skipPayload(readBufSize)
		if err == errEndOfMessage {
			if err := c.endMessage(); err != nil {
				return err
			}
			return errDoesNotFit
		}
		if err != nil {
			return err
		}
		if c.in.msg.n > c.in.maxMsg {
			return errTooBig
		}
	}
}

// endMessage closes the open message once its last byte was read.
func (c *Conn) endMessage() error {
	m := &c.in.msg
	if m.op == opText && c.in.utf8 != 0 {
		return errBadUTF8
	}
	m.op, m.n, m.streaming = 0, 0, false
	return nil
}

// deliver accounts for the payload bytes p of the open message, checking
// text as UTF-8.
func (c *Conn) deliver(p []byte) error {
	m := &c.in.msg
	m.n += int64(len(p))
	if m.op == opText {
		var ok bool
		if c.in.utf8, ok = validUTF8(c.in.utf8, p); !ok {
			return errBadUTF8
		}
	}
	return nil
}

// readPayload reads up to len(dst) bytes of the open message's payload
// (decompressed if need be) into dst, checks them, and returns
// errEndOfMessage after the message's last byte.
func (c *Conn) readPayload(dst []byte) (int, error) {
	if c.in.msg.z {
		return c.inflate(dst)
	}
	k, err := c.readRaw(dst)
	if k > 0 {
		return k, c.deliver(dst[:k])
	}
	return 0, err
}

// skipPayload consumes up to max bytes of the open message's payload
// without storing them, checking them as readPayload does.
func (c *Conn) skipPayload(max int) (int, error) {
	if c.in.msg.z {
		return c.inflate(c.in.zr.scratch(max))
	}
	b, err := c.skipRaw(max)
	if len(b) > 0 {
		return len(b), c.deliver(b)
	}
	return 0, err
}

// inflate reads decompressed payload of the open message into dst. The
// message's frames decide where it ends, whatever the DEFLATE data says:
// compressed data that ends (a final block) before the payload does
// leaves the rest of the payload to be read and dropped, never to be
// taken as frames. It returns errEndOfMessage after the last byte.
func (c *Conn) inflate(dst []byte) (int, error) {
	in := &c.in
	n, err := in.zr.read((*payloadReader)(c), dst)
	if err != nil && err != errDeflateEnd && err != errBadDeflate {
		// The bytestream failed or timed out: that is the outcome,
		// whatever the bytes decoded from a cut block look like.
		return n, err
	}
	if n > 0 {
		if derr := c.deliver(dst[:n]); derr != nil {
			return n, derr
		}
	}
	if err != errDeflateEnd {
		return n, err
	}
	in.zr.draining = true
	for {
		_, err := c.skipRaw(readBufSize)
		if err == errEndOfMessage {
			break
		}
		if err != nil {
			return n, err
		}
	}
	in.zr.draining = false
	return n, errEndOfMessage
}

// recvError turns a failure of the receive path into the error returned,
// recording it when it breaks the receive side.
func (c *Conn) recvError(ctx context.Context, op string, err error) error {
	switch e := err.(type) {
	case CloseError:
		return e
	case detail:
		switch e {
		case errWrongType:
			return newError(op, ErrProto, e)
		case errDoesNotFit:
			return newError(op, ErrMsgSize, e)
		}
	case *wireError:
		c.fail(e)
		return newError(op, e.kind, e)
	}
	in := &c.in
	kind, cause := c.ioKind(ctx, err)
	if c.kaFailed.Load() {
		kind, cause = ErrConnReset, errKeepalive
	}
	if (kind == ErrTimedOut || kind == ErrCanceled) && in.msg.n == 0 && !in.msg.streaming &&
		!(in.msg.z && in.zr.busy()) {
		return newError(op, kind, nil)
	}
	if in.err == nil {
		if cause == nil {
			cause = kind
		}
		in.err = cause
	}
	return newError(op, kind, cause)
}

// fail fails the connection after the peer broke the protocol: the
// receive side is broken for good and a close frame with the violation's
// code is sent, best effort: now if the frame lock is free, otherwise by
// the holder right after its frame.
func (c *Conn) fail(e *wireError) {
	if c.in.err == nil {
		c.in.err = e
	}
	c.queueClose(e.code)
}
