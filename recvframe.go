package ws

import (
	"errors"
	"io"
	"time"
)

// The frame layer of the receive half: the read buffer, frame headers,
// control frames and raw payload. End of message and end of stream are
// different signals here: errEndOfMessage is returned after the last
// payload byte of a message's last frame, and an end of the bytestream is
// always io.ErrUnexpectedEOF (readErr), wherever it falls.

// readErr is the error of a read of u that returned no byte.
func readErr(err error) error {
	switch err {
	case nil:
		return io.ErrNoProgress
	case io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// readRaw reads up to len(dst) bytes of the open message's payload as
// sent, unmasked, into dst. With the read buffer empty and much left to
// read, it reads straight into dst.
func (c *Conn) readRaw(dst []byte) (int, error) {
	if err := c.frameReady(); err != nil {
		return 0, err
	}
	in := &c.in
	want := len(dst)
	if uint64(want) > in.frame.left {
		want = int(in.frame.left)
	}
	f := &in.frame
	var k int
	if in.r == in.w && want >= readBufSize/2 {
		// Straight into dst, unmasked there in place.
		var err error
		if k, err = c.u.Read(dst[:want]); k == 0 {
			return 0, readErr(err)
		}
		if f.masked {
			f.pos = uint8(mask(dst[:k], f.key, int(f.pos)))
		}
	} else {
		if in.r == in.w {
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
		// Out of the read buffer: unmasked as it is copied.
		k = min(want, in.w-in.r)
		if f.masked {
			f.pos = uint8(maskCopy(dst, in.buf[in.r:in.r+k], f.key, int(f.pos)))
		} else {
			copy(dst, in.buf[in.r:in.r+k])
		}
		in.r += k
	}
	f.left -= uint64(k)
	return k, nil
}

// skipRaw consumes up to max bytes of the open message's payload as sent
// from the read buffer and returns them, unmasked, in place.
func (c *Conn) skipRaw(max int) ([]byte, error) {
	if err := c.frameReady(); err != nil {
		return nil, err
	}
	in := &c.in
	if in.r == in.w {
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	f := &in.frame
	k := min(max, in.w-in.r)
	if uint64(k) > f.left {
		k = int(f.left)
	}
	b := in.buf[in.r : in.r+k]
	in.r += k
	f.left -= uint64(k)
	if f.masked {
		f.pos = uint8(mask(b, f.key, int(f.pos)))
	}
	return b, nil
}

// frameReady makes sure payload of the open message is due: it reads the
// headers of continuation frames (and any control frames between them)
// and returns errEndOfMessage after the message's last frame.
func (c *Conn) frameReady() error {
	for c.in.frame.left == 0 {
		if c.in.frame.fin {
			return errEndOfMessage
		}
		if err := c.nextFrame(); err != nil {
			return err
		}
	}
	return nil
}

// payloadReader is the open compressed message's payload as an
// io.Reader for the inflater: io.EOF after the message's last frame. It
// is the Conn itself ((*payloadReader)(c)), so that the Conn holds no
// pointer to itself for it.
type payloadReader Conn

func (p *payloadReader) Read(b []byte) (int, error) {
	n, err := (*Conn)(p).readRaw(b)
	if err == errEndOfMessage {
		err = io.EOF
	}
	return n, err
}

// fill reads more bytes from u into the read buffer. With no read buffer
// (a pooled connection between operations) it waits holding none, as
// awaitIdle does, and takes a read buffer once bytes are there.
func (c *Conn) fill() error {
	in := &c.in
	if in.buf == nil {
		if c.waitIdle() {
			return nil
		}
		return c.fillFirst()
	}
	if in.r == in.w {
		in.r, in.w = 0, 0
	} else if in.w == len(in.buf) {
		in.w = copy(in.buf, in.buf[in.r:in.w])
		in.r = 0
	}
	n, err := c.u.Read(in.buf[in.w:])
	in.w += n
	if n > 0 {
		return nil
	}
	return readErr(err)
}

// nextFrame reads the next frame header. Control frames are read whole
// (they are never consumed in part, so a timeout leaves them buffered)
// and handled; for a data frame it sets up the payload state and, if the
// frame starts a message, opens it.
func (c *Conn) nextFrame() error { return c.readFrames(false) }

// errDataNext is readFrames' answer, with controlOnly, when a data frame
// is next: it stays buffered, unread.
var errDataNext = errors.New("ws: a data frame is next")

// readFrames reads frame headers, handling control frames whole, up to
// the next data frame, which it opens. With controlOnly it handles one
// control frame and returns nil, or leaves a data frame unread and
// returns errDataNext.
func (c *Conn) readFrames(controlOnly bool) error {
	in := &c.in
	for {
		h, hn, err := parseHeader(in.buf[in.r:in.w])
		if err == errShort {
			if err := c.fill(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if c.ka != nil {
			c.ka.seen.Store(time.Now().UnixNano())
		}
		if werr := checkHeader(&h, !c.client, in.msg.op != 0, in.zr != nil); werr != nil {
			return werr
		}
		if h.control() {
			total := hn + int(h.length)
			for in.w-in.r < total {
				if err := c.fill(); err != nil {
					return err
				}
			}
			p := in.buf[in.r+hn : in.r+total]
			if h.masked {
				mask(p, h.key, 0)
			}
			in.r += total
			if err := c.control(h.op, p); err != nil {
				return err
			}
			if controlOnly {
				return nil
			}
			continue
		}
		if controlOnly {
			return errDataNext
		}
		in.r += hn
		in.frame = frameState{left: h.length, fin: h.fin, masked: h.masked, key: h.key}
		if h.op != opCont {
			in.msg.op = h.op
			in.msg.z = h.rsv&bitRsv1 != 0
			in.msg.n = 0
			in.utf8 = 0
		}
		if h.length > uint64(in.limit-in.msg.n) {
			// Never wait for a payload that could not be taken anyway.
			return errTooBig
		}
		return nil
	}
}

// control handles a control frame with payload p.
func (c *Conn) control(op byte, p []byte) error {
	switch op {
	case opPing:
		// Answered unless our close was sent (RFC 6455 §5.5.2), without
		// waiting for a send that holds the wire.
		if !c.out.closeSent.Load() {
			c.queuePong(p)
		}
	case opClose:
		code, reason, werr := parseClose(p)
		if werr != nil {
			return werr
		}
		pc := &closeRecord{code, string(reason)}
		c.in.peer.rec.Store(pc)
		c.in.peer.ev.fire()
		return CloseError{code, pc.reason}
	case opPong:
		if s := c.ping.Load(); s != nil {
			s.answered(p)
		}
	}
	return nil
}
