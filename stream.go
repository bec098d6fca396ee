package ws

import (
	"context"
	"io"
)

// Reader waits for the next message and returns its type and a reader of
// its payload, for messages too large to hold at once. The reader returns
// io.EOF at the end of the message; ctx applies to Reader and to every Read
// of the returned reader. Reading past Config.MaxMessageSize fails the
// connection with close 1009 (ErrMsgSize). A message left unfinished is
// discarded by the next Reader or Recv call; its reader then fails.
//
// Errors: as Recv. While a Read is in progress, other receive calls fail
// with ErrBusy.
func (c *Conn) Reader(ctx context.Context) (Flags, io.Reader, error) {
	if err := c.enterRecv(ctx, "reader"); err != nil {
		return 0, nil, err
	}
	defer c.leaveRecv()
	c.rlimit = c.maxMsg
	stop := c.armRead(ctx)
	err := c.openMessage()
	c.disarmRead(stop)
	if err != nil {
		return 0, nil, c.recvError(ctx, "reader", err)
	}
	c.streaming = true
	c.streamGen++
	return c.msgFlags(), &msgReader{c: c, ctx: ctx, gen: c.streamGen}, nil
}

// openMessage reads up to the first frame of the next message, dropping
// the rest of a message a Reader left unfinished.
func (c *Conn) openMessage() error {
	if c.msgOp != 0 && c.streaming {
		if err := c.discard(); err != errDoesNotFit {
			return err
		}
	}
	if c.msgOp == 0 {
		return c.nextFrame()
	}
	return nil
}

type msgReader struct {
	c   *Conn
	ctx context.Context
	gen uint64
	eof bool
}

func (r *msgReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	c := r.c
	if err := c.enterRecv(r.ctx, "read"); err != nil {
		return 0, err
	}
	defer c.leaveRecv()
	if r.gen != c.streamGen || !c.streaming {
		return 0, newError("read", ErrInvalid, errStaleReader)
	}
	c.rlimit = c.maxMsg
	stop := c.armRead(r.ctx)
	n, err := c.readPayload(p)
	if err == nil && c.msgN > c.maxMsg {
		err = errTooBig
	}
	c.disarmRead(stop)
	if err == io.EOF {
		err = c.endMessage()
		if err == nil {
			r.eof = true
			return n, io.EOF
		}
	}
	if err != nil {
		return n, c.recvError(r.ctx, "read", err)
	}
	return n, nil
}

// Writer returns a writer for one message of type flags (Text or Binary)
// whose payload is produced in parts: writes are gathered in the write
// buffer and sent as fragments when it fills; Close sends the last
// fragment. The send side stays taken until Close: other sends fail with
// ErrBusy. ctx applies to every write. Errors: as Send.
func (c *Conn) Writer(ctx context.Context, flags Flags) (io.WriteCloser, error) {
	if flags&^Text != 0 {
		return nil, newError("writer", ErrInvalid, detail("flags other than Text or Binary"))
	}
	if err := c.enterSend(ctx, "writer"); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	err := c.writable(ctx)
	c.wmu.Unlock()
	if err != nil {
		c.leaveSend()
		return nil, withOp("writer", err)
	}
	return &msgWriter{c: c, ctx: ctx, op: dataOp(flags)}, nil
}

type msgWriter struct {
	c      *Conn
	ctx    context.Context
	op     byte // opcode of the next fragment: the type, then opCont
	n      int  // bytes staged in wbuf[maxHeader:]
	closed bool
}

func (w *msgWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, newError("write", ErrInvalid, errWriterClosed)
	}
	c := w.c
	room := len(c.wbuf) - maxHeader
	written := 0
	for len(p) > 0 {
		if w.n == 0 && len(p) >= room {
			// Large writes go out as fragments of their own.
			bufs := [1][]byte{p}
			if err := w.flushFrame(false, bufs[:], len(p)); err != nil {
				return written, err
			}
			return written + len(p), nil
		}
		k := copy(c.wbuf[maxHeader+w.n:], p)
		w.n += k
		written += k
		p = p[k:]
		if w.n == room {
			if err := w.flushFrame(false, nil, w.n); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flushFrame sends the staged bytes (bufs nil) or bufs as one fragment;
// with compression, their compressed form, RSV1 set on the first.
func (w *msgWriter) flushFrame(fin bool, bufs [][]byte, n int) error {
	c := w.c
	stop := c.armWrite(w.ctx)
	var err error
	switch {
	case c.pmd != nil:
		if bufs == nil {
			staged := [1][]byte{c.wbuf[maxHeader : maxHeader+n]}
			bufs = staged[:]
		}
		out := c.pmd.compress(bufs, fin)
		var rsv byte
		if w.op != opCont {
			rsv = bitRsv1
		}
		zb := [1][]byte{out}
		err = c.writeFrame(w.ctx, fin, rsv, w.op, zb[:], len(out))
	case bufs == nil:
		err = c.writeStaged(w.ctx, fin, 0, w.op, n)
	default:
		err = c.writeFrame(w.ctx, fin, 0, w.op, bufs, n)
	}
	c.disarmWrite(stop)
	w.op = opCont
	w.n = 0
	if err != nil {
		// A message cut in the middle cannot be resumed.
		c.wmu.Lock()
		if c.werr == nil {
			c.werr = errCutMessage
		}
		c.wmu.Unlock()
		return withOp("write", err)
	}
	return nil
}

// Close sends the last fragment of the message and frees the send side.
func (w *msgWriter) Close() error {
	if w.closed {
		return newError("close", ErrInvalid, errWriterClosed)
	}
	w.closed = true
	defer w.c.leaveSend()
	return w.flushFrame(true, nil, w.n)
}
