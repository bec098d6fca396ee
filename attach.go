package ws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// AttachClient creates the client side of a WebSocket connection on top of
// the bytestream u, like libdill's ws_attach_client: unless flags has
// NoHTTP, it sends an upgrade request for resource with Host host and
// checks the server's 101 answer (RFC 6455 §4.1). flags also gives the
// connection's type (Text or Binary) for MSend and MRecv. It takes
// ownership of u: on error u has been closed. It blocks until the
// handshake completes, ctx ends or Config.HandshakeTimeout (10 s by
// default) passes; bytes the server sent right after its answer are kept
// for Recv.
//
// Errors:
//   - ErrProto if the server refused or answered wrongly (the cause gives
//     its status line and the first line of a body that came with it; for
//     a redirect, the Location), or TLS under u failed (an alert, a
//     refused certificate: see Dial);
//   - ErrInvalid for a resource or host that cannot be sent, or invalid
//     Config.Compression;
//   - ErrTimedOut (ctx's deadline or HandshakeTimeout), ErrCanceled,
//     ErrConnReset for I/O failures.
//
// The connection takes its buffers from pools while a call needs them, so
// that an idle connection holds none.
func AttachClient(ctx context.Context, u net.Conn, flags Flags, resource, host string) (*Conn, error) {
	return (*Config)(nil).AttachClient(ctx, u, flags, resource, host)
}

// AttachClientMem is AttachClient with caller-supplied storage, like
// libdill's ws_attach_client_mem: attaching allocates nothing else and
// messages are exchanged without allocating. Errors: ErrInvalid if st is
// nil (u is closed); otherwise as AttachClient.
func AttachClientMem(ctx context.Context, u net.Conn, flags Flags, resource, host string, st *Storage) (*Conn, error) {
	return (*Config)(nil).AttachClientMem(ctx, u, flags, resource, host, st)
}

// AttachServer creates the server side of a WebSocket connection on top of
// the bytestream u, like libdill's ws_attach_server: unless flags has
// NoHTTP, it reads the client's upgrade request (RFC 6455 §4.2), answers
// 101, and makes the requested resource and Host available through
// Resource and Host. A request that cannot be upgraded is answered with an
// HTTP error and Connection: close (400, also for a request that declares
// a body; 403 for a Host the server does not serve, see Config.Hosts, or
// a cross-origin request; 405 for a method other than GET; 426 with
// Sec-WebSocket-Version: 13 for another version; 431 for a head over
// Config.MaxHeaderBytes); then u is half-closed and what the client still
// sends is discarded for up to half a second before u is closed, so that
// the answer is not lost to a reset. Frames the client sent right after
// its request are kept. It takes ownership of u: on error u has been
// closed. It blocks until the handshake completes, ctx ends or
// Config.HandshakeTimeout (10 s by default) passes.
//
// Errors:
//   - ErrProto if the request was refused (the client got the HTTP
//     error);
//   - ErrInvalid for unknown flags or invalid Config.Compression;
//   - ErrTimedOut (ctx's deadline or HandshakeTimeout), ErrCanceled,
//     ErrConnReset for I/O failures.
//
// The connection takes its buffers from pools while a call needs them, so
// that an idle connection holds none; while it waits for the request it
// holds only a read buffer.
func AttachServer(ctx context.Context, u net.Conn, flags Flags) (*Conn, error) {
	return (*Config)(nil).attachServer(ctx, u, flags, nil)
}

// AttachServerMem is AttachServer with caller-supplied storage, like
// libdill's ws_attach_server_mem. Errors: ErrInvalid if st is nil (u is
// closed); otherwise as AttachServer.
func AttachServerMem(ctx context.Context, u net.Conn, flags Flags, st *Storage) (*Conn, error) {
	return (*Config)(nil).AttachServerMem(ctx, u, flags, st)
}

// AttachClient is the package's AttachClient with the options of cfg.
func (cfg *Config) AttachClient(ctx context.Context, u net.Conn, flags Flags, resource, host string) (*Conn, error) {
	h := clientHello{resource: resource, host: host, header: cfg.header()}
	return cfg.attachClient(ctx, "attachclient", u, flags, nil, &h)
}

