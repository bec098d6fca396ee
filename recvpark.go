package ws

import (
	"crypto/tls"
	"errors"
	"os"
	"syscall"
	"time"
)

// The receive side of a connection watched by a Poller, between calls of
// its onReadable. park reads what has arrived, through the ordinary
// read path (fill, so TLS and read-ahead work as for Recv), answers the
// pings that come before the next message, and tells the poller whether
// onReadable has something to receive. A message that fits the read
// buffer is handed over only once it is buffered whole, so that a peer
// writing it slowly never pins a worker: until then its bytes stay
// buffered (holding the read buffer) and the connection waits again.

// parkMode is why park runs.
type parkMode uint8

const (
	parkScan  parkMode = iota // after onReadable (or at Watch), plain socket: only what is buffered
	parkProbe                 // the same, and what a TLS conn decrypted or buffered: never waits
	parkEvent                 // the socket is readable: one read (plain socket: non-blocking, parkNow; TLS: bounded by gatherWait)
	parkBlock                 // fallback: one read, waiting as long as it takes
)

// parkState is park's answer.
type parkState uint8

const (
	parkWait  parkState = iota // nothing to receive until more bytes arrive
	parkReady                  // call onReadable: a whole message, a message larger than the buffer, the peer's close, a failure
	parkEnded                  // the receive side ended and onReadable was told: stop watching
	parkBusy                   // another goroutine is receiving
)

// gatherWait bounds park's read when the socket is readable: a plain
// socket answers at once; a TLS record that is still arriving is waited
// for this long, then left in crypto/tls's buffer until the socket is
// readable again.
const gatherWait = 2 * time.Millisecond

// park runs the receive side of a watched connection between calls of
// onReadable; see parkMode and parkState.
func (c *Conn) park(mode parkMode) parkState {
	in := &c.in
	if !in.busy.CompareAndSwap(false, true) {
		return parkBusy
	}
	defer c.leaveRecv()
	if c.closed.Load() {
		return parkEnded
	}
	if in.err != nil || in.peer.rec.Load() != nil || c.kaFailed.Load() {
		if mode <= parkProbe {
			return parkEnded
		}
		return parkReady
	}
	if in.msg.op != 0 || in.frame.left != 0 {
		// onReadable left a message open (a Reader not read to its end):
		// the rest is its business.
		if in.r < in.w || mode == parkEvent {
			return parkReady
		}
		if mode <= parkProbe {
			return parkWait
		}
	} else if st := c.scanParked(); st != parkWait || mode == parkScan {
		return st
	}
	_, tlsConn := c.u.(*tls.Conn)
	if mode == parkEvent && !tlsConn {
		if w := c.pw.Load(); w != nil && w.rc != nil {
			return c.parkNow(w.rc)
		}
	}
	var dl time.Time
	switch mode {
	case parkProbe:
		dl = aLongTimeAgo // only what a TLS conn already decrypted or buffered
	case parkEvent:
		dl = time.Now().Add(gatherWait)
	}
	if mode != parkBlock {
		// Bytes are there, or nothing is waited for: read straight into
		// the read buffer (leaveRecv gives it back if nothing came). Only
		// the fallback's wait reads its first byte into c.first.
		c.takeReadBuf()
	}
	for {
		c.setReadDeadline(dl)
		if err := c.fill(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.kaFailed.Load() && mode != parkBlock {
				return parkWait
			}
			return parkReady // the receive call meets the same failure
		}
		if in.msg.op != 0 || in.frame.left != 0 {
			return parkReady
		}
		st := c.scanParked()
		if st != parkWait || !tlsConn || mode == parkBlock {
			return st
		}
		// A read of a TLS conn returns what fits of the record it
		// decrypted; the rest, and any whole records read with it, stay
		// in crypto/tls where the socket no longer shows them: take them
		// before parking, without waiting. Each round adds bytes to the
		// read buffer, and scanParked answers parkReady for a message
		// that cannot be buffered whole, so the loop ends.
		dl = aLongTimeAgo
	}
}

// parkNow is park's read when epoll reported a plain socket readable:
// one non-blocking read straight from the descriptor (readNow), so no
// deadline is set and cleared around it, and no read buffer is held when
// nothing came after all. Anything but bytes (the end of the stream, a
// failure) is left for onReadable's receive, which meets it through the
// net.Conn as Recv always does. Caller holds the receive side.
func (c *Conn) parkNow(rc syscall.RawConn) parkState {
	in := &c.in
	c.takeReadBuf()
	if in.r == in.w {
		in.r, in.w = 0, 0
	} else if in.w == len(in.buf) {
		in.w = copy(in.buf, in.buf[in.r:in.w])
		in.r = 0
	}
	n, again, err := readNow(rc, in.buf[in.w:])
	if again && n == 0 {
		return parkWait
	}
	if n == 0 || err != nil {
		return parkReady
	}
	in.w += n
	if in.msg.op != 0 || in.frame.left != 0 {
		return parkReady
	}
	return c.scanParked()
}

// scanParked consumes the pings and pongs buffered before the next
// message (answering pings as Recv does) and reports whether a whole
// message, or one that cannot be buffered whole, is there. Anything
// unusual (a close frame, a protocol violation) is left for onReadable's
// receive, which handles it as it always does.
func (c *Conn) scanParked() parkState {
	in := &c.in
	for in.r < in.w {
		h, hn, err := parseHeader(in.buf[in.r:in.w])
		if err == errShort {
			return parkWait
		}
		if err != nil || !h.control() {
			return c.scanMessage()
		}
		if h.op == opClose || checkHeader(&h, !c.client, false, in.zr != nil) != nil {
			return parkReady
		}
		total := hn + int(h.length)
		if in.w-in.r < total {
			return parkWait
		}
		if c.ka != nil {
			c.ka.seen.Store(time.Now().UnixNano())
		}
		p := in.buf[in.r+hn : in.r+total]
		if h.masked {
			mask(p, h.key, 0)
		}
		in.r += total
		c.control(h.op, p) // a ping or a pong: no error
	}
	return parkWait
}

// scanMessage walks the frames of the message that starts at in.r:
// parkReady if its last frame is buffered whole or if it cannot be
// buffered whole (onReadable then reads it through, under its own ctx),
// parkWait if more of it must arrive first.
func (c *Conn) scanMessage() parkState {
	in := &c.in
	room := uint64(len(in.buf))
	pos := in.r
	for {
		h, hn, err := parseHeader(in.buf[pos:in.w])
		if err == errShort {
			if uint64(pos-in.r+maxHeader) > room {
				return parkReady
			}
			return parkWait
		}
		if err != nil {
			return parkReady
		}
		end := uint64(pos-in.r) + uint64(hn)
		if h.length > room || end+h.length > room {
			return parkReady
		}
		end += h.length
		if uint64(in.w-in.r) < end {
			return parkWait
		}
		if h.fin && !h.control() {
			return parkReady
		}
		pos = in.r + int(end)
	}
}

// parkMark identifies the receive side's position, so that the poller
// can tell whether onReadable received anything.
type parkMark struct {
	r, w int
	buf  *byte
	n    int64
	op   byte
	err  bool
}

// mark returns the receive side's position; ok is false if another
// goroutine is receiving.
func (c *Conn) mark() (m parkMark, ok bool) {
	in := &c.in
	if !in.busy.CompareAndSwap(false, true) {
		return m, false
	}
	m = parkMark{r: in.r, w: in.w, n: in.msg.n, op: in.msg.op, err: in.err != nil}
	if len(in.buf) > 0 {
		m.buf = &in.buf[0]
	}
	in.busy.Store(false)
	return m, true
}
