package ws

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// frameLock serialises whole frames on the wire. Unlike a sync.Mutex, a
// waiter gives up when its ctx ends or the connection is closed, so that
// a send never waits without a bound behind a write it cannot see (a pong,
// a ping, a close). Taking and releasing a free lock is one atomic
// compare-and-swap each; a waiter allocates the channel it waits on.
type frameLock struct {
	state  atomic.Int32 // lockFree, lockHeld or lockWaited
	closed atomic.Bool
	mu     sync.Mutex    // guards wake
	wake   chan struct{} // closed at the next release, made by a waiter
}

const (
	lockFree   = 0
	lockHeld   = 1
	lockWaited = 2 // held, and someone waits on wake
)

// tryLock takes the lock if it is free.
func (l *frameLock) tryLock() bool {
	return !l.closed.Load() && l.state.CompareAndSwap(lockFree, lockHeld)
}

// lock takes the lock, waiting until it is free, ctx ends (ErrTimedOut or
// ErrCanceled) or the connection is closed (net.ErrClosed).
func (l *frameLock) lock(ctx context.Context) error {
	if l.state.CompareAndSwap(lockFree, lockHeld) {
		if !l.closed.Load() {
			return nil
		}
		l.unlock()
		return net.ErrClosed
	}
	return l.lockSlow(ctx)
}

func (l *frameLock) lockSlow(ctx context.Context) error {
	for {
		if l.closed.Load() {
			return net.ErrClosed
		}
		if l.state.CompareAndSwap(lockFree, lockHeld) {
			return nil
		}
		l.mu.Lock()
		if !l.state.CompareAndSwap(lockHeld, lockWaited) && l.state.Load() != lockWaited {
			l.mu.Unlock() // released meanwhile
			continue
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctxKind(ctx, ctx.Err())
		}
	}
}

func (l *frameLock) unlock() {
	if !l.state.CompareAndSwap(lockHeld, lockFree) {
		l.unlockSlow()
	}
}

func (l *frameLock) unlockSlow() {
	l.mu.Lock()
	l.state.Store(lockFree)
	l.wakeAll()
	l.mu.Unlock()
}