// AttachServer is the package's AttachServer with the options of cfg.
func (cfg *Config) AttachServer(ctx context.Context, u net.Conn, flags Flags) (*Conn, error) {
	return cfg.attachServer(ctx, u, flags, nil)
}

// AttachClientMem is the package's AttachClientMem with the options of cfg.
func (cfg *Config) AttachClientMem(ctx context.Context, u net.Conn, flags Flags, resource, host string, st *Storage) (*Conn, error) {
	if st == nil {
		return nil, nilStorage("attachclient", u)
	}
	h := clientHello{resource: resource, host: host, header: cfg.header()}
	return cfg.attachClient(ctx, "attachclient", u, flags, st, &h)
}

// AttachServerMem is the package's AttachServerMem with the options of cfg.
func (cfg *Config) AttachServerMem(ctx context.Context, u net.Conn, flags Flags, st *Storage) (*Conn, error) {
	if st == nil {
		return nil, nilStorage("attachserver", u)
	}
	return cfg.attachServer(ctx, u, flags, st)
}

func nilStorage(op string, u net.Conn) error {
	if u != nil {
		u.Close()
	}
	return newError(op, ErrInvalid, detail("nil storage"))
}

// attachClient attaches a client in st, or with pooled buffers if st is
// nil, and unless flags has NoHTTP runs the handshake h describes: the one
// client handshake, of AttachClient and of Dial.
func (cfg *Config) attachClient(ctx context.Context, op string, u net.Conn, flags Flags, st *Storage, h *clientHello) (*Conn, error) {
	c, err := cfg.attach(ctx, op, u, flags, st, true)
	if err != nil {
		return nil, err
	}
	if flags&NoHTTP == 0 {
		c.takeReadBuf()
		c.takeWriteBuf()
		bound := cfg.handshakeBound(ctx, time.Now())
		err := c.guarded(bound, func() error { return c.handshakeClient(ctx, cfg, h, bound) })
		c.leaveSend()
		c.leaveRecv()
		if err != nil {
			u.Close()
			return nil, withOp(op, err)
		}
	} else {
		c.agreeNoHTTP(cfg)
	}
	c.startKeepalive(cfg)
	return c, nil
}

// attachServer attaches a server in st, or with pooled buffers if st is nil.
func (cfg *Config) attachServer(ctx context.Context, u net.Conn, flags Flags, st *Storage) (*Conn, error) {
	c, err := cfg.attach(ctx, "attachserver", u, flags, st, false)
	if err != nil {
		return nil, err
	}
	if flags&NoHTTP == 0 {
		if err := c.serve(ctx, cfg); err != nil {
			u.Close()
			return nil, withOp("attachserver", err)
		}
	} else {
		c.agreeNoHTTP(cfg)
	}
	c.startKeepalive(cfg)
	return c, nil
}

