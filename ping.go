package ws

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// event is a one-shot signal that goroutines wait on with a ctx: one
// word, nil until someone waits or it fires, then the channel waiters
// get, closed when it fired (firedChan if nobody waited before).
type event struct {
	ch atomic.Pointer[chan struct{}]
}

// firedChan is the closed channel of an event that fired before anyone
// waited.
var firedChan = func() *chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return &ch
}()

func (e *event) fire() {
	for {
		old := e.ch.Load()
		if old == firedChan {
			return
		}
		if e.ch.CompareAndSwap(old, firedChan) {
			if old != nil {
				close(*old)
			}
			return
		}
	}
}

// wait returns a channel closed once the event fired.
func (e *event) wait() <-chan struct{} {
	for {
		if old := e.ch.Load(); old != nil {
			return *old
		}
		ch := make(chan struct{})
		if e.ch.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// pingState is the Ping in progress: the payload it waits for and the
// channel its pong closes. Ping allocates it and the Conn points to it
// only while Ping runs.
type pingState struct {
	reading atomic.Bool // Ping holds the receive side to read its pong
	yield   atomic.Bool // a receive call wants the receive side back
	mu      sync.Mutex
	want    [8]byte
	pong    chan struct{} // nil once answered or given up
}

// answered closes the waiting Ping's channel if p is its payload.
// Receive side.
func (s *pingState) answered(p []byte) {
	s.mu.Lock()
	if s.pong != nil && bytes.Equal(p, s.want[:]) {
		close(s.pong)
		s.pong = nil
	}
	s.mu.Unlock()
}

// pingRetry is how often a Ping waiting for its pong checks whether it
// can read the pong itself: the goroutine that was receiving may have
// stopped.
const pingRetry = 20 * time.Millisecond

// Ping sends a ping and returns its round trip once the matching pong
// arrived (RFC 6455 §5.5.2, §5.5.3). libdill has no counterpart. It blocks
// until then or until ctx ends.
//
// The ping goes out between the frames of a concurrent send. Pongs are
// read by the receive side: while another goroutine is in Recv (or
// reading a message), that receive sees the pong and Ping returns. When
// nothing is receiving, Ping reads the control frames that come first
// itself (answering pings, taking the peer's close), and stops at a data
// message, which it leaves unread for the next receive call: a pong queued
// behind that message is read once a receive call has taken the message.
// A receive call made while Ping reads takes the receive side back at
// once (Ping then waits for its pong from that receive), so Ping never
// makes a receive loop fail with ErrBusy. Pings sent by the keepalive
// (Config.PingInterval) and pongs that answer them do not disturb Ping.
//
// Errors:
//   - ErrBusy if another Ping is in progress;
//   - ErrTimedOut or ErrCanceled when ctx ends: the connection stays
//     usable;
//   - CloseError (ErrPipe) if the peer's close arrived first; ErrPipe after
//     Done;
//   - ErrConnReset if the connection failed; net.ErrClosed after Close or
//     Detach.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, newError("ping", ctxKind(ctx, err), nil)
	}
	if c.closed.Load() {
		return 0, newError("ping", net.ErrClosed, nil)
	}
	pong := make(chan struct{})
	s := &pingState{pong: pong}
	binary.BigEndian.PutUint64(s.want[:], uint64(newMaskKey())<<32^uint64(time.Now().UnixNano()))
	payload := s.want
	if !c.ping.CompareAndSwap(nil, s) {
		return 0, newError("ping", ErrBusy, nil)
	}
	defer func() {
		s.mu.Lock()
		s.pong = nil
		s.mu.Unlock()
		c.ping.Store(nil)
	}()
	start := time.Now()
	if err := c.sendControl(ctx, opPing, payload[:]); err != nil {
		return 0, withOp("ping", err)
	}
	for {
		select {
		case <-pong:
			return time.Since(start), nil
		default:
		}
		s.yield.Store(false)
		s.reading.Store(true) // before taking the side: a receive call then asks to yield
		if c.recvWant.Load() || !c.in.busy.CompareAndSwap(false, true) {
			s.reading.Store(false) // a receive call waits for the side, or holds it
		} else {
			err := c.readControl(ctx, s, pong)
			c.leaveRecv()
			s.reading.Store(false) // after letting go: see takeFromPing
			if err == errYield {
				err = errDataNext // a receive call reads on: wait as for a message
			}
			switch {
			case err == nil:
				return time.Since(start), nil
			case err != errDataNext:
				return 0, withOp("ping", err)
			}
			// A message is next: a receive call must read past it; then
			// the pong may be next, for this loop to read.
		}
		t := time.NewTimer(pingRetry)
		select {
		case <-pong:
			t.Stop()
			return time.Since(start), nil
		case <-ctx.Done():
			t.Stop()
			return 0, newError("ping", ctxKind(ctx, ctx.Err()), nil)
		case <-t.C:
		}
	}
}

