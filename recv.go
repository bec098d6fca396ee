package ws

import (
	"context"
	"io"
	"net"
	"time"
	"unsafe"
)

// Recv receives one whole message into p, reassembling its fragments, and
// returns its length and type (Text or Binary), like libdill's ws_recv.
// Pings that arrive meanwhile are answered, pongs are accepted. It blocks
// until a message arrives or ctx ends.
//
// Errors: CloseError (which is ErrPipe) once the peer's close arrived,
// after every message sent before it; ErrMsgSize if the message does not
// fit p: it is discarded and the connection stays usable (unless it also
// exceeds Config.MaxMessageSize, which fails the connection with close
// 1009); ErrProto if the peer broke the protocol: the connection is failed
// with close 1002 (1007 for invalid UTF-8); ErrTimedOut or ErrCanceled
// when ctx ends: if no byte of the next message reached p the connection
// stays fully usable, otherwise the receive side is broken; ErrConnReset
// if the connection failed or broke earlier; ErrBusy if another goroutine
// is receiving; net.ErrClosed after Close or Detach.
func (c *Conn) Recv(ctx context.Context, p []byte) (int, Flags, error) {
	bufs := [1][]byte{p}
	return c.recvv(ctx, "recv", false, bufs[:])
}

// RecvV receives one whole message scattered over bufs, like libdill's
// ws_recvl. An element made by Skip discards that many bytes of the
// message instead of storing them. See Recv; ErrInvalid if an element
// came from Skip with an out-of-range length.
func (c *Conn) RecvV(ctx context.Context, bufs ...[]byte) (int, Flags, error) {
	return c.recvv(ctx, "recvv", false, bufs)
}

// MRecv receives one whole message of the connection's type (chosen at
// attach time) into p, like libdill's mrecv. A message of the other type
// fails with ErrProto and stays queued: Recv or Reader can still take it.
// See Recv.
func (c *Conn) MRecv(ctx context.Context, p []byte) (int, error) {
	bufs := [1][]byte{p}
	n, _, err := c.recvv(ctx, "mrecv", true, bufs[:])
	return n, err
}

// MRecvV is MRecv scattered over bufs, like libdill's mrecvl. See RecvV.
func (c *Conn) MRecvV(ctx context.Context, bufs ...[]byte) (int, error) {
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
	if !c.recvBusy.CompareAndSwap(false, true) {
		return newError(op, ErrBusy, nil)
	}
	if c.peer.closed.Load() {
		c.recvBusy.Store(false)
		return CloseError{c.peer.code, c.peer.reason}
	}
	if c.kaFailed.Load() && c.rerr == nil {
		c.rerr = errKeepalive
	}
	if c.rerr != nil {
		c.recvBusy.Store(false)
		return newError(op, ErrConnReset, c.rerr)
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
	c.rlimit = max(room, c.maxMsg)
	stop := c.armRead(ctx)
	var n int
	var f Flags
	var err error
	done := false
	if len(bufs) == 1 && c.msgOp == 0 && c.pmd == nil && skipKind(bufs[0]) == 0 {
		if c.r == c.w {
			err = c.fill()
		}
		if err == nil {
			n, f, done = c.recvWhole(bufs[0], typed)
		}
	}
	if !done && err == nil {
		n, f, err = c.recvMsg(bufs, typed)
	}
	c.disarmRead(stop)
	if err != nil {
		return 0, f, c.recvError(ctx, op, err)
	}
	return n, f, nil
}

// recvWhole is the fast path of a receive into one buffer: a whole
// unfragmented data frame, already buffered, that fits p. The checks are
// the general path's (parseHeader, checkHeader, UTF-8); whatever does not
// pass them, or any other case, is left for recvMsg (done false), which
// reports it. Nothing is consumed unless done.
func (c *Conn) recvWhole(p []byte, typed bool) (n int, f Flags, done bool) {
	h, hn, err := parseHeader(c.rbuf[c.r:c.w])
	if err != nil || !h.fin || h.control() || h.length > uint64(len(p)) || h.length > uint64(c.w-c.r-hn) ||
		checkHeader(&h, !c.client, false, false) != nil {
		return 0, 0, false
	}
	f = Binary
	if h.op == opText {
		f = Text
	}
	if typed && f != c.typ {
		return 0, 0, false
	}
	start := c.r + hn
	n = int(h.length)
	if h.masked {
		maskCopy(p, c.rbuf[start:start+n], h.key, 0)
	} else {
		copy(p, c.rbuf[start:start+n])
	}
	if f == Text && !validText(p[:n]) {
		return 0, 0, false
	}
	if c.ka != nil {
		c.ka.seen.Store(time.Now().UnixNano())
	}
	c.r = start + n
	return n, f, true
}

// msgFlags is the type of the open message.
func (c *Conn) msgFlags() Flags {
	if c.msgOp == opText {
		return Text
	}
	return Binary
}

// recvMsg receives the next message (or the rest of the open one, if no
// byte of it was delivered yet) into bufs.
func (c *Conn) recvMsg(bufs [][]byte, typed bool) (int, Flags, error) {
	if c.msgOp != 0 && c.streaming {
		// A Reader left its message unfinished: drop the rest.
		if err := c.discard(); err != errDoesNotFit {
			return 0, 0, err
		}
	}
	if c.msgOp == 0 {
		if err := c.nextFrame(); err != nil {
			return 0, 0, err
		}
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
			if err == io.EOF {
				return n, f, c.endMessage()
			}
			if err != nil {
				return n, f, err
			}
		}
	}
	// The buffers are full: the message must end here.
	if err := c.moreToCome(); err == io.EOF {
		return n, f, c.endMessage()
	} else if err != nil {
		return n, f, err
	}
	return n, f, c.discard()
}

