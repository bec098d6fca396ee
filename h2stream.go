package ws

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// h2WriteBatch is the most DATA payload a stream's Write sends in one
// write on the connection.
const h2WriteBatch = 64 << 10

// h2SmallRecv is the largest receive buffer a client stream keeps while
// it is drained; beyond it, a stream buffers in one of h2RecvPool's.
const h2SmallRecv = 32 << 10

// h2RecvPool holds the receive buffers, one window each, of client
// streams that have more than h2SmallRecv unread.
var h2RecvPool = sync.Pool{New: func() any { return new([h2StreamWindow]byte) }}

// clientStream is one extended CONNECT stream of an h2Conn as a net.Conn:
// the bytestream a client WebSocket attaches to. Its fields are guarded
// by the connection's mu. Read returns DATA as it arrives, within the
// window we gave (h2StreamWindow), and returns the window as the
// WebSocket consumes it; Write sends DATA within the peer's windows,
// waiting for WINDOW_UPDATE. Deadlines wake blocked calls and never break
// the stream; a stream whose deadline passed keeps working.
type clientStream struct {
	c  *h2Conn
	id uint32

	sendWindow int64
	recvWindow int64 // what the peer may still send
	unacked    int64 // consumed, not yet given back
	rbuf       []byte
	rpos       int
	eof        bool  // END_STREAM received
	rerr       error // reset, or the connection failed
	localEnd   bool  // END_STREAM sent
	closed     bool  // Close called
	gone       bool  // forgotten by the connection

	status   int         // the response's :status, once respDone
	header   http.Header // the response's fields
	body     []byte      // a refusal's body, first maxErrorBody bytes
	respDone chan struct{}

	readCh   chan struct{} // signalled when data, EOF or an error arrives
	rdl, wdl streamDeadline
}

func newClientStream(c *h2Conn, id uint32, window int64) *clientStream {
	return &clientStream{
		c: c, id: id, sendWindow: window, recvWindow: h2StreamWindow,
		respDone: make(chan struct{}), readCh: make(chan struct{}, 1),
		rdl: newStreamDeadline(), wdl: newStreamDeadline(),
	}
}

// receive takes a DATA frame (readLoop).
func (s *clientStream) receive(h h2Header, p []byte) error {
	c := s.c
	c.mu.Lock()
	if int64(h.length) > s.recvWindow {
		c.mu.Unlock()
		return connError(h2FlowControlError, "DATA beyond the stream's window")
	}
	s.recvWindow -= int64(h.length)
	switch {
	case s.eof || s.rerr != nil:
		c.mu.Unlock()
		s.reset(h2StreamClosed, &h2Error{h2StreamClosed, s.id, "DATA after END_STREAM"})
		return nil
	case s.status == 0:
		c.mu.Unlock()
		s.reset(h2ProtocolError, &h2Error{h2ProtocolError, s.id, "DATA before the response"})
		return nil
	case s.status != http.StatusOK:
		s.body = append(s.body, p[:min(len(p), maxErrorBody-len(s.body))]...)
		s.unacked += int64(h.length)
	default:
		s.unacked += int64(int(h.length) - len(p)) // padding
		if s.rpos > 0 && len(s.rbuf)+len(p) > cap(s.rbuf) {
			s.rbuf = s.rbuf[:copy(s.rbuf, s.rbuf[s.rpos:])]
			s.rpos = 0
		}
		if len(s.rbuf)+len(p) > max(cap(s.rbuf), h2SmallRecv) && cap(s.rbuf) < h2StreamWindow {
			// Past the small buffer, a pooled one that holds a whole
			// window: it never grows, and goes back to the pool when
			// Read drains it.
			big := (*h2RecvPool.Get().(*[h2StreamWindow]byte))[:0]
			s.rbuf = append(big, s.rbuf...)
		}
		s.rbuf = append(s.rbuf, p...)
	}
	if h.flags&h2FlagEndStream != 0 {
		s.eof = true
	}
	inc := s.takeUnacked()
	c.mu.Unlock()
	signal(s.readCh)
	s.giveWindow(inc)
	return nil
}

