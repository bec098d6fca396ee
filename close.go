package ws

import (
	"context"
	"net"
	"time"
)

// Done closes the outbound half of the connection: it sends a close frame
// with code and reason, like libdill's ws_done. Code 0 sends a close frame
// without a status (and then reason must be empty). Messages can still be
// received until the peer's close arrives (Recv then returns CloseError);
// to answer a close the peer started, pass its code. It blocks until the
// frame is written or ctx ends.
//
// Errors: ErrPipe if the close was already sent; ErrInvalid for a code
// that may not be sent (1004–1006, 1015, below 1000, 1016–2999, over 4999)
// or a reason over 123 bytes or not UTF-8; ErrBusy if a send is active;
// ErrTimedOut, ErrCanceled, ErrConnReset and net.ErrClosed as for Send.
func (c *Conn) Done(ctx context.Context, code StatusCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return newError("done", ErrInvalid, err)
	}
	if err := c.enterSend(ctx, "done"); err != nil {
		return err
	}
	defer c.leaveSend()
	stop := c.armWrite(ctx)
	err := c.sendClose(ctx, code, reason)
	c.disarmWrite(stop)
	return withOp("done", err)
}

// sendClose writes our close frame. Caller holds the send side.
func (c *Conn) sendClose(ctx context.Context, code StatusCode, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(ctx); err != nil {
		return err
	}
	var p [maxControl]byte
	n := putClose(p[:], code, reason)
	dl, _ := ctx.Deadline()
	if err := c.writeControl(opClose, p[:n], dl); err != nil {
		kind, cause := c.ioKind(ctx, err)
		return &opError{kind: kind, cause: cause}
	}
	c.done = true
	return nil
}

// Detach performs the closing handshake and hands the underlying
// connection back, still open, like libdill's ws_detach: it sends a close
// frame with code and reason unless Done already did, then receives and
// discards messages until the peer's close arrives (at once if it already
// has). Bytes the peer sent after its close frame that were already read
// stay readable from the returned conn. All deadlines of the conn are
// cleared. The Conn is unusable afterwards. To answer a close the peer
// started, pass the code from its CloseError (or Status).
//
// Errors: ErrInvalid for a code or reason Done refuses (nothing is
// changed); ErrBusy if a send or receive is active; otherwise, on any
// failure, the underlying connection is closed and the error is returned
// as Done or Recv would (ErrTimedOut, ErrProto, ErrConnReset …).
func (c *Conn) Detach(ctx context.Context, code StatusCode, reason string) (net.Conn, error) {
	if err := checkClose(code, reason); err != nil {
		return nil, newError("detach", ErrInvalid, err)
	}
	if err := c.enterSend(ctx, "detach"); err != nil {
		return nil, err
	}
	defer c.leaveSend()
	if !c.recvBusy.CompareAndSwap(false, true) {
		return nil, newError("detach", ErrBusy, nil)
	}
	defer c.leaveRecv()
	if err := c.detach(ctx, code, reason); err != nil {
		c.Close()
		return nil, err
	}
	if !c.closed.CompareAndSwap(false, true) {
		return nil, newError("detach", net.ErrClosed, nil)
	}
	c.stopKeepalive()
	c.u.SetDeadline(time.Time{})
	if c.r == c.w {
		return c.u, nil
	}
	rest := append([]byte(nil), c.rbuf[c.r:c.w]...)
	c.r, c.w = 0, 0
	return &prefixConn{Conn: c.u, buf: rest}, nil
}

func (c *Conn) detach(ctx context.Context, code StatusCode, reason string) error {
	wstop := c.armWrite(ctx)
	defer c.disarmWrite(wstop)
	c.wmu.Lock()
	done := c.done
	c.wmu.Unlock()
	if !done {
		if err := c.sendClose(ctx, code, reason); err != nil {
			return withOp("detach", err)
		}
	}
	if c.peer.closed.Load() {
		return nil
	}
	if c.rerr != nil {
		return newError("detach", ErrConnReset, c.rerr)
	}
	c.rlimit = c.maxMsg
	rstop := c.armRead(ctx)
	defer c.disarmRead(rstop)
	for {
		_, _, err := c.recvMsg(nil, false)
		if err == nil {
			continue // an empty message
		}
		switch err.(type) {
		case CloseError:
			return nil
		case detail: // a message was discarded
			continue
		}
		return c.recvError(ctx, "detach", err)
	}
}

// prefixConn hands back bytes read ahead before reading the conn again.
type prefixConn struct {
	net.Conn
	buf []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// Status returns the status code and reason of the peer's close frame,
// like libdill's ws_status: code 0 if it carried none. Safe from any
// goroutine. Errors: ErrAgain until the peer's close has been received.
func (c *Conn) Status() (StatusCode, string, error) {
	if !c.peer.closed.Load() {
		return 0, "", newError("status", ErrAgain, nil)
	}
	return c.peer.code, c.peer.reason, nil
}

// Close closes the connection and the underlying connection at once,
// without a closing handshake, like libdill's hclose. It never blocks;
// calls in progress in other goroutines fail with net.ErrClosed. After
// Detach it does nothing and returns net.ErrClosed, as does a second
// Close.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return newError("close", net.ErrClosed, nil)
	}
	c.stopKeepalive()
	return c.u.Close()
}
