package ws

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The bridge from a context to the underlying connection's deadlines. The
// context's deadline becomes the conn's read or write deadline; its
// cancellation sets a deadline in the past through context.AfterFunc. The
// connection is never closed to cut an operation short, so that it can
// still be detached. context.Background() costs nothing: no deadline call
// is made unless one is set from an earlier operation.

// aLongTimeAgo is a deadline that has always passed.
var aLongTimeAgo = time.Unix(1, 0)

// cancelState lets a late cancellation callback know it belongs to an
// operation that has ended, and records that it moved a deadline.
type cancelState struct {
	mu     sync.Mutex
	rgen   uint64
	wgen   uint64
	rdirty atomic.Bool // a cancellation set the read deadline
	wdirty atomic.Bool // a cancellation set the write deadline
}

// setReadDeadline makes dl the read deadline of u. Receive side only.
func (c *Conn) setReadDeadline(dl time.Time) {
	if dl == c.rdl && !c.cancels.rdirty.Load() {
		return
	}
	c.cancels.rdirty.Store(false)
	c.rdl = dl
	c.u.SetReadDeadline(dl)
}

// setWriteDeadline makes dl the write deadline of u. Caller holds wmu.
func (c *Conn) setWriteDeadline(dl time.Time) {
	if dl == c.wdl && !c.cancels.wdirty.Load() {
		return
	}
	c.cancels.wdirty.Store(false)
	c.wdl = dl
	c.u.SetWriteDeadline(dl)
}

// armRead applies ctx to the receive side until disarmRead. A context
// that can never end (Background, TODO) only clears a deadline left by an
// earlier call.
func (c *Conn) armRead(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		if !c.rdl.IsZero() || c.cancels.rdirty.Load() {
			c.setReadDeadline(time.Time{})
		}
		return nil
	}
	dl, _ := ctx.Deadline()
	c.setReadDeadline(dl)
	s := &c.cancels
	gen := s.rgen
	return context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.rgen == gen {
			s.rdirty.Store(true)
			c.u.SetReadDeadline(aLongTimeAgo)
		}
		s.mu.Unlock()
	})
}

func (c *Conn) disarmRead(stop func() bool) {
	if stop != nil && !stop() {
		c.cancels.mu.Lock()
		c.cancels.rgen++
		c.cancels.mu.Unlock()
	}
}

// armWrite applies ctx's cancellation to the send side until disarmWrite;
// the deadline itself is applied per frame under wmu (writeDeadline).
func (c *Conn) armWrite(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		return nil
	}
	s := &c.cancels
	s.mu.Lock()
	gen := s.wgen
	s.mu.Unlock()
	return context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.wgen == gen {
			s.wdirty.Store(true)
			c.u.SetWriteDeadline(aLongTimeAgo)
		}
		s.mu.Unlock()
	})
}

func (c *Conn) disarmWrite(stop func() bool) {
	if stop != nil && !stop() {
		c.cancels.mu.Lock()
		c.cancels.wgen++
		c.cancels.mu.Unlock()
	}
}