// attach checks the arguments and sets up the connection in st, or in a
// new Conn with pooled buffers if st is nil.
func (cfg *Config) attach(ctx context.Context, op string, u net.Conn, flags Flags, st *Storage, client bool) (*Conn, error) {
	switch {
	case u == nil:
		return nil, newError(op, ErrInvalid, detail("nil connection"))
	case flags&^(Text|NoHTTP) != 0:
		u.Close()
		return nil, newError(op, ErrInvalid, detail("unknown flags"))
	}
	if err := cfg.compression().check(); err != nil {
		u.Close()
		return nil, newError(op, ErrInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		u.Close()
		return nil, newError(op, ctxKind(ctx, err), nil)
	}
	// Fields are set one by one: a Conn literal would be built on the
	// stack and copied, growing the caller's stack for good.
	var c *Conn
	if st == nil {
		c = new(Conn)
		c.pooled = true
	} else {
		st.c = Conn{}
		c = &st.c
		c.in.buf, c.out.buf = st.rbuf[:], st.wbuf[:]
		c.out.gather = &st.gather
	}
	c.u, c.client, c.typ, c.in.maxMsg = u, client, flags&Text, cfg.maxMessage()
	return c, nil
}

// attachUpgraded sets up a connection in st on u after a handshake done
// elsewhere (net/http's Upgrade, Dial): buffered holds bytes already read
// from u past the handshake head, which Recv will read first; meta is what
// the handshake agreed. It takes ownership of u (closed on error).
func (cfg *Config) attachUpgraded(op string, u net.Conn, flags Flags, st *Storage, client bool, buffered []byte, meta connMeta) (*Conn, error) {
	c, err := cfg.attach(context.Background(), op, u, flags|NoHTTP, st, client)
	if err != nil {
		return nil, err
	}
	if len(buffered) > 0 {
		c.takeReadBuf()
		if len(buffered) > len(c.in.buf) {
			c.in.buf = make([]byte, len(buffered))
		}
		c.in.w = copy(c.in.buf, buffered)
	}
	c.meta = meta
	c.useDeflate(meta.deflate, cfg.compression())
	c.startKeepalive(cfg)
	return c, nil
}

// agreeNoHTTP takes cfg's compression options as the agreed parameters:
// with NoHTTP there is no handshake to negotiate them.
func (c *Conn) agreeNoHTTP(cfg *Config) {
	if z := cfg.compression(); z != nil {
		c.meta.deflate = z.agreed()
		c.useDeflate(c.meta.deflate, z)
	}
}

// useDeflate turns permessage-deflate on with the agreed parameters p.
func (c *Conn) useDeflate(p *deflateParams, o *CompressionOptions) {
	if p != nil {
		c.out.zw, c.in.zr = newCodec(p, o, c.client)
	}
}

// clientHello is the client's side of an upgrade beyond what Config
// gives: AttachClient fills it from its arguments, Dial from its URL.
type clientHello struct {
	resource, host string
	header         http.Header // extra fields: Config.Header (Dial adds Authorization)
	// answer, if not nil, is called with the server's response head and
	// the bytes read past it before the response is checked (Dial builds
	// its *http.Response there); an error it returns ends the handshake.
	answer func(head, rest []byte) error
	// body is the body of a refusal, if the answer hook read it; else the
	// bytes that came with the head stand for it.
	body []byte
}

// header returns the extra fields of cfg's handshakes.
func (cfg *Config) header() http.Header {
	if cfg == nil {
		return nil
	}
	return cfg.Header
}

// handshakeClient sends the upgrade request h describes and checks the
// answer, by bound (Config.HandshakeTimeout) unless it is zero. A failure
// of TLS under the handshake (an alert, a certificate refused) is
// ErrProto.
func (c *Conn) handshakeClient(ctx context.Context, cfg *Config, h *clientHello, bound time.Time) error {
	resource, host := h.resource, h.host
	if resource == "" || !validFieldValue(resource) || strings.ContainsAny(resource, " \t") ||
		host == "" || !validFieldValue(host) {
		return newError("", ErrInvalid, detail("resource or host cannot be sent"))
	}
	var offered []string
	if cfg != nil {
		offered = cfg.Subprotocols
		for _, p := range offered {
			if !validToken(p) {
				return newError("", ErrInvalid, detail("subprotocol is not a token"))
			}
		}
	}
	var key [24]byte
	if err := newKey(&key); err != nil {
		return newError("", ErrConnReset, err)
	}
	z := cfg.compression()
	ext := ""
	if z != nil {
		ext = z.offer()
	}
	b := appendRequest(c.out.buf[:0], resource, host, key[:], offered, ext, h.header)
	b = append(b, "\r\n"...)
	if err := c.writeHead(ctx, b, bound); err != nil {
		return tlsFailure(err)
	}
	n, err := c.readHead(ctx, cfg.maxHeader(), bound, nil)
	if err != nil {
		return tlsFailure(err)
	}
	if h.answer != nil {
		if err := h.answer(c.in.buf[:n], c.in.buf[n:c.in.w]); err != nil {
			return err
		}
	}
	var resp response
	if !parseResponse(c.in.buf[:n], &resp) {
		return newError("", ErrProto, detail("malformed handshake response"))
	}
	proto, cerr := checkResponse(&resp, key[:], offered)
	if cerr != nil {
		if resp.code != http.StatusSwitchingProtocols && resp.code/100 != 3 {
			body := c.in.buf[n:c.in.w]
			if h.body != nil {
				body = h.body
			}
			cerr = detail(cerr.Error() + firstLine(body))
		}
		return newError("", ErrProto, cerr)
	}
	dp, derr := acceptedDeflate(z, resp.extValues)
	if derr != nil {
		return newError("", ErrProto, derr)
	}
	c.in.r = n
	c.meta = connMeta{resource: resource, host: host, subprotocol: proto, deflate: dp}
	c.useDeflate(dp, z)
	return nil
}

// serve runs the server handshake, bounded by Config.HandshakeTimeout. It
// holds only the read buffer while the request is read: a pooled
// connection takes its write buffer once a whole request is in, and gives
// both back when done.
func (c *Conn) serve(ctx context.Context, cfg *Config) error {
	bound := cfg.handshakeBound(ctx, time.Now())
	c.takeReadBuf()
	err := c.guarded(bound, func() error { return c.handshakeServer(ctx, cfg, bound) })
	c.leaveSend()
	c.leaveRecv()
	return err
}

// guarded runs the handshake hs, bounded by bound (unless it is zero)
// through the handshake guard rather than socket deadlines (guard.go).
// A handshake the guard cut is ErrTimedOut.
func (c *Conn) guarded(bound time.Time, hs func() error) error {
	if bound.IsZero() {
		return hs()
	}
	slot := guard.watch(c.u, bound)
	err := hs()
	if guard.release(slot) {
		if e, ok := err.(*opError); !ok || e.kind != ErrTimedOut {
			err = newError("", ErrTimedOut, errHandshakeTimeout)
		}
	}
	return err
}

// handshakeServer reads the upgrade request and answers it, by bound
// unless it is zero.
func (c *Conn) handshakeServer(ctx context.Context, cfg *Config, bound time.Time) error {
	var req request
	parsed := false
	n, err := c.readHead(ctx, cfg.maxHeader(), bound, func(b []byte) int {
		k := scanRequest(b, &req)
		parsed = k > 0
		return k
	})
	if err != nil {
		if e, ok := err.(*opError); ok && e.cause == errHandshakeSize {
			c.refuse(ctx, &refusal{status: 431, why: "request head too large"}, bound)
		}
		return err
	}
	if !parsed {
		req = request{}
		if !parseRequest(c.in.buf[:n], &req) {
			return c.refuse(ctx, &refusal{status: 400, why: "malformed request"}, bound)
		}
	}
	req.loopback = loopbackAddr(c.u.LocalAddr())
	if ref := checkRequest(&req, cfg); ref != nil {
		return c.refuse(ctx, ref, bound)
	}
	var proto, ext string
	if cfg != nil {
		proto = pickSubprotocol(cfg.Subprotocols, req.protocols.list())
	}
	dp := acceptDeflate(cfg.compression(), req.extensions.list())
	if dp != nil {
		ext = dp.response
	}
	c.takeWriteBuf()
	b := appendSwitching(c.out.buf[:0], req.key, proto, ext, cfg)
	b = append(b, "\r\n"...)
	s := keptMeta(req.target, req.host)
	c.meta = connMeta{resource: s[:len(req.target)], host: s[len(req.target):], subprotocol: proto, deflate: dp}
	if err := c.writeHead(ctx, b, bound); err != nil {
		return err
	}
	c.in.r = n
	c.useDeflate(dp, cfg.compression())
	return nil
}

// refuse answers a failed upgrade with an HTTP error, best effort, and
// lingers so that the answer reaches the client before u is closed.
func (c *Conn) refuse(ctx context.Context, ref *refusal, bound time.Time) error {
	c.takeWriteBuf()
	b := appendRefusal(c.out.buf[:0], ref)
	if c.writeHead(ctx, b, bound) == nil {
		c.lingerRefusal(ctx, bound)
	}
	return newError("", ErrProto, ref)
}

// Bounds of the lingering close after a refusal.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// lingerRefusal half-closes u after a refusal and discards what the
// client still sends, until it closes, for at most lingerTime (and ctx's
// deadline and bound) and lingerBytes (see drainClosed).
func (c *Conn) lingerRefusal(ctx context.Context, bound time.Time) {
	cw, ok := c.u.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	dl := time.Now().Add(lingerTime)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	if !bound.IsZero() && bound.Before(dl) {
		dl = bound
	}
	drainClosed(c.u, cw, dl, lingerBytes)
}

// appendHeader appends cfg.Header's sendable fields (appendFields).
func appendHeader(b []byte, cfg *Config) []byte {
	if cfg == nil {
		return b
	}
	return appendFields(b, cfg.Header)
}

// writeHead writes a handshake head with ctx's deadline. A non-zero bound
// (the earlier then) is enforced by the handshake guard around the whole
// handshake (guarded); here it only names the timeout.
func (c *Conn) writeHead(ctx context.Context, b []byte, bound time.Time) error {
	stop, err := c.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer c.unlockWrite(stop)
	if _, err := c.u.Write(b); err != nil {
		return c.headError(ctx, err, bound)
	}
	return nil
}

// errHandshakeTimeout is the cause of a handshake cut by HandshakeTimeout.
var errHandshakeTimeout = detail("handshake not done within Config.HandshakeTimeout")

// headError classifies an I/O error of the handshake: a deadline that
// passed is ErrTimedOut whether it came from ctx or from bound.
func (c *Conn) headError(ctx context.Context, err error, bound time.Time) error {
	kind, cause := c.ioKind(ctx, err)
	if kind == ErrConnReset && !bound.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) {
		kind, cause = ErrTimedOut, errHandshakeTimeout
	}
	return newError("", kind, cause)
}

