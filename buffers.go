package ws

import "sync"

// Buffers of connections attached without Storage come from pools and are
// held only while an operation needs them, so that an idle connection
// holds no buffer: a receive that must wait for data on an empty buffer
// waits on a small one in the Conn and takes a read buffer once bytes
// arrive. Connections in caller Storage keep their buffers.

var (
	readPool  = sync.Pool{New: func() any { return new([readBufSize]byte) }}
	writePool = sync.Pool{New: func() any { return new([writeBufSize]byte) }}
)

// smallRead is the size of the buffer an idle receive waits on.
const smallRead = 128

// takeReadBuf makes sure the read buffer exists. Receive side only.
func (c *Conn) takeReadBuf() {
	if c.rbuf == nil {
		c.rarr = readPool.Get().(*[readBufSize]byte)
		c.rbuf = c.rarr[:]
	}
}

// leaveRecv gives back a pooled read buffer with nothing unread in it and
// frees the receive side.
func (c *Conn) leaveRecv() {
	if c.pooled && c.r == c.w && c.rbuf != nil {
		if c.rarr != nil {
			readPool.Put(c.rarr)
		}
		c.rarr, c.rbuf = nil, nil
		c.r, c.w = 0, 0
	}
	c.recvBusy.Store(false)
}

// takeWriteBuf makes sure the write buffer exists. Send side only.
func (c *Conn) takeWriteBuf() {
	if c.wbuf == nil {
		c.warr = writePool.Get().(*[writeBufSize]byte)
		c.wbuf = c.warr[:]
	}
}

// leaveSend gives back a pooled write buffer and frees the send side.
func (c *Conn) leaveSend() {
	if c.pooled && c.warr != nil {
		writePool.Put(c.warr)
		c.warr, c.wbuf = nil, nil
	}
	c.sendBusy.Store(false)
}
