package ws

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// The client's HTTP/2 connection (RFC 9113), enough for RFC 8441: it opens
// extended CONNECT streams, one per WebSocket, and carries their DATA with
// flow control both ways. One goroutine reads frames (readLoop); writers
// take the write token. A peer that breaks the protocol or floods gets a
// GOAWAY and the connection is closed: every limit is checked before
// anything is buffered.

// Limits of the client's HTTP/2 connections.
const (
	h2StreamWindow = 256 << 10 // receive window of a stream: its largest buffer
	h2ConnWindow   = 1 << 30   // receive window of the connection, topped up as DATA arrives
	h2FloodLimit   = 10000     // frames that cost work but carry nothing, per second
)

// h2Conn is one client HTTP/2 connection.
type h2Conn struct {
	u     net.Conn
	br    *bufio.Reader
	pool  *h2Pool    // the pool it may be listed in; nil for none
	entry *poolEntry // its list in pool (pool.mu), nil once removed

	wtok chan struct{} // write token: held to write a frame on u
	wbuf []byte        // (wtok)
	enc  *hpack.Encoder
	ebuf bytes.Buffer // (wtok)

	dec       *hpack.Decoder // readLoop only
	maxHeader int            // our SETTINGS_MAX_HEADER_LIST_SIZE

	mu          sync.Mutex
	streams     map[uint32]*clientStream
	nextID      uint32
	reserved    int           // streams being opened (reserve without open)
	maxStreams  uint32        // the peer's SETTINGS_MAX_CONCURRENT_STREAMS
	initWindow  int64         // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame    int           // the peer's SETTINGS_MAX_FRAME_SIZE
	sendWindow  int64         // connection-level window for our DATA
	xconnect    bool          // the peer's SETTINGS_ENABLE_CONNECT_PROTOCOL
	goaway      bool          // no new streams: GOAWAY received or sent
	lastID      uint32        // the peer's last stream id from GOAWAY
	err         error         // the connection failed
	wake        chan struct{} // closed and replaced when windows grow or state changes
	recvUnacked int64         // connection-level bytes not yet returned
	dead        chan struct{} // closed when the connection fails or closes

	flood      int       // readLoop only
	floodStart time.Time // readLoop only
}

