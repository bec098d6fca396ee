package ws

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The server side for net/http: a handler checks the upgrade request,
// hijacks the connection and answers 101 on it.

// Upgrade turns the request r to a net/http handler into the server side
// of a WebSocket connection, as AttachServer (libdill's ws_attach_server)
// does on a raw connection: it checks r (RFC 6455 §4.2.1), takes the
// connection over from the HTTP server with http.ResponseController's
// Hijack (so it works behind middleware whose ResponseWriter implements
// Unwrap), answers 101 and attaches. flags gives the connection's type
// (Text or Binary) for MSend and MRecv. Resource, Host and Subprotocol
// report r.RequestURI, r.Host and the agreed subprotocol. Bytes the client
// sent right after its request are kept for Recv. It blocks only to write
// the 101 answer, within r.Context()'s deadline and Config.HandshakeTimeout
// (10 s by default), whichever comes first; the hijacked connection is
// left without deadlines. Reading the request is net/http's: bound it with
// http.Server's ReadHeaderTimeout. Handlers may call it concurrently.
//
// A request that cannot be upgraded is answered through w as http.Error
// does, with a plain-text reason and Connection: close, so that net/http
// closes the connection after the answer and serves no request pipelined
// after it: 405 with Allow: GET for a method other than GET, 426 with
// Sec-WebSocket-Version: 13 for another version, 403 when the Host policy
// (Config.Hosts; on a loopback address, by default, the loopback names)
// or the origin policy (Config.CheckOrigin, by default same-origin)
// refuses it, 505 for a request that is neither HTTP/1.x nor an HTTP/2
// extended CONNECT, 400 for a request
// that declares a body (Content-Length other than 0, Transfer-Encoding)
// and otherwise.
//
// Fields set on w.Header() before the call (cookies, say) go out with the
// 101 answer, except the handshake's own fields and framing fields;
// Config.Header's fields follow them. w must not have been written to.
// After Upgrade returns, w and r must not be used: the handler may return
// while the connection lives on, and r.Context() ends when it does, so
// give the connection's calls their own contexts.
//
// Over HTTP/2 (RFC 8441) the request is an extended CONNECT with
// :protocol websocket and Sec-WebSocket-Version: 13; the same Host,
// origin, subprotocol and permessage-deflate rules apply, refusals get
// the same 4xx answers (426, 403, 400), and the answer is 200, flushed.
// The WebSocket then runs on the stream (r.Body and w): Underlying and
// Detach give it as a net.Conn, a send deadline that passes resets the
// stream (net/http's write deadline), a receive deadline leaves it
// usable, and Close ends the WebSocket's use of the stream. The handler
// must not return while the WebSocket lives: net/http ends the stream
// when it returns, and a write after that is a net/http panic. net/http
// delivers such requests only in a process started with
// GODEBUG=http2xconnect=1 (read at start-up; a program cannot set it for
// itself); without it a server still serves HTTP/1.1 WebSockets, and an
// HTTP/2 request that is not an extended CONNECT gets 505 with a reason
// naming the switch.
//
// Errors:
//   - ErrProto if the request was refused (the cause gives the reason;
//     the client got the HTTP error);
//   - ErrInvalid for flags other than Text or Binary, invalid
//     Config.Compression, or a ResponseWriter that cannot be hijacked (the
//     cause matches http.ErrNotSupported); 500 is answered in each case;
//   - ErrTimedOut if the 101 answer could not be written in time,
//     ErrConnReset if writing it failed; the connection is closed in both
//     cases.
func Upgrade(w http.ResponseWriter, r *http.Request, flags Flags) (*Conn, error) {
	return (*Config)(nil).Upgrade(w, r, flags)
}

