package ws

import (
	"context"
	"sync"
	"time"
)

// Buffers of connections attached without Storage come from pools and are
// held only while an operation needs them, so that an idle connection
// holds no buffer: a receive that must wait for data on an empty buffer
// waits on a small pooled one and takes a read buffer once bytes arrive.
// Control frames are written through a pooled buffer too. Connections in
// caller Storage keep their read and write buffers.

var (
	readPool  = sync.Pool{New: func() any { return new([readBufSize]byte) }}
	writePool = sync.Pool{New: func() any { return new([writeBufSize]byte) }}
	smallPool = sync.Pool{New: func() any { return new([smallRead]byte) }}
	ctlPool   = sync.Pool{New: func() any { return new([maxCtlFrame]byte) }}
)

// maskBufSize is the size of the buffers a client without Storage masks
// a large frame through: a 64 KiB payload and its header in one write.
const maskBufSize = 64<<10 + maxHeader

var maskPool = sync.Pool{New: func() any { return new([maskBufSize]byte) }}

// smallRead is the size of the buffer an idle receive waits on.
const smallRead = 128

// fillSmall waits for bytes on a small pooled buffer (the read buffer is
// not held), then takes the read buffer and moves them there. A blocked
// pooled receive thus holds 128 bytes, and a watched connection between
// reads none. Receive side only.
func (c *Conn) fillSmall() error {
	s := smallPool.Get().(*[smallRead]byte)
	n, err := c.u.Read(s[:])
	if n > 0 {
		c.takeReadBuf()
		c.in.r, c.in.w = 0, copy(c.in.buf, s[:n])
		err = nil
	} else {
		err = readErr(err)
	}
	smallPool.Put(s)
	return err
}

// awaitIdle is where an idle pooled connection (no read buffer, so
// nothing buffered) waits in Recv, MRecv, one-buffer RecvV and MRecvV, and
// Reader when ctx can never end. The callers call it for pooled connections
// only, before their fast path. It is a leaf one call below them, so that
// a goroutine parked there stays within its initial 2 KiB stack: the
// general path below recvv is several frames deeper, and a goroutine
// whose stack grew past 2 KiB keeps the larger stack while parked (and
// raises the starting size of new goroutines, which follows the average
// stack in use). The bytes that arrive are moved into a read buffer and
// the caller's fast or general path receives them as usual. Anything else
// (a read buffer already held, a ctx that can end, an open message, a
// closed or failed connection, another receiver) returns nil at once for
// the caller's paths to handle. A failed read returns its error with the
// receive side still held: the caller hands it to recvFailed.
func (c *Conn) awaitIdle(ctx context.Context) error {
	in := &c.in
	if ctx.Done() != nil || !in.busy.CompareAndSwap(false, true) {
		return nil
	}
	if in.buf != nil || in.msg.op != 0 || in.err != nil ||
		c.closed.Load() || in.peer.rec.Load() != nil || c.kaFailed.Load() {
		in.busy.Store(false)
		return nil
	}
	if in.dl.at != 0 || in.dl.dirty.Load() {
		c.setReadDeadline(time.Time{}) // as armRead: clear what an earlier call left
	}
	s := smallPool.Get().(*[smallRead]byte)
	n, err := c.u.Read(s[:])
	if n > 0 {
		c.takeReadBuf()
		in.r, in.w = 0, copy(in.buf, s[:n])
		in.busy.Store(false)
		smallPool.Put(s)
		return nil
	}
	smallPool.Put(s)
	return readErr(err)
}

// recvFailed reports the failed read of awaitIdle, as the receive call
// would have, and frees the receive side.
func (c *Conn) recvFailed(ctx context.Context, op string, err error) error {
	err = c.recvError(ctx, op, err)
	c.leaveRecv()
	return err
}

// takeReadBuf makes sure the read buffer exists. Receive side only.
func (c *Conn) takeReadBuf() {
	if c.in.buf == nil {
		c.in.buf = readPool.Get().(*[readBufSize]byte)[:]
	}
}

// leaveRecv gives back a pooled read buffer with nothing unread in it and
// frees the receive side.
func (c *Conn) leaveRecv() {
	in := &c.in
	if c.pooled && in.r == in.w && in.buf != nil {
		// A buffer grown for a large handshake head, or made for
		// Upgrade's read-ahead, goes to the garbage collector unless it
		// has the pool's size.
		if len(in.buf) == readBufSize {
			readPool.Put((*[readBufSize]byte)(in.buf))
		}
		in.buf = nil
		in.r, in.w = 0, 0
	}
	in.busy.Store(false)
}

// takeWriteBuf makes sure the write buffer exists. Send side only.
func (c *Conn) takeWriteBuf() {
	if c.out.buf == nil {
		c.out.buf = writePool.Get().(*[writeBufSize]byte)[:]
	}
}

// leaveSend gives back a pooled write buffer and frees the send side.
func (c *Conn) leaveSend() {
	if c.pooled && c.out.buf != nil {
		writePool.Put((*[writeBufSize]byte)(c.out.buf))
		c.out.buf = nil
	}
	c.out.busy.Store(false)
}
