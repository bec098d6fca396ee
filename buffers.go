package ws

import (
	"context"
	"sync"
	"time"
)

// Buffers of connections attached without Storage come from pools and are
// held only while an operation needs them, so that an idle connection
// holds no buffer: a receive that must wait for data on an empty buffer
// waits for readability (awaitIdle) and takes a read buffer once bytes
// are there.
// Control frames are written through a pooled buffer too. Connections in
// caller Storage keep their read and write buffers.

var (
	readPool  = sync.Pool{New: func() any { return new([readBufSize]byte) }}
	writePool = sync.Pool{New: func() any { return new([writeBufSize]byte) }}
	ctlPool   = sync.Pool{New: func() any { return new([maxCtlFrame]byte) }}
)

// maskBufSize is the size of the buffers a client without Storage masks
// a large frame through: a 64 KiB payload and its header in one write.
const maskBufSize = 64<<10 + maxHeader

var maskPool = sync.Pool{New: func() any { return new([maskBufSize]byte) }}

// fillFirst waits for the first byte in c.first (the read buffer is not
// held), then takes the read buffer and puts the byte there; the caller
// reads the rest into the buffer. A blocked pooled receive thus holds no
// buffer. Receive side only.
func (c *Conn) fillFirst() error {
	n, err := c.u.Read(c.first[:])
	if n == 0 {
		return readErr(err)
	}
	c.takeReadBuf()
	c.in.buf[0] = c.first[0]
	c.in.r, c.in.w = 0, 1
	return nil
}

// awaitIdle is where an idle pooled connection (no read buffer, so
// nothing buffered) waits in Recv, MRecv, one-buffer RecvV and MRecvV, and
// Reader when ctx can never end. The callers call it for pooled connections
// only, before their fast path. It is a leaf one call below them, so that
// a goroutine parked there stays within its initial 2 KiB stack: the
// general path below recvv is several frames deeper, and a goroutine
// whose stack grew past 2 KiB keeps the larger stack while parked (and
// raises the starting size of new goroutines, which follows the average
// stack in use). On Linux a plain socket waits in the runtime's wait for
// readability with no buffer held, and the read that ends the wait goes
// straight into the read buffer (waitIdle); any other net.Conn waits
// reading one byte into Conn.first, then takes the read buffer and reads
// the rest there. The caller's fast or general path then receives the
// bytes as usual. Anything else (a read buffer already held, a ctx that
// can end, an open message, a closed or failed connection, another
// receiver) returns nil at once for the caller's paths to handle. A failed read returns its error with the
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
	if c.waitIdle() { // a plain socket on Linux: idle_linux.go
		in.busy.Store(false)
		return nil
	}
	if err := c.fillFirst(); err != nil {
		return err
	}
	// A frame is at least two bytes: the rest of what arrived is there
	// (or on its way) and goes straight into the read buffer. A failed
	// read here is left for the caller's path, which reads again and
	// finds it, with the first byte buffered.
	n, _ := c.u.Read(in.buf[1:])
	in.w += n
	in.busy.Store(false)
	return nil
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