// moreToCome returns io.EOF if the open message has no byte left, nil if
// it has. A compressed message ends when the decompressor says so, not
// when its last frame was read: one more byte is taken to tell.
func (c *Conn) moreToCome() error {
	if !c.msgZ {
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
		if err == io.EOF {
			if err := c.endMessage(); err != nil {
				return err
			}
			return errDoesNotFit
		}
		if err != nil {
			return err
		}
		if c.msgN > c.maxMsg {
			return errTooBig
		}
	}
}

// endMessage closes the open message once its last byte was read.
func (c *Conn) endMessage() error {
	if c.msgOp == opText && c.msgUTF8 != 0 {
		return errBadUTF8
	}
	c.msgOp = 0
	c.msgN = 0
	c.streaming = false
	return nil
}

// deliver accounts for the payload bytes p of the open message, checking
// text as UTF-8.
func (c *Conn) deliver(p []byte) error {
	c.msgN += int64(len(p))
	if c.msgOp == opText {
		var ok bool
		if c.msgUTF8, ok = validUTF8(c.msgUTF8, p); !ok {
			return errBadUTF8
		}
	}
	return nil
}

// readPayload reads up to len(dst) bytes of the open message's payload
// (decompressed if need be) into dst, checks them, and returns io.EOF
// after the message's last byte.
func (c *Conn) readPayload(dst []byte) (int, error) {
	if c.msgZ {
		return c.inflate(dst)
	}
	k, err := c.readRaw(dst)
	if k > 0 {
		return k, c.deliver(dst[:k])
	}
	return 0, err
}