// takeUnacked returns the window to give back, if it is worth a frame.
// Caller holds mu.
func (s *clientStream) takeUnacked() int64 {
	if s.unacked < h2StreamWindow/4 || s.eof || s.rerr != nil {
		return 0
	}
	inc := s.unacked
	s.unacked = 0
	s.recvWindow += inc
	return inc
}

func (s *clientStream) giveWindow(inc int64) {
	if inc > 0 {
		s.c.writeFrames(nil, func(b []byte) []byte { return appendWindowUpdate(b, s.id, uint32(inc)) })
	}
}

// headers takes a decoded header block (readLoop): the response, or
// trailers.
func (s *clientStream) headers(fields []hpack.HeaderField, end bool) {
	c := s.c
	c.mu.Lock()
	if s.status != 0 {
		c.mu.Unlock()
		if !end {
			s.reset(h2ProtocolError, &h2Error{h2ProtocolError, s.id, "trailers without END_STREAM"})
			return
		}
		c.mu.Lock()
		s.eof = true
		c.mu.Unlock()
		signal(s.readCh)
		return
	}
	status := 0
	h := make(http.Header, len(fields))
	for _, f := range fields {
		if f.Name == ":status" {
			status, _ = strconv.Atoi(f.Value)
		} else if len(f.Name) > 0 && f.Name[0] != ':' {
			h.Add(f.Name, f.Value)
		}
	}
	switch {
	case status >= 100 && status < 200 && !end:
		c.mu.Unlock()
		return // informational
	case status < 200 || status > 999:
		c.mu.Unlock()
		s.reset(h2ProtocolError, &h2Error{h2ProtocolError, s.id, "response without a valid :status"})
		return
	}
	s.status, s.header, s.eof = status, h, end
	close(s.respDone)
	c.mu.Unlock()
	signal(s.readCh)
}

// reset sends RST_STREAM with code and fails the stream with err.
func (s *clientStream) reset(code uint32, err error) {
	s.c.writeFrames(nil, func(b []byte) []byte { return appendRST(b, s.id, code) })
	s.fail(err, true)
}

// fail records err as the stream's failure and, if the stream is over
// at the peer's end too (gone), removes it from the connection.
func (s *clientStream) fail(err error, gone bool) {
	c := s.c
	c.mu.Lock()
	if s.rerr == nil {
		s.rerr = err
	}
	if s.status == 0 {
		s.status = -1
		close(s.respDone)
	}
	forget := !s.gone
	s.gone = true
	c.wakeLocked()
	c.mu.Unlock()
	signal(s.readCh)
	if forget {
		c.forget(s.id)
	}
}

// Read reads the stream's DATA; io.EOF after the server's END_STREAM.
func (s *clientStream) Read(p []byte) (int, error) {
	c := s.c
	for {
		c.mu.Lock()
		switch {
		case s.closed:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case s.rpos < len(s.rbuf):
			n := copy(p, s.rbuf[s.rpos:])
			if s.rpos += n; s.rpos == len(s.rbuf) {
				s.rpos, s.rbuf = 0, s.rbuf[:0]
				if cap(s.rbuf) == h2StreamWindow {
					// an idle stream holds no large buffer
					h2RecvPool.Put((*[h2StreamWindow]byte)(s.rbuf[:h2StreamWindow]))
					s.rbuf = nil
				} else if cap(s.rbuf) > h2SmallRecv {
					s.rbuf = nil
				}
			}
			s.unacked += int64(n)
			inc := s.takeUnacked()
			c.mu.Unlock()
			s.giveWindow(inc)
			return n, nil
		case s.rerr != nil:
			err := s.rerr
			c.mu.Unlock()
			return 0, err
		case s.eof:
			c.mu.Unlock()
			return 0, io.EOF
		case len(p) == 0:
			c.mu.Unlock()
			return 0, nil
		}
		c.mu.Unlock()
		select {
		case <-s.readCh:
		case <-s.rdl.wait():
			return 0, errStreamTimeout
		}
	}
}

