package ws

import (
	"context"
	"errors"
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
// Errors:
//   - ErrPipe if the close was already sent;
//   - ErrInvalid for a code that may not be sent (1004–1006, 1015, below
//     1000, 1016–2999, over 4999) or a reason over 123 bytes or not UTF-8;
//   - ErrBusy if a send is active;
//   - ErrTimedOut, ErrCanceled, ErrConnReset and net.ErrClosed as for Send.
func (c *Conn) Done(ctx context.Context, code StatusCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return newError("done", ErrInvalid, err)
	}
	if err := c.enterSend(ctx, "done"); err != nil {
		return err
	}
	defer c.leaveSend()
	return withOp("done", c.sendClose(ctx, code, reason))
}

// sendClose writes our close frame under the frame lock, bounded by ctx.
func (c *Conn) sendClose(ctx context.Context, code StatusCode, reason string) error {
	var p [maxControl]byte
	n := putClose(p[:], code, reason)
	return c.sendControl(ctx, opClose, p[:n])
}

// sendControl writes a control frame under the frame lock, bounded by
// ctx, as a data frame is: a timeout before its first byte leaves the
// connection usable. A close frame ends the send side (ErrPipe after it).
func (c *Conn) sendControl(ctx context.Context, op byte, p []byte) error {
	stop, err := c.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer c.unlockWrite(stop)
	if err := c.writable(); err != nil {
		return err
	}
	if err := c.writeControl(op, p); err != nil {
		return c.sendResult(ctx, 0, err)
	}
	if op == opClose {
		c.out.closeSent.Store(true)
	}
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
// Errors:
//   - ErrInvalid for a code or reason Done refuses (nothing is changed);
//   - ErrBusy if a send or receive is active;
//   - otherwise, on any failure, the connection is closed (as Close does)
//     and the error is returned as Done or Recv would (ErrTimedOut,
//     ErrProto, ErrConnReset …).
func (c *Conn) Detach(ctx context.Context, code StatusCode, reason string) (net.Conn, error) {
	if err := checkClose(code, reason); err != nil {
		return nil, newError("detach", ErrInvalid, err)
	}
	if err := c.enterSend(ctx, "detach"); err != nil {
		return nil, err
	}
	defer c.leaveSend()
	in := &c.in
	if !in.busy.CompareAndSwap(false, true) && !c.takeFromPing() {
		return nil, newError("detach", ErrBusy, nil)
	}
	defer c.leaveRecv()
	if err := c.detach(ctx, code, reason); err != nil {
		c.close(true)
		return nil, err
	}
	if !c.closed.CompareAndSwap(false, true) {
		return nil, newError("detach", net.ErrClosed, nil)
	}
	c.unwatch()
	c.stopKeepalive()
	c.out.lock.close()
	c.u.SetDeadline(time.Time{})
	if in.r == in.w {
		return c.u, nil
	}
	rest := append([]byte(nil), in.buf[in.r:in.w]...)
	in.r, in.w = 0, 0
	return &prefixConn{Conn: c.u, buf: rest}, nil
}

func (c *Conn) detach(ctx context.Context, code StatusCode, reason string) error {
	if err := c.sendCloseOnce(ctx, "detach", code, reason); err != nil {
		return err
	}
	return c.drainToClose(ctx, "detach")
}

// sendCloseOnce sends our close frame unless it was sent.
func (c *Conn) sendCloseOnce(ctx context.Context, op string, code StatusCode, reason string) error {
	if c.out.closeSent.Load() {
		return nil
	}
	err := c.sendClose(ctx, code, reason)
	if err != nil && !(errors.Is(err, ErrPipe) && c.out.closeSent.Load()) {
		return withOp(op, err)
	}
	return nil
}

// drainToClose receives and discards messages until the peer's close
// arrives. Caller holds the receive side.
func (c *Conn) drainToClose(ctx context.Context, op string) error {
	in := &c.in
	if in.peer.rec.Load() != nil {
		return nil
	}
	if in.err != nil {
		return newError(op, ErrConnReset, in.err)
	}
	in.limit = in.maxMsg
	stop := c.armRead(ctx)
	defer c.disarmRead(stop)
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
		return c.recvError(ctx, op, err)
	}
}

