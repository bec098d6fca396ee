package wire

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// MemConn is an in-memory net.Conn for micro-benchmarks: reads return a
// handshake (once) and then an endless repetition of Loop; writes are
// discarded. When Loop is empty, reads block forever once the handshake is
// consumed (there is nothing to receive).
//
// With Serve set it plays the server side of a client library's handshake:
// it collects the client's request and answers it with the matching 101
// response; otherwise Pre is served as is.
type MemConn struct {
	mu      sync.Mutex
	Pre     []byte // served first
	Loop    []byte // then served forever
	Serve   bool   // answer the client's upgrade request
	req     []byte
	off     int
	Written int64
	closed  bool
	done    chan struct{}
	cond    *sync.Cond
}

// Read implements net.Conn.
func (m *MemConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, net.ErrClosed
	}
	for m.Serve && !m.closed {
		// The client has not finished its request: nothing to read yet.
		if m.cond == nil {
			m.cond = sync.NewCond(&m.mu)
		}
		m.cond.Wait()
	}
	if m.closed {
		return 0, net.ErrClosed
	}
	if len(m.Pre) > 0 {
		n := copy(p, m.Pre)
		m.Pre = m.Pre[n:]
		return n, nil
	}
	if len(m.Loop) == 0 {
		if m.done == nil {
			m.done = make(chan struct{})
		}
		done := m.done
		m.mu.Unlock()
		<-done // nothing will ever arrive
		m.mu.Lock()
		return 0, net.ErrClosed
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], m.Loop[m.off:])
		n += k
		m.off += k
		if m.off == len(m.Loop) {
			m.off = 0
		}
	}
	return n, nil
}

// Write implements net.Conn.
func (m *MemConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, net.ErrClosed
	}
	m.Written += int64(len(p))
	if m.Serve {
		m.req = append(m.req, p...)
		if i := bytes.Index(m.req, []byte("\r\n\r\n")); i >= 0 {
			key, _ := headerValue(m.req[:i+4], "sec-websocket-key")
			m.Pre = Response(key)
			m.Serve = false
			m.req = nil
			if m.cond != nil {
				m.cond.Broadcast()
			}
		}
	}
	return len(p), nil
}

// Close implements net.Conn.
func (m *MemConn) Close() error {
	m.mu.Lock()
	if !m.closed && m.done != nil {
		close(m.done)
	}
	m.closed = true
	if m.cond != nil {
		m.cond.Broadcast()
	}
	m.mu.Unlock()
	return nil
}

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}

// LocalAddr implements net.Conn.
func (m *MemConn) LocalAddr() net.Addr { return memAddr }

// RemoteAddr implements net.Conn.
func (m *MemConn) RemoteAddr() net.Addr { return memAddr }

// SetDeadline implements net.Conn.
func (m *MemConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn.
func (m *MemConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn.
func (m *MemConn) SetWriteDeadline(time.Time) error { return nil }