// Upgrade is the package's Upgrade with the options of cfg: its
// subprotocols (the first of cfg.Subprotocols that the client offered is
// agreed), header fields, limits and origin policy.
func (cfg *Config) Upgrade(w http.ResponseWriter, r *http.Request, flags Flags) (*Conn, error) {
	const op = "upgrade"
	if flags&^Text != 0 {
		http.Error(w, "websocket: internal error", http.StatusInternalServerError)
		return nil, newError(op, ErrInvalid, detail("unknown flags"))
	}
	if err := cfg.compression().check(); err != nil {
		http.Error(w, "websocket: internal error", http.StatusInternalServerError)
		return nil, newError(op, ErrInvalid, err)
	}
	if r.ProtoMajor == 2 {
		return cfg.upgradeH2(w, r, flags) // RFC 8441: h2server.go
	}
	req, ref := upgradeRequest(r)
	if ref == nil {
		ref = checkUpgrade(req)
	}
	if ref == nil {
		ref = checkHost(cfg, req)
	}
	if ref == nil {
		ref = checkOrigin(cfg, req.origin, req.host, func() *http.Request { return r })
	}
	if ref != nil {
		refuseHTTP(w, ref)
		return nil, newError(op, ErrProto, ref)
	}
	var proto, ext string
	var dp *deflateParams
	if cfg != nil {
		proto = pickSubprotocol(cfg.Subprotocols, req.protocols.list())
		if dp = acceptDeflate(cfg.Compression, req.extensions.list()); dp != nil {
			ext = dp.response
		}
	}
	extra := w.Header()
	u, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: connection cannot be taken over", http.StatusInternalServerError)
		return nil, newError(op, ErrInvalid, err)
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
	}
	b := appendSwitching(make([]byte, 0, 256), req.key, proto, ext, nil)
	b = appendFields(b, extra)
	if cfg != nil {
		b = appendFields(b, cfg.Header)
	}
	b = append(b, "\r\n"...)
	if err := writeSwitching(u, brw, b, cfg.switchingDeadline(r)); err != nil {
		u.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, newError(op, ErrTimedOut, err)
		}
		return nil, newError(op, ErrConnReset, err)
	}
	meta := connMeta{resource: r.RequestURI, host: r.Host, subprotocol: proto, deflate: dp}
	return cfg.attachUpgraded(op, u, flags, nil, false, buffered, meta)
}

// upgradeRequest gathers what checkUpgrade needs from a parsed request.
func upgradeRequest(r *http.Request) (*request, *refusal) {
	if r.ProtoMajor != 1 {
		return nil, &refusal{http.StatusHTTPVersionNotSupported, "WebSocket needs HTTP/1.1; " + r.Proto + " is not supported", ""}
	}
	h := r.Header
	req := &request{
		method:  []byte(r.Method),
		target:  []byte(r.RequestURI),
		proto:   []byte(r.Proto),
		host:    []byte(r.Host),
		hosts:   1,
		origin:  []byte(h.Get("Origin")),
		upgrade: anyToken(h["Upgrade"], "websocket"),
		// net/http keeps the Connection field of a request.
		connection: anyToken(h["Connection"], "upgrade"),
		body:       r.ContentLength != 0 || len(r.TransferEncoding) > 0,
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		req.loopback = loopbackAddr(a)
	}
	if vs := h["Sec-Websocket-Version"]; len(vs) > 0 {
		req.version = []byte(vs[len(vs)-1])
	}
	keys := h["Sec-Websocket-Key"]
	if req.keys = len(keys); req.keys == 1 {
		req.key = []byte(strings.Trim(keys[0], " \t"))
	}
	for _, v := range h["Sec-Websocket-Protocol"] {
		req.protocols.add([]byte(v))
	}
	for _, v := range h["Sec-Websocket-Extensions"] {
		req.extensions.add([]byte(v))
	}
	return req, nil
}

// anyToken reports whether one of the field values vs has token.
func anyToken(vs []string, token string) bool {
	for _, v := range vs {
		if hasToken([]byte(v), token) {
			return true
		}
	}
	return false
}

// refuseHTTP answers a refused upgrade through w, with Connection: close
// so that net/http closes the connection after the answer (lingering, as
// AttachServer does) and serves no request pipelined after this one.
func refuseHTTP(w http.ResponseWriter, ref *refusal) {
	for line := range strings.SplitSeq(ref.extra, "\r\n") {
		if name, value, ok := strings.Cut(line, ": "); ok {
			w.Header().Set(name, value)
		}
	}
	w.Header().Set("Connection", "close")
	http.Error(w, ref.why, ref.status)
}

// switchingDeadline returns the deadline of Upgrade's 101 answer: the
// earlier of r.Context()'s deadline and Config.HandshakeTimeout from now;
// zero for none.
func (cfg *Config) switchingDeadline(r *http.Request) time.Time {
	if bound := cfg.handshakeBound(r.Context(), time.Now()); !bound.IsZero() {
		return bound
	}
	dl, _ := r.Context().Deadline()
	return dl
}

// writeSwitching writes the 101 answer b on the hijacked u, after anything
// the server had buffered for it, by dl unless it is zero, and leaves u
// without deadlines.
func writeSwitching(u net.Conn, brw *bufio.ReadWriter, b []byte, dl time.Time) (err error) {
	if err := u.SetDeadline(time.Time{}); err != nil {
		return err
	}
	if !dl.IsZero() { // through the handshake guard, not a socket deadline (guard.go)
		slot := guard.watch(u, dl)
		defer func() {
			if guard.release(slot) && err == nil {
				err = os.ErrDeadlineExceeded
			}
		}()
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			return err
		}
	}
	_, err = u.Write(b)
	return err
}
