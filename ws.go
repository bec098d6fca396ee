package ws

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// Flags select the type of a connection or of a message, and options of
// attaching, as libdill's WS_* flags do.
type Flags uint8

const (
	// Binary (WS_BINARY, the zero value) types a connection or a message
	// as binary (opcode 0x2).
	Binary Flags = 0
	// Text (WS_TEXT) types a connection or a message as UTF-8 text
	// (opcode 0x1). Received text is validated.
	Text Flags = 1 << 0
	// NoHTTP (WS_NOHTTP) skips the HTTP upgrade when attaching: the
	// caller did the handshake itself (see RequestKey and ResponseKey).
	NoHTTP Flags = 1 << 1
)

// String returns "text" or "binary" (and "|nohttp").
func (f Flags) String() string {
	s := "binary"
	if f&Text != 0 {
		s = "text"
	}
	if f&NoHTTP != 0 {
		s += "|nohttp"
	}
	return s
}

// StatusCode is a close status code (RFC 6455 §7.4). 0 means "no status":
// a close frame without a payload.
type StatusCode uint16

// Status codes of RFC 6455 §7.4.1 and the IANA registry. 1005, 1006 and
// 1015 are reserved: they are never sent and never reported.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
)

// String returns the code's number and, for a registered code, its name.
func (s StatusCode) String() string {
	n := strconv.Itoa(int(s))
	switch s {
	case 0:
		return "0 (no status)"
	case StatusNormalClosure:
		return n + " (normal closure)"
	case StatusGoingAway:
		return n + " (going away)"
	case StatusProtocolError:
		return n + " (protocol error)"
	case StatusUnsupportedData:
		return n + " (unsupported data)"
	case StatusInvalidFramePayloadData:
		return n + " (invalid frame payload data)"
	case StatusPolicyViolation:
		return n + " (policy violation)"
	case StatusMessageTooBig:
		return n + " (message too big)"
	case StatusMandatoryExtension:
		return n + " (mandatory extension)"
	case StatusInternalError:
		return n + " (internal error)"
	case StatusServiceRestart:
		return n + " (service restart)"
	case StatusTryAgainLater:
		return n + " (try again later)"
	case StatusBadGateway:
		return n + " (bad gateway)"
	}
	return n
}

// CloseError is the peer's close: Recv (and the other receive calls)
// return it once the peer's close frame arrived, after every message sent
// before it. Code 0 means the close frame had no status. It matches ErrPipe:
// errors.Is(err, ws.ErrPipe) is true. Use errors.As(err, &ce) with a
// CloseError value to read it.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error describes the peer's close: its code, the code's name and the
// reason.
func (e CloseError) Error() string {
	if e.Reason == "" {
		return "ws: peer closed: " + e.Code.String()
	}
	return "ws: peer closed: " + e.Code.String() + ": " + strconv.Quote(e.Reason)
}

// Is makes a CloseError match ErrPipe.
func (e CloseError) Is(target error) bool { return target == ErrPipe }

// Buffer sizes of a connection. Payloads larger than the read buffer are
// read straight into the caller's buffers; server payloads larger than the
// write buffer go out with writev, client payloads are masked through it.
const (
	readBufSize  = 8 << 10
	writeBufSize = 16 << 10
)

// Storage is caller-owned memory for one connection: its state and its
// buffers, like libdill's struct ws_storage. Attach*Mem place the
// connection in it, so that attaching and exchanging messages allocate
// nothing. Embed it in a per-connection structure or pool it; it must not
// be reused or freed until the connection is closed or detached. The zero
// value is ready to use.
type Storage struct {
	c      Conn
	rbuf   [readBufSize]byte
	wbuf   [writeBufSize]byte
	gather gatherScratch
}

// Conn is a WebSocket connection attached to an underlying bytestream,
// libdill's WebSocket socket handle.
//
// One goroutine may receive while another sends; a second concurrent call
// on the same direction fails with ErrBusy (to send from many goroutines,
// with their messages coalesced into few writes, use a Hub). Close,
// Status, Resource, Host and Subprotocol are safe from any goroutine.
type Conn struct {
	u      net.Conn
	client bool
	typ    Flags   // Text or Binary: the type of MSend and MRecv
	pooled bool    // buffers come from pools, not from Storage
	first  [1]byte // a pooled receive waiting with no read buffer reads its first byte here (see awaitIdle)

	closed   atomic.Bool           // Close or Detach happened
	kaFailed atomic.Bool           // the keepalive declared the peer gone
	recvWant atomic.Bool           // a receive call waits for Ping to let go of in.busy (see takeFromPing)
	ka       *keepalive            // nil unless Config.PingInterval
	pw       atomic.Pointer[watch] // the Poller watching c, if any
	meta     connMeta

	in   recvHalf
	out  sendHalf
	ping atomic.Pointer[pingState] // the Ping in progress, nil if none
}

