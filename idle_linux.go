package ws

import (
	"net"
	"syscall"
)

// idleReader is how awaitIdle waits on a plain socket (a *net.TCPConn or
// *net.UnixConn) with no buffer: read is c.readIdle, bound once, passed
// to rc.Read, so that the wait is the runtime's own wait for
// readability, and the read that ends it goes straight into the read
// buffer. A connection keeps its idleReader (48 bytes) from its first
// idle wait on; any other net.Conn (TLS, a wrapped or in-memory conn)
// gets noIdleReader and waits reading its first byte into Conn.first.
type idleReader struct {
	rc   syscall.RawConn
	read func(fd uintptr) bool
}

var noIdleReader = &idleReader{}

// waitIdle waits until bytes are in the read buffer and reports true, or
// reports false at once if c's net.Conn has no descriptor to wait on, or
// false once the wait ended without bytes (the end of the stream, a
// failure, a deadline set to cut the wait, Close): the caller's read
// through the net.Conn then meets that as Recv always does. Receive side,
// with no read buffer held.
func (c *Conn) waitIdle() bool {
	r := c.in.idle
	if r == nil {
		r = noIdleReader
		var sc syscall.Conn
		switch u := c.u.(type) {
		case *net.TCPConn:
			sc = u
		case *net.UnixConn:
			sc = u
		}
		if sc != nil {
			if rc, err := sc.SyscallConn(); err == nil {
				r = &idleReader{rc: rc}
				r.read = c.readIdle
			}
		}
		c.in.idle = r
	}
	if r == noIdleReader {
		return false
	}
	r.rc.Read(r.read) // its error, if any, is met again by the caller's read
	return c.in.buf != nil
}

// readIdle is an idleReader's read: one non-blocking read(2) into the
// read buffer, taken for the call and given back when nothing was there
// (EAGAIN: the runtime waits for readability, then calls again). Bytes,
// the end of the stream or a failure end the wait; the latter two leave
// no read buffer held. A failure read here (ECONNRESET) is consumed by
// this read: the caller's read then finds the end of the stream, which
// it reports as the connection's failure all the same.
func (c *Conn) readIdle(fd uintptr) bool {
	in := &c.in
	c.takeReadBuf()
	for {
		n, err := syscall.Read(int(fd), in.buf)
		if err == syscall.EINTR {
			continue
		}
		if n > 0 {
			in.r, in.w = 0, n
			return true
		}
		readPool.Put((*[readBufSize]byte)(in.buf))
		in.buf = nil
		return err != syscall.EAGAIN
	}
}