// wakeAll wakes the waiters. Caller holds mu.
func (l *frameLock) wakeAll() {
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

// idle reports whether no one holds the lock.
func (l *frameLock) idle() bool { return l.state.Load() == lockFree }

// close wakes every waiter with net.ErrClosed; the holder keeps the lock
// until it lets go.
func (l *frameLock) close() {
	l.closed.Store(true)
	l.mu.Lock()
	l.wakeAll()
	l.mu.Unlock()
}

// pendingControl holds the control frames that found the frame lock
// taken: the answer to the latest ping (RFC 6455 §5.5.3 allows answering
// only the most recent one), a keepalive ping, and the close frame of a
// failed connection. Whoever holds the lock writes them before letting go.
// The frames live in a pooled part taken when one is queued and given back
// once written, so that an idle connection holds none of it.
type pendingControl struct {
	any atomic.Bool // something is pending; read without mu
	mu  sync.Mutex
	f   *pendingFrames // nil unless something is pending (mu)
}

// pendingFrames is what is pending.
type pendingFrames struct {
	pong  bool
	ping  bool
	close bool
	code  StatusCode
	n     int
	p     [maxControl]byte // the pong's payload
}

var pendingPool = sync.Pool{New: func() any { return new(pendingFrames) }}

// frames returns the pending frames, taking them from the pool if none
// were pending. Caller holds q.mu.
func (q *pendingControl) frames() *pendingFrames {
	if q.f == nil {
		q.f = pendingPool.Get().(*pendingFrames)
	}
	return q.f
}

// controlTimeout bounds the write of a pending control frame: a peer that
// has not read a few bytes for this long loses the frame (a pong, a
// ping) or the close of a failed connection is abandoned.
const controlTimeout = time.Second

// queuePong records the answer to a ping and writes it now if the frame
// lock is free. It never waits for the lock.
func (c *Conn) queuePong(p []byte) {
	q := &c.out.pending
	q.mu.Lock()
	f := q.frames()
	f.pong, f.n = true, copy(f.p[:], p)
	q.mu.Unlock()
	q.any.Store(true)
	c.flushIfFree()
}

// queuePing asks for a keepalive ping. It never waits for the lock.
func (c *Conn) queuePing() {
	q := &c.out.pending
	q.mu.Lock()
	q.frames().ping = true
	q.mu.Unlock()
	q.any.Store(true)
	c.flushIfFree()
}

// queueClose asks for the close frame of a failed connection. It never
// waits for the lock.
func (c *Conn) queueClose(code StatusCode) {
	q := &c.out.pending
	q.mu.Lock()
	if f := q.frames(); !f.close {
		f.close, f.code = true, code
	}
	q.mu.Unlock()
	q.any.Store(true)
	c.flushIfFree()
}

// flushIfFree writes the pending control frames if the frame lock is
// free; otherwise its holder will.
func (c *Conn) flushIfFree() {
	if c.out.lock.tryLock() {
		c.unlockWrite(nil)
	}
}

// flushPending writes the pending control frames. Caller holds the frame
// lock. A frame that cannot be written within controlTimeout without a
// byte going out is dropped; a partial write breaks the send side.
func (c *Conn) flushPending() {
	q := &c.out.pending
	q.mu.Lock()
	f := q.f
	q.f = nil
	q.any.Store(false)
	q.mu.Unlock()
	if f == nil {
		return
	}
	if c.out.err == nil && !c.out.closeSent.Load() && !c.kaFailed.Load() {
		c.writePending(f)
	}
	*f = pendingFrames{}
	pendingPool.Put(f)
}

// writePending writes the frames of f. Caller holds the frame lock.
func (c *Conn) writePending(f *pendingFrames) {
	c.setWriteDeadline(time.Now().Add(controlTimeout))
	if f.pong {
		c.writeControl(opPong, f.p[:f.n])
	}
	if f.ping {
		c.writeControl(opPing, nil)
	}
	if f.close {
		k := putClose(f.p[:], f.code, "")
		c.writeControl(opClose, f.p[:k])
		c.out.closeSent.Store(true)
	}
}

// lockWrite takes the frame lock for an operation bounded by ctx and
// applies ctx to the write side until unlockWrite. Pending control frames
// go out first. Errors: ErrTimedOut or ErrCanceled (nothing written) and
// net.ErrClosed.
func (c *Conn) lockWrite(ctx context.Context) (func() bool, error) {
	if err := c.out.lock.lock(ctx); err != nil {
		return nil, newError("", err, nil)
	}
	if c.out.pending.any.Load() {
		c.flushPending()
	}
	if ctx.Done() == nil { // never ends: only clear an earlier deadline
		if c.out.dl.at != 0 || c.out.dl.dirty.Load() {
			c.setWriteDeadline(time.Time{})
		}
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		c.unlockWrite(nil)
		return nil, newError("", ctxKind(ctx, err), nil)
	}
	dl, _ := ctx.Deadline()
	c.setWriteDeadline(dl)
	return c.out.dl.arm(ctx, c.u.SetWriteDeadline), nil
}

// unlockWrite ends what lockWrite began: the ctx no longer applies, the
// pending control frames are written, the lock is let go. A control frame
// queued while the lock was being let go is written by this goroutine if
// no one else took the lock.
func (c *Conn) unlockWrite(stop func() bool) {
	c.out.dl.disarm(stop)
	q := &c.out.pending
	if !q.any.Load() {
		c.out.lock.unlock()
		if !q.any.Load() {
			return
		}
	} else {
		c.flushPending()
		c.out.lock.unlock()
	}
	c.flushQueued()
}

// flushQueued writes a control frame queued while the frame lock was
// being let go, unless someone else took the lock (then they will).
func (c *Conn) flushQueued() {
	q := &c.out.pending
	for q.any.Load() && c.out.lock.tryLock() {
		c.flushPending()
		c.out.lock.unlock()
	}
}

// writeControl writes a control frame with payload p (≤ 125 bytes) with
// the write deadline already set. Caller holds the frame lock. A failure
// after a byte went out breaks the send side; a timeout before the first
// byte loses only this frame.
func (c *Conn) writeControl(op byte, p []byte) error {
	if c.out.err != nil {
		return c.out.err
	}
	var key uint32
	if c.client {
		key = newMaskKey()
	}
	b := ctlPool.Get().(*[maxCtlFrame]byte)
	hl := putHeader(b[:], true, 0, op, len(p), c.client, key)
	n := copy(b[hl:], p)
	if c.client {
		mask(b[hl:hl+n], key, 0)
	}
	m, err := c.u.Write(b[:hl+n])
	ctlPool.Put(b)
	if err != nil && (m > 0 || !errors.Is(err, os.ErrDeadlineExceeded)) {
		c.out.err = err
	}
	return err
}