// readHead reads until the read buffer holds a whole HTTP head and returns
// its length; the bytes after it stay buffered. The buffer grows, up to
// limit, for a head larger than it. A non-zero bound (the earlier than
// ctx's deadline then) is enforced by the handshake guard (guarded); here
// it only names the timeout. scan, if not nil, is a one-pass
// parser tried on the bytes of the first read (the whole head, as a rule):
// a length it returns is the head's, and nothing else reads those bytes;
// if it returns 0 or -1 the head is found by searching for its blank line
// (each byte looked at once however slowly the head arrives), and the
// caller parses it.
func (c *Conn) readHead(ctx context.Context, limit int, bound time.Time, scan func([]byte) int) (int, error) {
	stop := c.armRead(ctx)
	defer c.disarmRead(stop)
	scanned := 0
	for {
		if scan != nil && c.in.w > 0 {
			if n := scan(c.in.buf[:c.in.w]); n > 0 {
				return n, nil
			}
			scan = nil
		}
		if n := headEnd(c.in.buf[max(0, scanned-3):c.in.w]); n >= 0 {
			return max(0, scanned-3) + n, nil
		}
		scanned = c.in.w
		if c.in.w >= min(len(c.in.buf), limit) {
			if c.in.w >= limit {
				return 0, newError("", ErrProto, errHandshakeSize)
			}
			bigger := make([]byte, min(limit, 4*len(c.in.buf)))
			copy(bigger, c.in.buf[:c.in.w])
			c.in.buf = bigger
		}
		n, err := c.u.Read(c.in.buf[c.in.w:min(len(c.in.buf), limit)])
		c.in.w += n
		if n == 0 && err != nil {
			return 0, c.headError(ctx, err, bound)
		}
	}
}

// keptMeta returns the string that holds a server connection's resource
// and host, in that order. Connections to one server mostly ask for the
// same resource on the same host: the last such string is shared, so that
// they hold one copy and a handshake allocates none for it. A different
// one replaces the shared string (once there is one) only every 16th
// time, so that a stream of unique resources (a token in the query) pays
// for the replacement rarely. Safe from any goroutine.
func keptMeta(target, host []byte) string {
	p := lastMeta.Load()
	if p != nil && len(*p) == len(target)+len(host) &&
		(*p)[:len(target)] == string(target) && (*p)[len(target):] == string(host) {
		return *p
	}
	var kept strings.Builder
	kept.Grow(len(target) + len(host))
	kept.Write(target)
	kept.Write(host)
	s := kept.String()
	if metaMisses.Add(1)&15 == 1 || p == nil {
		lastMeta.Store(&s)
	}
	return s
}

var (
	lastMeta   atomic.Pointer[string]
	metaMisses atomic.Uint32
)