// Write sends p as DATA frames, as the peer's windows allow.
func (s *clientStream) Write(p []byte) (int, error) {
	c := s.c
	written := 0
	expire := s.wdl.wait()
	for len(p) > 0 {
		c.mu.Lock()
		var err error
		switch {
		case s.closed:
			err = net.ErrClosed
		case s.rerr != nil:
			err = s.rerr
		case s.localEnd:
			err = detail("http2: write after CloseWrite")
		case c.err != nil:
			err = c.err
		}
		if err != nil {
			c.mu.Unlock()
			return written, err
		}
		// As many DATA frames as the windows allow, up to h2WriteBatch
		// bytes, go out in one write.
		n := int(min(s.sendWindow, c.sendWindow, h2WriteBatch, int64(len(p))))
		if n <= 0 {
			wake := c.wake
			c.mu.Unlock()
			select {
			case <-wake:
				continue
			case <-expire:
				return written, errStreamTimeout
			}
		}
		s.sendWindow -= int64(n)
		c.sendWindow -= int64(n)
		frame := c.maxFrame
		c.mu.Unlock()
		chunk := p[:n]
		err = c.writeFrames(expire, func(b []byte) []byte {
			for len(chunk) > 0 {
				k := min(len(chunk), frame)
				b = append(appendH2Header(b, h2Data, 0, s.id, k), chunk[:k]...)
				chunk = chunk[k:]
			}
			return b
		})
		if err == errStreamTimeout { // nothing was written: the window is ours again
			c.mu.Lock()
			s.sendWindow += int64(n)
			c.sendWindow += int64(n)
			c.mu.Unlock()
		}
		if err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// CloseWrite ends our side of the stream (END_STREAM); reading goes on.
func (s *clientStream) CloseWrite() error {
	c := s.c
	c.mu.Lock()
	if s.closed || s.localEnd || s.rerr != nil {
		c.mu.Unlock()
		return net.ErrClosed
	}
	s.localEnd = true
	c.mu.Unlock()
	return c.writeFrames(s.wdl.wait(), func(b []byte) []byte {
		return appendH2Header(b, h2Data, h2FlagEndStream, s.id, 0)
	})
}

// Close ends the stream: a RST_STREAM (CANCEL) unless both sides had
// ended it. The connection closes with its last stream.
func (s *clientStream) Close() error {
	c := s.c
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	rst := !(s.localEnd && s.eof) && s.rerr == nil && !s.gone
	forget := !s.gone
	s.gone = true
	c.wakeLocked()
	c.mu.Unlock()
	signal(s.readCh)
	s.rdl.stop()
	s.wdl.stop()
	if rst {
		c.writeFrames(nil, func(b []byte) []byte { return appendRST(b, s.id, h2Cancel) })
	}
	if forget {
		c.forget(s.id)
	}
	return nil
}

// LocalAddr returns the address of the HTTP/2 connection.
func (s *clientStream) LocalAddr() net.Addr { return s.c.u.LocalAddr() }

// RemoteAddr returns the peer's address of the HTTP/2 connection.
func (s *clientStream) RemoteAddr() net.Addr { return s.c.u.RemoteAddr() }

// SetDeadline sets both deadlines.
func (s *clientStream) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	return nil
}

// SetReadDeadline bounds Read; passing it never breaks the stream.
func (s *clientStream) SetReadDeadline(t time.Time) error { s.rdl.set(t); return nil }

// SetWriteDeadline bounds Write's waits for windows and the connection.
func (s *clientStream) SetWriteDeadline(t time.Time) error { s.wdl.set(t); return nil }