// readRaw reads up to len(dst) bytes of the open message's payload as
// sent, unmasked, into dst. With the read buffer empty and much left to
// read, it reads straight into dst.
func (c *Conn) readRaw(dst []byte) (int, error) {
	if err := c.frameReady(); err != nil {
		return 0, err
	}
	want := len(dst)
	if uint64(want) > c.fleft {
		want = int(c.fleft)
	}
	var k int
	if c.r == c.w && want >= readBufSize/2 {
		var err error
		k, err = c.u.Read(dst[:want])
		if k == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
	} else {
		if c.r == c.w {
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
		k = copy(dst[:want], c.rbuf[c.r:c.w])
		c.r += k
	}
	c.fleft -= uint64(k)
	if c.fmasked {
		c.fpos = mask(dst[:k], c.fkey, c.fpos)
	}
	return k, nil
}

// skipPayload consumes up to max bytes of the open message's payload
// from the read buffer without storing them.
func (c *Conn) skipPayload(max int) (int, error) {
	if c.msgZ {
		z := c.pmd
		if z.skip == nil {
			z.skip = make([]byte, 4096)
		}
		return c.inflate(z.skip[:min(max, len(z.skip))])
	}
	if err := c.frameReady(); err != nil {
		return 0, err
	}
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	k := min(max, c.w-c.r)
	if uint64(k) > c.fleft {
		k = int(c.fleft)
	}
	b := c.rbuf[c.r : c.r+k]
	c.r += k
	c.fleft -= uint64(k)
	if c.fmasked {
		c.fpos = mask(b, c.fkey, c.fpos)
	}
	return k, c.deliver(b)
}

// frameReady makes sure payload of the open message is due: it reads the
// headers of continuation frames (and any control frames between them)
// and returns io.EOF at the end of the message.
func (c *Conn) frameReady() error {
	for c.fleft == 0 {
		if c.ffin {
			return io.EOF
		}
		if err := c.nextFrame(); err != nil {
			return err
		}
	}
	return nil
}

// fill reads more bytes from u into the read buffer. With no read buffer
// (a pooled connection between operations) it waits on the small buffer
// and takes a read buffer once bytes arrived.
func (c *Conn) fill() error {
	if c.rbuf == nil {
		n, err := c.u.Read(c.small[:])
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		c.takeReadBuf()
		c.r, c.w = 0, copy(c.rbuf, c.small[:n])
		return nil
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.rbuf) {
		c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
		c.r = 0
	}
	for {
		n, err := c.u.Read(c.rbuf[c.w:])
		c.w += n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
}

// nextFrame reads the next frame header. Control frames are read whole
// (they are never consumed in part, so a timeout leaves them buffered)
// and handled; for a data frame it sets up the payload state and, if the
// frame starts a message, opens it.
func (c *Conn) nextFrame() error {
	for {
		h, hn, err := parseHeader(c.rbuf[c.r:c.w])
		if err == errShort {
			if err := c.fill(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if c.ka != nil {
			c.ka.seen.Store(time.Now().UnixNano())
		}
		if werr := checkHeader(&h, !c.client, c.msgOp != 0, c.pmd != nil); werr != nil {
			return werr
		}
		if h.control() {
			total := hn + int(h.length)
			for c.w-c.r < total {
				if err := c.fill(); err != nil {
					return err
				}
			}
			p := c.rbuf[c.r+hn : c.r+total]
			if h.masked {
				mask(p, h.key, 0)
			}
			c.r += total
			if err := c.control(h.op, p); err != nil {
				return err
			}
			continue
		}
		c.r += hn
		c.fleft, c.ffin, c.fmasked, c.fkey, c.fpos = h.length, h.fin, h.masked, h.key, 0
		if h.op != opCont {
			c.msgOp = h.op
			c.msgZ = h.rsv&bitRsv1 != 0
			c.msgN = 0
			c.msgUTF8 = 0
		}
		if h.length > uint64(c.rlimit-c.msgN) {
			// Never wait for a payload that could not be taken anyway.
			return errTooBig
		}
		return nil
	}
}

// control handles a control frame with payload p.
func (c *Conn) control(op byte, p []byte) error {
	switch op {
	case opPing:
		c.pong(p)
	case opClose:
		code, reason, werr := parseClose(p)
		if werr != nil {
			return werr
		}
		c.peer.code = code
		c.peer.reason = string(reason)
		c.peer.closed.Store(true)
		return CloseError{code, c.peer.reason}
	}
	return nil
}

// pong answers a ping with the same payload (RFC 6455 §5.5.2), unless our
// close was sent. A failure breaks the send side, not the receive side.
func (c *Conn) pong(p []byte) {
	c.wmu.Lock()
	if !c.done {
		c.writeControl(opPong, p, c.rdl)
	}
	c.wmu.Unlock()
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
	kind, cause := c.ioKind(ctx, err)
	if c.kaFailed.Load() {
		kind, cause = ErrConnReset, errKeepalive
	}
	if (kind == ErrTimedOut || kind == ErrCanceled) && c.msgN == 0 && !c.streaming && !c.inflating() {
		return newError(op, kind, nil)
	}
	if c.rerr == nil {
		if cause == nil {
			cause = kind
		}
		c.rerr = cause
	}
	return newError(op, kind, cause)
}

// inflating reports whether compressed bytes of the open message were
// consumed: then the message cannot be received again from its start.
func (c *Conn) inflating() bool { return c.msgZ && c.pmd.fr != nil }

// fail fails the connection after the peer broke the protocol: the
// receive side is broken for good and a close frame with the violation's
// code is sent, best effort, unless a send holds the wire.
func (c *Conn) fail(e *wireError) {
	if c.rerr == nil {
		c.rerr = e
	}
	if !c.wmu.TryLock() {
		return
	}
	defer c.wmu.Unlock()
	if c.done {
		return
	}
	var p [2]byte
	n := putClose(p[:], e.code, "")
	c.done = true
	dl := c.rdl
	if dl.IsZero() {
		dl = time.Now().Add(failCloseTimeout)
	}
	c.writeControl(opClose, p[:n], dl)
}

// failCloseTimeout bounds the best-effort close frame of a failed
// connection when the receive had no deadline.
const failCloseTimeout = 2 * time.Second