// recvHalf is the receive direction: everything in it is owned by the
// goroutine that holds busy, except peer (read by Status) and the
// deadline's cancellation state.
type recvHalf struct {
	busy   atomic.Bool
	utf8   uint32 // validator state of the open text message (beside busy: no padding)
	err    error  // sticky failure of the receive side
	dl     halfDeadline
	buf    []byte // a pooled connection's from readPool while held, when readBufSize long
	r, w   int    // unread bytes are buf[r:w]
	maxMsg int64  // Config.MaxMessageSize
	limit  int64  // largest message the current receive can take or discard
	msg    msgState
	frame  frameState
	peer   peerClose
	zr     *inflater   // permessage-deflate, nil unless agreed
	idle   *idleReader // awaitIdle's wait on the descriptor, made at its first use (nil: not yet)
}

// msgState is the open message, if any.
type msgState struct {
	op        byte   // opText or opBinary while a message is open
	z         bool   // the open message is compressed (RSV1)
	streaming bool   // the open message is read through a Reader
	gen       uint32 // identifies the Reader of the open message; wraps
	n         int64  // bytes of the open message delivered to the caller
}

// frameState is the data frame whose payload is being read.
type frameState struct {
	left   uint64 // payload bytes left
	key    uint32
	pos    uint8 // position in key of the next payload byte (0-3)
	fin    bool
	masked bool
}

// sendHalf is the send direction. The goroutine that holds busy owns buf
// and the compressor; lock serialises whole frames on the wire (data
// frames, pongs, pings, closes) and guards the fields marked (lock).
// Send's fast path (sendFast) reads busy, lock.state, lock.closed,
// pending.any, dl, err and closeSent, in that order, and nothing else.
type sendHalf struct {
	busy      atomic.Bool
	closeSent atomic.Bool // our close frame was sent (written under lock)
	buf       []byte      // a pooled connection's from writePool while held
	zw        *deflater   // permessage-deflate, nil unless agreed

	lock   frameLock
	err    error          // sticky failure of the send side (lock)
	dl     halfDeadline   // write deadline set on u (lock)
	gather *gatherScratch // the Storage's writev state; nil: from gatherPool (lock)

	// Control frames waiting for the frame lock: set by a receive or the
	// keepalive that found it held, written by the holder before it lets
	// go (flushPending).
	pending pendingControl
}

// gatherScratch is what a writev of several buffers needs (a frame too
// large for the write buffer, the Hub's coalesced frames). A connection
// without Storage takes it from gatherPool for the write and gives it
// back after, so that it keeps none between writes; one with Storage has
// its own there, so that its writes never allocate.
type gatherScratch struct {
	hbuf [maxHeader]byte // the header of a large frame
	vec  [][]byte        // backing of nb, kept between writes
	nb   net.Buffers     // consumed by WriteTo
}

var gatherPool = sync.Pool{New: func() any { return new(gatherScratch) }}

// gatherScratch returns the writev state for one write, given back by
// writev. Caller holds the frame lock.
func (c *Conn) gatherScratch() *gatherScratch {
	if g := c.out.gather; g != nil {
		return g
	}
	return gatherPool.Get().(*gatherScratch)
}

// writev writes g.vec with one writev and gives g back.
func (c *Conn) writev(g *gatherScratch) (int64, error) {
	g.nb = g.vec
	written, err := g.nb.WriteTo(c.u)
	clear(g.vec)
	g.vec, g.nb = g.vec[:0], nil
	if g != c.out.gather {
		gatherPool.Put(g)
	}
	return written, err
}

// connMeta is what the handshake learned.
type connMeta struct {
	resource, host, subprotocol string
	deflate                     *deflateParams // nil unless agreed
}

// peerClose records the peer's close frame for Status, readable from any
// goroutine once rec is set. The record is allocated when the close
// arrives.
type peerClose struct {
	ev  event // fired when rec is set
	rec atomic.Pointer[closeRecord]
}

// closeRecord is the peer's close frame.
type closeRecord struct {
	code   StatusCode
	reason string
}

// Resource returns the resource (request target) of the handshake: the
// one requested by the client on a server connection, the one sent on a
// client connection; "" with NoHTTP. Like the resource buffer of libdill's
// ws_attach_server. Safe from any goroutine.
func (c *Conn) Resource() string { return c.meta.resource }

// Host returns the Host of the handshake (libdill's ws_attach_server host
// buffer); "" with NoHTTP. Safe from any goroutine.
func (c *Conn) Host() string { return c.meta.host }

// Subprotocol returns the subprotocol agreed in the handshake, "" if none.
// Safe from any goroutine.
func (c *Conn) Subprotocol() string { return c.meta.subprotocol }

// Extensions returns the Sec-WebSocket-Extensions value agreed in the
// handshake (permessage-deflate and its parameters), "" if none. Safe from
// any goroutine.
func (c *Conn) Extensions() string {
	if c.meta.deflate == nil {
		return ""
	}
	return c.meta.deflate.response
}

// Underlying returns the underlying connection, for its addresses. Reading
// or writing it directly corrupts the WebSocket stream; use Detach to take
// it back.
func (c *Conn) Underlying() net.Conn { return c.u }
