package ws

import (
	"context"
	"io"
)

// Reader waits for the next message and returns its type and a reader of
// its payload, for messages too large to hold at once. The reader returns
// io.EOF only after the message's last byte: a connection that ends inside
// the message makes Read fail with ErrConnReset, so a message read to
// io.EOF is the whole message as sent. ctx applies to Reader and to every
// Read of the returned reader. Reading past Config.MaxMessageSize fails the
// connection with close 1009 (ErrMsgSize). A message left unfinished is
// discarded by the next Reader or Recv call; its reader then fails.
//
// Errors: as Recv. While a Read is in progress, other receive calls fail
// with ErrBusy.
func (c *Conn) Reader(ctx context.Context) (Flags, io.Reader, error) {
	if c.pooled {
		if err := c.awaitIdle(ctx); err != nil { // buffers.go
			return 0, nil, c.recvFailed(ctx, "reader", err)
		}
	}
	if err := c.enterRecv(ctx, "reader"); err != nil {
		return 0, nil, err
	}
	defer c.leaveRecv()
	in := &c.in
	in.limit = in.maxMsg
	stop := c.armRead(ctx)
	err := c.openMessage()
	c.disarmRead(stop)
	if err != nil {
		return 0, nil, c.recvError(ctx, "reader", err)
	}
	in.msg.streaming = true
	in.msg.gen++
	return c.msgFlags(), &msgReader{c: c, ctx: ctx, gen: in.msg.gen}, nil
}

type msgReader struct {
	c   *Conn
	ctx context.Context
	gen uint32
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
	in := &c.in
	if r.gen != in.msg.gen || !in.msg.streaming {
		return 0, newError("read", ErrInvalid, errStaleReader)
	}
	in.limit = in.maxMsg
	stop := c.armRead(r.ctx)
	n, err := c.readPayload(p)
	if err == nil && in.msg.n > in.maxMsg {
		err = errTooBig
	}
	c.disarmRead(stop)
	if err == errEndOfMessage {
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
	stop, err := c.lockWrite(ctx)
	if err == nil {
		err = c.writable()
		c.unlockWrite(stop)
	}
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
	room := len(c.out.buf) - maxHeader
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
		k := copy(c.out.buf[maxHeader+w.n:], p)
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
	var err error
	if c.out.zw != nil {
		if bufs == nil {
			staged := [1][]byte{c.out.buf[maxHeader : maxHeader+n]}
			bufs = staged[:]
		}
		var rsv byte
		if w.op != opCont {
			rsv = bitRsv1
		}
		err = c.writeCompressed(w.ctx, fin, rsv, w.op, bufs)
	} else {
		err = c.writeFrame(w.ctx, fin, 0, w.op, bufs, n)
	}
	w.op = opCont
	w.n = 0
	if err != nil {
		// A message cut in the middle cannot be resumed.
		stop, lerr := c.lockWrite(context.Background())
		if lerr == nil {
			if c.out.err == nil {
				c.out.err = errCutMessage
			}
			c.unlockWrite(stop)
		}
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