// newH2Conn sends the preface and our SETTINGS on u and reads the peer's
// SETTINGS, by u's deadlines: the caller sets them. It returns the
// connection with its readLoop running; u is closed on error. pool is
// the pool it will be listed in (nil: none).
func newH2Conn(u net.Conn, maxHeader int, pool *h2Pool) (*h2Conn, error) {
	c := &h2Conn{
		u: u, pool: pool, br: bufio.NewReaderSize(u, 32<<10),
		wtok: make(chan struct{}, 1), streams: make(map[uint32]*clientStream), nextID: 1,
		maxStreams: 100, initWindow: h2DefaultWindow, maxFrame: h2DefaultFrame, sendWindow: h2DefaultWindow,
		wake: make(chan struct{}), dead: make(chan struct{}), maxHeader: maxHeader,
	}
	c.enc = hpack.NewEncoder(&c.ebuf)
	c.dec = hpack.NewDecoder(4096, nil)
	c.dec.SetMaxStringLength(maxHeader)
	b := append([]byte(nil), h2Preface...)
	b = appendSettings(b,
		h2Setting{h2SetEnablePush, 0},
		h2Setting{h2SetInitialWindowSize, h2StreamWindow},
		h2Setting{h2SetMaxHeaderListSize, uint32(maxHeader)},
		h2Setting{h2SetMaxConcurrentStreams, 0})
	b = appendWindowUpdate(b, 0, h2ConnWindow-h2DefaultWindow)
	if _, err := u.Write(b); err != nil {
		u.Close()
		return nil, err
	}
	// The first frame must be the server's SETTINGS (RFC 9113 §3.4);
	// anything else (an HTTP/1.1 answer to the preface) is not HTTP/2.
	h, p, err := c.readFrame()
	if err == nil && (h.typ != h2Settings || h.flags&h2FlagAck != 0) {
		err = connError(h2ProtocolError, "peer's first frame is not SETTINGS")
	}
	if err == nil {
		err = c.handleSettings(h, p)
	}
	if err != nil {
		u.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// readFrame reads one frame; the payload is valid until the next read.
func (c *h2Conn) readFrame() (h2Header, []byte, error) {
	hb, err := c.br.Peek(h2HeaderLen)
	if err != nil {
		return h2Header{}, nil, err
	}
	h := parseH2Header(hb)
	if h.length > h2DefaultFrame {
		return h, nil, connError(h2FrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE")
	}
	c.br.Discard(h2HeaderLen)
	var p []byte
	if int(h.length) <= c.br.Size() {
		if p, err = c.br.Peek(int(h.length)); err == nil {
			c.br.Discard(int(h.length))
		}
	} else {
		p = make([]byte, h.length)
		_, err = io.ReadFull(c.br, p)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	p, ferr := checkFrame(h, p)
	if ferr != nil {
		return h, nil, ferr
	}
	return h, p, nil
}

// readLoop reads and handles frames until the connection fails.
func (c *h2Conn) readLoop() {
	var err error
	for err == nil {
		var h h2Header
		var p []byte
		if h, p, err = c.readFrame(); err == nil {
			err = c.handle(h, p)
		}
	}
	c.fail(err)
}

// handle dispatches one checked frame.
func (c *h2Conn) handle(h h2Header, p []byte) error {
	switch h.typ {
	case h2Data:
		return c.handleData(h, p)
	case h2Headers:
		return c.handleHeaders(h, p)
	case h2Continuation:
		return connError(h2ProtocolError, "CONTINUATION without HEADERS")
	case h2RSTStream:
		return c.handleRST(h, p)
	case h2Settings:
		if h.flags&h2FlagAck != 0 {
			return c.spend()
		}
		if err := c.spend(); err != nil {
			return err
		}
		return c.handleSettings(h, p)
	case h2PushPromise:
		return connError(h2ProtocolError, "PUSH_PROMISE with push disabled")
	case h2Ping:
		if err := c.spend(); err != nil || h.flags&h2FlagAck != 0 {
			return err
		}
		return c.writeFrames(nil, func(b []byte) []byte {
			return append(appendH2Header(b, h2Ping, h2FlagAck, 0, 8), p...)
		})
	case h2GoAway:
		return c.handleGoAway(p)
	case h2WindowUpdate:
		return c.handleWindowUpdate(h, p)
	}
	return c.spend() // PRIORITY, unknown types: ignored
}

// spend counts a frame that makes us work without carrying anything and
// fails the connection past h2FloodLimit a second (SETTINGS, PING, RST
// and empty frame floods).
func (c *h2Conn) spend() error {
	if now := time.Now(); now.Sub(c.floodStart) > time.Second {
		c.floodStart, c.flood = now, 0
	}
	if c.flood++; c.flood > h2FloodLimit {
		return connError(h2EnhanceYourCalm, "flood of control frames")
	}
	return nil
}

// stream returns the open stream id, or nil for a closed one; an id we
// never opened is a connection error (RFC 9113 §5.1).
func (c *h2Conn) stream(id uint32) (*clientStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id%2 == 0 || id >= c.nextID {
		return nil, connError(h2ProtocolError, "frame on idle or server-initiated stream "+strconv.FormatUint(uint64(id), 10))
	}
	return c.streams[id], nil
}

func (c *h2Conn) handleSettings(h h2Header, p []byte) error {
	tableSize := int64(-1)
	c.mu.Lock()
	for i := range len(p) / 6 {
		s := parseSetting(p, i)
		if err := checkSetting(s); err != nil {
			c.mu.Unlock()
			return err
		}
		switch s.id {
		case h2SetMaxConcurrentStreams:
			c.maxStreams = s.val
		case h2SetInitialWindowSize:
			delta := int64(s.val) - c.initWindow
			for _, st := range c.streams {
				if st.sendWindow+delta > h2MaxWindow {
					c.mu.Unlock()
					return connError(h2FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window")
				}
				st.sendWindow += delta
			}
			c.initWindow = int64(s.val)
		case h2SetMaxFrameSize:
			c.maxFrame = int(s.val)
		case h2SetEnableConnectProto:
			if c.xconnect && s.val == 0 {
				c.mu.Unlock()
				return connError(h2ProtocolError, "SETTINGS_ENABLE_CONNECT_PROTOCOL withdrawn")
			}
			c.xconnect = s.val == 1
		case h2SetHeaderTableSize:
			tableSize = int64(min(s.val, 4096))
		}
	}
	c.wakeLocked()
	c.mu.Unlock()
	return c.writeFrames(nil, func(b []byte) []byte {
		if tableSize >= 0 { // the encoder belongs to the token's holder
			c.enc.SetMaxDynamicTableSizeLimit(uint32(tableSize))
		}
		return appendH2Header(b, h2Settings, h2FlagAck, 0, 0)
	})
}

func (c *h2Conn) handleGoAway(p []byte) error {
	c.mu.Lock()
	c.goaway = true
	c.lastID = binary.BigEndian.Uint32(p) & h2MaxStreamID
	code := binary.BigEndian.Uint32(p[4:])
	var refused []*clientStream
	for id, st := range c.streams {
		if id > c.lastID {
			refused = append(refused, st)
		}
	}
	c.wakeLocked()
	c.mu.Unlock()
	c.unlist()
	for _, st := range refused {
		// Not processed (RFC 9113 §6.8): as retryable as REFUSED_STREAM.
		st.fail(&h2Error{code: h2RefusedStream, stream: st.id,
			why: "not processed before GOAWAY (" + h2CodeName(code) + ")"}, true)
	}
	c.closeIfIdle()
	return nil
}

func (c *h2Conn) handleWindowUpdate(h h2Header, p []byte) error {
	inc := int64(binary.BigEndian.Uint32(p) & h2MaxWindow)
	if h.stream == 0 {
		if inc == 0 {
			return connError(h2ProtocolError, "WINDOW_UPDATE of 0")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.sendWindow+inc > h2MaxWindow {
			return connError(h2FlowControlError, "connection window over 2^31-1")
		}
		c.sendWindow += inc
		c.wakeLocked()
		return nil
	}
	st, err := c.stream(h.stream)
	if err != nil || st == nil {
		if err == nil {
			err = c.spend()
		}
		return err
	}
	if inc == 0 {
		st.reset(h2ProtocolError, &h2Error{h2ProtocolError, st.id, "WINDOW_UPDATE of 0"})
		return nil
	}
	c.mu.Lock()
	over := st.sendWindow+inc > h2MaxWindow
	if !over {
		st.sendWindow += inc
		c.wakeLocked()
	}
	c.mu.Unlock()
	if over {
		st.reset(h2FlowControlError, &h2Error{h2FlowControlError, st.id, "stream window over 2^31-1"})
	}
	return nil
}

func (c *h2Conn) handleRST(h h2Header, p []byte) error {
	st, err := c.stream(h.stream)
	if err != nil {
		return err
	}
	if st == nil {
		return c.spend()
	}
	code := binary.BigEndian.Uint32(p)
	st.fail(&h2Error{code: code, stream: st.id, why: "reset by the server"}, true)
	return nil
}

// handleData buffers DATA for its stream, within the window we gave it.
func (c *h2Conn) handleData(h h2Header, p []byte) error {
	st, err := c.stream(h.stream)
	if err != nil {
		return err
	}
	if len(p) == 0 && h.flags&h2FlagEndStream == 0 {
		if err := c.spend(); err != nil {
			return err
		}
	}
	if err := c.returnConnWindow(int64(h.length)); err != nil {
		return err
	}
	if st == nil {
		return nil // a stream we closed: the connection window is returned
	}
	return st.receive(h, p)
}

// returnConnWindow gives the connection-level window back at once: a
// stream's buffer is bounded by its own window, so a stream that is not
// read never stalls the others.
func (c *h2Conn) returnConnWindow(n int64) error {
	c.mu.Lock()
	c.recvUnacked += n
	inc := c.recvUnacked
	if inc < h2ConnWindow/2 {
		c.mu.Unlock()
		return nil
	}
	c.recvUnacked = 0
	c.mu.Unlock()
	return c.writeFrames(nil, func(b []byte) []byte { return appendWindowUpdate(b, 0, uint32(inc)) })
}

// handleHeaders reads a header block (HEADERS and its CONTINUATIONs, at
// most maxHeader bytes in all), decodes it and hands it to its stream.
func (c *h2Conn) handleHeaders(h h2Header, p []byte) error {
	id := h.stream
	block := append([]byte(nil), p...)
	for h.flags&h2FlagEndHeaders == 0 {
		var err error
		if h, p, err = c.readFrame(); err != nil {
			return err
		}
		if h.typ != h2Continuation || h.stream != id {
			return connError(h2ProtocolError, "header block interrupted")
		}
		if len(p) == 0 {
			if err := c.spend(); err != nil {
				return err
			}
		}
		if len(block)+len(p) > c.maxHeader {
			return connError(h2EnhanceYourCalm, "header block over SETTINGS_MAX_HEADER_LIST_SIZE")
		}
		block = append(block, p...)
	}
	var fields []hpack.HeaderField
	size := 0
	c.dec.SetEmitEnabled(true)
	c.dec.SetEmitFunc(func(f hpack.HeaderField) {
		if size += len(f.Name) + len(f.Value) + 32; size > c.maxHeader {
			c.dec.SetEmitEnabled(false) // decoded, to keep the table right, but dropped
			return
		}
		fields = append(fields, f)
	})
	_, err := c.dec.Write(block)
	if err == nil {
		err = c.dec.Close()
	}
	c.dec.SetEmitFunc(nil)
	if err != nil {
		return connError(h2CompressionError, "HPACK: "+err.Error())
	}
	st, err := c.stream(id)
	if err != nil || st == nil {
		return err
	}
	if size > c.maxHeader {
		// As over HTTP/1.1 (readHead), a head too large is ErrProto.
		st.reset(h2Cancel, errors.Join(errHandshakeSize,
			&h2Error{h2Cancel, id, "response head over Config.MaxHeaderBytes"}))
		return nil
	}
	st.headers(fields, h.flags&h2FlagEndStream != 0)
	return nil
}

// writeFrames appends frames with fill to the write buffer and writes
// them, holding the write token; it gives up waiting for the token when
// expire is closed (errStreamTimeout).
func (c *h2Conn) writeFrames(expire chan struct{}, fill func([]byte) []byte) error {
	select {
	case c.wtok <- struct{}{}:
	case <-c.dead:
		return c.failure()
	case <-expire:
		return errStreamTimeout
	}
	defer func() { <-c.wtok }()
	c.wbuf = fill(c.wbuf[:0])
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.u.Write(c.wbuf)
	if cap(c.wbuf) > 2*h2WriteBatch {
		c.wbuf = nil
	}
	if err != nil {
		go c.fail(err)
	}
	return err
}

// failure returns why the connection failed.
func (c *h2Conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return net.ErrClosed
	}
	return c.err
}

// wakeLocked wakes every writer waiting for a window. Caller holds mu.
func (c *h2Conn) wakeLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// fail ends the connection: a GOAWAY for a protocol error, best effort,
// then u is closed and every stream fails.
func (c *h2Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if err == nil || errors.Is(err, net.ErrClosed) {
		err = io.ErrUnexpectedEOF
	}
	c.err, c.goaway = err, true
	streams := make([]*clientStream, 0, len(c.streams))
	for _, st := range c.streams {
		streams = append(streams, st)
	}
	last := c.nextID - 2
	c.wakeLocked()
	c.mu.Unlock()
	var he *h2Error
	if errors.As(err, &he) && he.stream == 0 {
		// A GOAWAY, within a second: a frame being written gets that
		// long to finish first.
		end := time.Now().Add(time.Second)
		c.u.SetWriteDeadline(end)
		tm := time.NewTimer(time.Until(end))
		select {
		case c.wtok <- struct{}{}:
			_, werr := c.u.Write(appendGoAway(nil, last, he.code))
			<-c.wtok
			// Closing with unread input would reset the connection and
			// could destroy the GOAWAY: shut our side, drain a little.
			if cw, ok := c.u.(interface{ CloseWrite() error }); ok && werr == nil {
				drainClosed(c.u, cw, end, 1<<20)
			}
		case <-tm.C:
		}
		tm.Stop()
	}
	for _, st := range streams {
		st.fail(err, false)
	}
	close(c.dead)
	c.u.Close()
	c.unlist()
}

// reserve books a stream on c for open, false if c takes no more.
func (c *h2Conn) reserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.goaway || !c.xconnect ||
		uint32(len(c.streams)+c.reserved) >= c.maxStreams ||
		c.nextID+2*uint32(c.reserved) > h2MaxStreamID {
		return false
	}
	c.reserved++
	return true
}

// unreserve returns a reservation that open did not use.
func (c *h2Conn) unreserve() {
	c.mu.Lock()
	c.reserved--
	c.mu.Unlock()
	c.closeIfIdle()
}

// closeIfIdle closes c once no stream is open or being opened and c has
// left the pool or cannot be reused: connections live as long as their
// WebSockets do.
func (c *h2Conn) closeIfIdle() {
	c.mu.Lock()
	idle := len(c.streams) == 0 && c.reserved == 0 && c.err == nil
	c.mu.Unlock()
	if idle && c.unlistIfIdle() {
		c.writeFrames(nil, func(b []byte) []byte { return appendGoAway(b, 0, h2NoError) })
		c.fail(net.ErrClosed)
	}
}

// open sends the extended CONNECT request for a reserved stream.
func (c *h2Conn) open(fields []hpack.HeaderField) (*clientStream, error) {
	select {
	case c.wtok <- struct{}{}:
	case <-c.dead:
		c.unreserve()
		return nil, c.failure()
	}
	defer func() { <-c.wtok }()
	c.mu.Lock()
	c.reserved--
	if c.err != nil || c.goaway {
		c.mu.Unlock()
		return nil, errors.Join(errH2GoingAway, c.err)
	}
	st := newClientStream(c, c.nextID, c.initWindow)
	c.nextID += 2
	c.streams[st.id] = st
	maxFrame := c.maxFrame
	c.mu.Unlock()
	c.ebuf.Reset()
	for _, f := range fields {
		c.enc.WriteField(f)
	}
	block := c.ebuf.Bytes()
	b := c.wbuf[:0]
	typ := uint8(h2Headers)
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), maxFrame)
		flags := uint8(0)
		if n == len(block) {
			flags = h2FlagEndHeaders
		}
		b = append(appendH2Header(b, typ, flags, st.id, n), block[:n]...)
		block, typ = block[n:], h2Continuation
	}
	c.wbuf = b
	if _, err := c.u.Write(b); err != nil {
		go c.fail(err)
		return nil, err
	}
	return st, nil
}

// forget removes a finished stream; c closes when it was the last one and
// c can take no more.
func (c *h2Conn) forget(id uint32) {
	c.mu.Lock()
	delete(c.streams, id)
	c.mu.Unlock()
	c.closeIfIdle()
}

// connectFields returns the header fields of an extended CONNECT for the
// WebSocket t describes (RFC 8441 §4, §5).
func connectFields(t *target, offered []string, ext string) []hpack.HeaderField {
	scheme := "http"
	if t.tls {
		scheme = "https"
	}
	f := []hpack.HeaderField{
		{Name: ":method", Value: "CONNECT"},
		{Name: ":protocol", Value: "websocket"},
		{Name: ":scheme", Value: scheme},
		{Name: ":path", Value: t.resource},
		{Name: ":authority", Value: t.host},
		{Name: "sec-websocket-version", Value: "13"},
	}
	if len(offered) > 0 {
		f = append(f, hpack.HeaderField{Name: "sec-websocket-protocol", Value: joinComma(offered)})
	}
	if ext != "" {
		f = append(f, hpack.HeaderField{Name: "sec-websocket-extensions", Value: ext})
	}
	for name, vs := range t.header {
		if !validToken(name) || handshakeField(name) || h2ConnectionField(name) {
			continue
		}
		for _, v := range vs {
			if validFieldValue(v) {
				f = append(f, hpack.HeaderField{Name: http.CanonicalHeaderKey(name), Value: v})
			}
		}
	}
	for i := 6; i < len(f); i++ {
		f[i].Name = lowerASCII(f[i].Name)
	}
	return f
}

// h2ConnectionField reports a field HTTP/2 forbids (RFC 9113 §8.2.2).
func h2ConnectionField(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Proxy-Connection", "Upgrade", "Connection", "Keep-Alive", "Transfer-Encoding", "Te":
		return true
	}
	return false
}

func joinComma(s []string) string {
	var b []byte
	for i, p := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, p...)
	}
	return string(b)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// errH2GoingAway is open's failure for a stream it did not send: the
// connection began going away after the stream was reserved.
var errH2GoingAway = detail("http2: connection going away")

// errH2Setup marks a failure to set up HTTP/2 after which Dial falls back
// to HTTP/1.1.
var errH2Setup = detail("server does not speak HTTP/2 with extended CONNECT")

// setupCtx bounds the connection's setup by ctx: the deadline on u, and
// a past deadline when ctx is canceled. The returned func undoes it and
// reports whether ctx ended.
func setupCtx(ctx context.Context, u net.Conn) func() bool {
	dl, _ := ctx.Deadline()
	u.SetDeadline(dl)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { u.SetDeadline(aLongTimeAgo) })
	}
	return func() bool {
		ok := stop()
		u.SetDeadline(time.Time{})
		return !ok
	}
}