// Shutdown ends the connection with the closing handshake (RFC 6455
// §7.1.2) and closes the underlying bytestream: it sends our close frame
// with code and reason (or, if the peer closed first and code is 0 and
// reason empty, answers with the peer's code), discards the messages that
// arrive meanwhile, waits for the peer's close within ctx, then closes
// the bytestream. It is the one call that ends a connection cleanly, from
// either side; libdill spells it ws_detach followed by hclose.
//
// It may be called while other goroutines send or receive: the close
// frame goes out between their frames (later sends fail with ErrPipe),
// and a goroutine blocked in Recv takes the peer's close (its Recv returns
// CloseError) while Shutdown waits for that. When nothing is receiving,
// Shutdown reads and discards itself.
//
// It returns nil once the handshake completed and the bytestream is
// closed. Errors:
//   - ErrInvalid for a code or reason Done refuses (nothing is changed);
//   - ErrTimedOut or ErrCanceled if ctx ended first: the connection is
//     closed anyway (with an already-done ctx, nothing happens);
//   - ErrConnReset, ErrProto … if the connection failed meanwhile (it is
//     closed);
//   - net.ErrClosed after Close or Detach.
func (c *Conn) Shutdown(ctx context.Context, code StatusCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return newError("shutdown", ErrInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		return newError("shutdown", ctxKind(ctx, err), nil)
	}
	if c.closed.Load() {
		return newError("shutdown", net.ErrClosed, nil)
	}
	if pc := c.in.peer.rec.Load(); pc != nil && code == 0 && reason == "" {
		code = pc.code
	}
	err := c.sendCloseOnce(ctx, "shutdown", code, reason)
	if err == nil {
		err = c.awaitPeerClose(ctx)
	}
	if cerr := c.close(false); err == nil {
		err = cerr
		if e, ok := err.(*opError); ok {
			e.op = "shutdown"
		}
	}
	return err
}

// awaitPeerClose waits until the peer's close arrived: read by another
// goroutine's receive, or, when the receive side is free, read here.
func (c *Conn) awaitPeerClose(ctx context.Context) error {
	peer := &c.in.peer
	for peer.rec.Load() == nil {
		if c.in.busy.CompareAndSwap(false, true) {
			err := c.drainToClose(ctx, "shutdown")
			c.leaveRecv()
			return err
		}
		// Another goroutine is receiving; it may also stop receiving.
		t := time.NewTimer(pingRetry)
		select {
		case <-peer.ev.wait():
		case <-ctx.Done():
			t.Stop()
			return newError("shutdown", ctxKind(ctx, ctx.Err()), nil)
		case <-t.C:
		}
		t.Stop()
	}
	return nil
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
	pc := c.in.peer.rec.Load()
	if pc == nil {
		return 0, "", newError("status", ErrAgain, nil)
	}
	return pc.code, pc.reason, nil
}

// Close closes the connection and the underlying connection without a
// closing handshake, like libdill's hclose. It never blocks; calls in
// progress in other goroutines fail with net.ErrClosed. After Detach it
// does nothing and returns net.ErrClosed, as does a second Close.
//
// If a close frame was sent or is due (by Done, or to fail the connection
// after a protocol violation) and the peer's close has not arrived, the
// underlying connection is closed only after a lingering read, in the
// background: a frame being written gets up to a second to finish, so
// that the close frame can follow it; then the write side is shut (TCP
// FIN, or TLS close_notify) and what the peer still sends is read and
// dropped until it closes or the second is over. Unread input thus never
// makes the kernel reset the connection and destroy the close frame in
// flight.
func (c *Conn) Close() error {
	if c.closed.Load() {
		return newError("close", net.ErrClosed, nil)
	}
	return c.close(false)
}

// lingerTimeout bounds the lingering read of Close.
const lingerTimeout = time.Second

// close closes the connection; inDetach means the caller holds both
// halves.
func (c *Conn) close(inDetach bool) error {
	if !c.closed.CompareAndSwap(false, true) {
		return newError("close", net.ErrClosed, nil)
	}
	c.unwatch()
	c.stopKeepalive()
	c.out.lock.close()
	cw, ok := c.u.(interface{ CloseWrite() error })
	if !ok || !(c.out.closeSent.Load() || c.out.pending.any.Load()) || c.in.peer.rec.Load() != nil {
		return c.u.Close()
	}
	end := time.Now().Add(lingerTimeout)
	c.u.SetReadDeadline(aLongTimeAgo) // wake a receive
	c.u.SetWriteDeadline(end)         // bound a write in flight
	go c.linger(cw, inDetach, end)
	return nil
}

// linger waits for the calls in progress to leave (a send lets go of the
// frame lock after writing the pending close), then drains the input.
func (c *Conn) linger(cw interface{ CloseWrite() error }, inDetach bool, end time.Time) {
	defer c.u.Close()
	for !inDetach && (c.in.busy.Load() || c.out.busy.Load() || !c.out.lock.idle()) {
		if time.Now().After(end) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	drainClosed(c.u, cw, end, 1<<62)
}

// drainClosed shuts u's write side (TCP FIN, TLS close_notify) and reads
// and drops what the peer still sends until it closes, until dl, or max
// bytes: closing a socket with unread input resets the connection, which
// can destroy what was written last before the peer reads it (RFC 7230
// §6.6).
func drainClosed(u net.Conn, cw interface{ CloseWrite() error }, dl time.Time, max int) {
	if u.SetDeadline(dl) != nil || cw.CloseWrite() != nil {
		return
	}
	var b [512]byte
	for n := 0; n < max; {
		m, err := u.Read(b[:])
		n += m
		if err != nil {
			return
		}
	}
}