// errYield is readControl's answer when a receive call wants the receive
// side: Ping lets go and waits for its pong from that receive.
var errYield = errors.New("ws: receive side wanted")

// takeFromPing gives a receive call that found the receive side taken
// the side, if Ping holds it to read its pong: Ping is woken and lets go
// (it then waits for its pong from this receive). It reports whether the
// side was taken; false means another receive call holds it.
//
// While a receive call waits here, c.recvWant is set and no Ping takes
// the side (Ping sets reading before it looks at recvWant, this call sets
// recvWant before it looks at reading, so one of them sees the other). So
// when the side is held, and reading was clear after recvWant was set,
// the holder is not a Ping. A Ping that let go, or ended, between the
// caller's failed CAS and the loads here is seen by the next CAS.
func (c *Conn) takeFromPing() bool {
	in := &c.in
	if !c.recvWant.CompareAndSwap(false, true) {
		return false // another receive call is waiting already
	}
	defer c.recvWant.Store(false)
	for end := time.Now().Add(time.Second); ; {
		if in.busy.CompareAndSwap(false, true) {
			return true
		}
		s := c.ping.Load()
		if s == nil || !s.reading.Load() {
			if in.busy.CompareAndSwap(false, true) {
				return true
			}
			return false // held, and not by a Ping: another receive call
		}
		if s.yield.CompareAndSwap(false, true) {
			in.dl.expire(c.u.SetReadDeadline)
		}
		if !time.Now().Before(end) {
			return false
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// readControl reads and handles control frames until pong is closed, a
// data frame is next (errDataNext; it stays unread) or ctx ends. It holds
// the receive side. Control frames are consumed only whole, so a timeout
// leaves the connection usable.
func (c *Conn) readControl(ctx context.Context, s *pingState, pong <-chan struct{}) error {
	in := &c.in
	if c.kaFailed.Load() && in.err == nil {
		in.err = errKeepalive
	}
	switch {
	case in.peer.rec.Load() != nil:
		pc := in.peer.rec.Load()
		return CloseError{pc.code, pc.reason}
	case in.err != nil:
		return newError("", ErrConnReset, in.err)
	}
	in.limit = in.maxMsg
	stop := c.armRead(ctx)
	defer c.disarmRead(stop)
	for {
		select {
		case <-pong:
			return nil
		default:
		}
		if s.yield.Load() {
			return errYield
		}
		err := c.readFrames(true)
		if err != nil && s.yield.Load() {
			return errYield // woken for a receive call; nothing was consumed in part
		}
		if err == nil {
			continue
		}
		if err == errDataNext {
			return err
		}
		if e, ok := err.(CloseError); ok {
			select {
			case <-pong: // answered before the close
				return nil
			default:
			}
			return e
		}
		if !c.kaFailed.Load() {
			if err := ctx.Err(); err != nil {
				return newError("", ctxKind(ctx, err), nil) // nothing was consumed in part
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errYield // woken by takeFromPing
			}
		}
		return c.recvError(ctx, "", err)
	}
}
