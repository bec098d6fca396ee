package ws

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// The server side of RFC 8441: an extended CONNECT request that net/http's
// HTTP/2 server hands to a handler becomes a WebSocket on its stream. The
// stream, r.Body to read and w to write, is wrapped as a net.Conn
// (serverStream) and the WebSocket attaches to it without a handshake of
// its own, as after an HTTP/1.1 upgrade.

// xconnectHint says why net/http did not offer WebSockets over HTTP/2.
const xconnectHint = "net/http's HTTP/2 server accepts WebSockets (RFC 8441 extended CONNECT) only in a process started with GODEBUG=http2xconnect=1"

// upgradeH2 is Upgrade for a request that came over HTTP/2.
func (cfg *Config) upgradeH2(w http.ResponseWriter, r *http.Request, flags Flags) (*Conn, error) {
	const op = "upgrade"
	req, ref := h2Request(r)
	if ref == nil {
		ref = checkHost(cfg, req)
	}
	if ref == nil {
		ref = checkOrigin(cfg, req.origin, req.host, func() *http.Request { return r })
	}
	if ref != nil {
		refuseH2(w, ref)
		return nil, newError(op, ErrProto, ref)
	}
	var proto string
	var dp *deflateParams
	if cfg != nil {
		proto = pickSubprotocol(cfg.Subprotocols, req.protocols.list())
		dp = acceptDeflate(cfg.Compression, req.extensions.list())
	}
	h := w.Header()
	for name := range h {
		if handshakeField(name) {
			delete(h, name)
		}
	}
	if proto != "" {
		h.Set("Sec-WebSocket-Protocol", proto)
	}
	if dp != nil {
		h.Set("Sec-WebSocket-Extensions", dp.response)
	}
	if cfg != nil {
		setFields(h, cfg.Header)
	}
	rc := http.NewResponseController(w)
	if dl := cfg.switchingDeadline(r); !dl.IsZero() {
		rc.SetWriteDeadline(dl)
	}
	w.WriteHeader(http.StatusOK)
	err := rc.Flush()
	rc.SetWriteDeadline(time.Time{})
	if err != nil {
		r.Body.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, newError(op, ErrTimedOut, err)
		}
		return nil, newError(op, ErrConnReset, err)
	}
	s := newServerStream(w, r, rc)
	meta := connMeta{resource: r.URL.RequestURI(), host: r.Host, subprotocol: proto, deflate: dp}
	return cfg.attachUpgraded(op, s, flags, nil, false, nil, meta)
}

// h2Request gathers what the policy checks need from an HTTP/2 request,
// or refuses it: only an extended CONNECT for the websocket protocol, in
// version 13, is a WebSocket (RFC 8441 §4, §5).
func h2Request(r *http.Request) (*request, *refusal) {
	h := r.Header
	switch {
	case r.Method != http.MethodConnect:
		return nil, &refusal{http.StatusHTTPVersionNotSupported,
			"WebSocket over HTTP/2 needs an extended CONNECT (RFC 8441), not " + r.Method + "; " + xconnectHint, ""}
	case !strings.EqualFold(h.Get(":protocol"), "websocket"):
		return nil, &refusal{http.StatusBadRequest, "CONNECT without :protocol websocket", ""}
	case r.Host == "":
		return nil, &refusal{http.StatusBadRequest, "missing :authority", ""}
	}
	req := &request{
		method: []byte(r.Method),
		target: []byte(r.URL.RequestURI()),
		proto:  []byte(r.Proto),
		host:   []byte(r.Host),
		hosts:  1,
		origin: []byte(h.Get("Origin")),
	}
	if vs := h["Sec-Websocket-Version"]; len(vs) > 0 {
		req.version = []byte(vs[len(vs)-1])
	}
	if string(req.version) != "13" {
		return nil, &refusal{http.StatusUpgradeRequired, "Sec-WebSocket-Version is not 13", "Sec-WebSocket-Version: 13\r\n"}
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		req.loopback = loopbackAddr(a)
	}
	for _, v := range h["Sec-Websocket-Protocol"] {
		req.protocols.add([]byte(v))
	}
	for _, v := range h["Sec-Websocket-Extensions"] {
		req.extensions.add([]byte(v))
	}
	return req, nil
}

