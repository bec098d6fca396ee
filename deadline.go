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
// is made unless one is left from an earlier operation. Each half owns its
// deadline: a receive's ctx never moves the write deadline, and a send's
// ctx applies only while that send holds the frame lock, so it never cuts
// a pong or a close written by someone else.

// aLongTimeAgo is a deadline that has always passed.
var aLongTimeAgo = time.Unix(1, 0)

// halfDeadline is the deadline one direction set on u, and the state that
// lets a late cancellation callback know its operation has ended.
type halfDeadline struct {
	at    int64       // the deadline set on u by its owner: atKey of it
	mu    sync.Mutex  // serialises callbacks with the end of their operation
	gen   uint32      // operation the armed callback belongs to (mu); wraps
	dirty atomic.Bool // a callback (or the keepalive) moved the deadline
}

// atKey is how halfDeadline records a deadline: 0 for none, else its
// Unix nanoseconds (clamped to the int64 range, never 0), so that the
// record takes 8 bytes rather than a time.Time's 24.
func atKey(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Year() >= 2262:
		return 1<<63 - 1
	case t.Year() < 1678:
		return -1 << 63
	}
	if k := t.UnixNano(); k != 0 {
		return k
	}
	return 1
}

// setReadDeadline makes dl the read deadline of u. Receive side only.
func (c *Conn) setReadDeadline(dl time.Time) {
	d := &c.in.dl
	at := atKey(dl)
	if at == d.at && !d.dirty.Load() {
		return
	}
	d.dirty.Store(false)
	d.at = at
	c.u.SetReadDeadline(dl)
}

// setWriteDeadline makes dl the write deadline of u. Caller holds the
// frame lock.
func (c *Conn) setWriteDeadline(dl time.Time) {
	d := &c.out.dl
	at := atKey(dl)
	if at == d.at && !d.dirty.Load() {
		return
	}
	d.dirty.Store(false)
	d.at = at
	c.u.SetWriteDeadline(dl)
}

// expire moves one direction's deadline into the past, from any
// goroutine, to wake a blocked operation (keepalive failure).
func (d *halfDeadline) expire(set func(time.Time) error) {
	d.mu.Lock()
	d.dirty.Store(true)
	set(aLongTimeAgo)
	d.mu.Unlock()
}

// arm applies ctx's cancellation to one direction until disarm: set is
// u.SetReadDeadline or u.SetWriteDeadline.
func (d *halfDeadline) arm(ctx context.Context, set func(time.Time) error) func() bool {
	d.mu.Lock()
	gen := d.gen
	d.mu.Unlock()
	return context.AfterFunc(ctx, func() {
		d.mu.Lock()
		if d.gen == gen {
			d.dirty.Store(true)
			set(aLongTimeAgo)
		}
		d.mu.Unlock()
	})
}

// disarm ends the operation arm started: a callback that has not run
// never will, and one that is running or late does nothing.
func (d *halfDeadline) disarm(stop func() bool) {
	if stop != nil {
		d.disarmSlow(stop)
	}
}

func (d *halfDeadline) disarmSlow(stop func() bool) {
	if !stop() {
		d.mu.Lock()
		d.gen++
		d.mu.Unlock()
	}
}

// armRead applies ctx to the receive side until disarmRead. A context
// that can never end (Background, TODO) only clears a deadline left by an
// earlier call.
func (c *Conn) armRead(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		if c.in.dl.at != 0 || c.in.dl.dirty.Load() {
			c.setReadDeadline(time.Time{})
		}
		return nil
	}
	dl, _ := ctx.Deadline()
	c.setReadDeadline(dl)
	return c.in.dl.arm(ctx, c.u.SetReadDeadline)
}

func (c *Conn) disarmRead(stop func() bool) { c.in.dl.disarm(stop) }