// refuseH2 answers a refused request on its stream, as http.Error does
// (HTTP/2 has no Connection: close; the stream ends with the answer).
func refuseH2(w http.ResponseWriter, ref *refusal) {
	for line := range strings.SplitSeq(ref.extra, "\r\n") {
		if name, value, ok := strings.Cut(line, ": "); ok {
			w.Header().Set(name, value)
		}
	}
	http.Error(w, ref.why, ref.status)
}

// setFields copies h's sendable fields (as appendFields chooses them)
// into dst.
func setFields(dst, h http.Header) {
	for name, vs := range h {
		if !validToken(name) || handshakeField(name) {
			continue
		}
		for _, v := range vs {
			if validFieldValue(v) {
				dst.Add(name, v)
			}
		}
	}
}

// streamChunk is the size of the reads a server stream makes ahead of its
// WebSocket.
const streamChunk = 8 << 10

// serverStream is an HTTP/2 stream of net/http's server as a net.Conn:
// Read reads the request body, Write writes and flushes the response.
// Reads go through one goroutine (pump) that reads ahead one chunk, so
// that a read deadline can pass without breaking the stream: net/http's
// own read deadline closes the body for good. Write deadlines are
// net/http's: one that passes resets the stream.
type serverStream struct {
	w             http.ResponseWriter
	body          io.ReadCloser
	rc            *http.ResponseController
	local, remote net.Addr

	mu      sync.Mutex
	started bool
	chunk   []byte
	data    []byte        // read ahead, not yet consumed
	rerr    error         // the body's error, after data
	ready   chan struct{} // signalled when data or rerr is set
	more    chan struct{} // signalled when data was consumed
	done    chan struct{} // closed by Close
	rdl     streamDeadline
	closed  bool

	wmu     sync.Mutex
	writing bool // a Write is in net/http (under mu)
}

func newServerStream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) *serverStream {
	s := &serverStream{
		w: w, body: r.Body, rc: rc,
		remote: streamAddr(r.RemoteAddr),
		ready:  make(chan struct{}, 1),
		more:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		rdl:    newStreamDeadline(),
	}
	s.local = streamAddr("")
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.local = a
	}
	return s
}

// pump reads the body a chunk at a time until it fails or the stream is
// closed, waiting each time until Read consumed the chunk.
func (s *serverStream) pump() {
	for {
		n, err := s.body.Read(s.chunk)
		s.mu.Lock()
		s.data = s.chunk[:n]
		if err != nil {
			s.rerr = err
		}
		s.mu.Unlock()
		signal(s.ready)
		if err != nil {
			return
		}
		select {
		case <-s.more:
		case <-s.done:
			return
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Read reads what the client sent on the stream; io.EOF when it ended it.
func (s *serverStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if !s.started && !s.closed {
		s.started = true
		s.chunk = make([]byte, streamChunk)
		go s.pump()
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			return 0, net.ErrClosed
		case len(s.data) > 0:
			n := copy(p, s.data)
			s.data = s.data[n:]
			if len(s.data) == 0 && s.rerr == nil {
				signal(s.more)
			}
			s.mu.Unlock()
			return n, nil
		case s.rerr != nil:
			err := s.rerr
			s.mu.Unlock()
			return 0, err
		case len(p) == 0:
			s.mu.Unlock()
			return 0, nil
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-s.rdl.wait():
			return 0, errStreamTimeout
		case <-s.done:
		}
	}
}

// Write writes p as DATA and flushes it.
func (s *serverStream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	s.writing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.writing = false
		s.mu.Unlock()
	}()
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// Close ends the stream's use: reads and writes fail with net.ErrClosed.
// A write blocked in net/http (the client stopped reading) is cut by a
// stream reset. The stream itself ends when the handler returns.
func (s *serverStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	writing := s.writing
	s.mu.Unlock()
	close(s.done)
	s.rdl.stop()
	if writing {
		s.rc.SetWriteDeadline(aLongTimeAgo)
	}
	return s.body.Close()
}

func (s *serverStream) LocalAddr() net.Addr  { return s.local }
func (s *serverStream) RemoteAddr() net.Addr { return s.remote }

func (s *serverStream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

func (s *serverStream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return nil
}

func (s *serverStream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	return s.rc.SetWriteDeadline(t)
}
