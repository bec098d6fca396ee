package ws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The client side from a URL: connect (through a proxy, over TLS), then
// attach with AttachClient's handshake, which hands Dial the answer's head
// to build the *http.Response from.

// maxErrorBody bounds the body of a refusal that Dial reads for the caller.
const maxErrorBody = 64 << 10

// Dial opens a WebSocket connection to a ws:// or wss:// URL (http:// and
// https:// are accepted as aliases): it connects to the host (default port
// 80 or 443, IPv6 literals in brackets), through the HTTP proxy that
// Config.Proxy names (by default the environment's, see
// http.ProxyFromEnvironment), over TLS for wss://, sends the upgrade
// request for the URL's path and query and checks the 101 answer: the
// handshake of AttachClient. The URL's user information is sent as Basic
// Authorization unless Config.Header has one; the fragment is not sent.
// flags gives the connection's type (Text or Binary) for MSend and MRecv.
// It blocks until the handshake completes or ctx ends. Bytes the server
// sent right after its answer are kept for Recv. Redirects are not
// followed.
//
// The response is the server's answer to the upgrade, with an empty body
// on success; it is returned as well when the server refused or answered
// wrongly (status and header fields are readable; the body holds the
// first 64 KiB of the body the server sent, read within ctx). When a
// proxy refuses the tunnel, its answer to CONNECT is returned instead.
// Dial may be called from many goroutines at once, with the same Config.
//
// Errors:
//   - ErrInvalid for a URL Dial cannot use (a port outside 1–65535 too),
//     unknown flags or NoHTTP, or invalid Config.Compression: nothing is
//     connected then;
//   - the net package's error, with no sentinel, when connecting fails
//     (refused, no such host, unreachable): errors.Is(err,
//     syscall.ECONNREFUSED) and errors.As(err, &netErr) work;
//   - ErrProto if the server or the proxy refused or answered wrongly (the
//     cause gives the status line, and for the server the first line of
//     its body; for a
//     redirect, the Location), or TLS failed: an alert from the server,
//     such as a refused client certificate (the cause then also matches
//     tls.AlertError), a certificate that failed verification
//     (*tls.CertificateVerificationError), or a peer that does not speak
//     TLS (tls.RecordHeaderError);
//   - ErrTimedOut or ErrCanceled when ctx ended;
//   - ErrConnReset if I/O failed after connecting.
//
// On error no connection is left open.
func Dial(ctx context.Context, url string, flags Flags) (*Conn, *http.Response, error) {
	return (*Config)(nil).Dial(ctx, url, flags)
}

// Dial is the package's Dial with the options of cfg: its subprotocols
// (all offered; the server must pick one of them or none), header fields,
// limits, TLS configuration, proxy and dialer.
func (cfg *Config) Dial(ctx context.Context, url string, flags Flags) (*Conn, *http.Response, error) {
	const op = "dial"
	if flags&^Text != 0 {
		return nil, nil, newError(op, ErrInvalid, detail("unknown flags, or NoHTTP"))
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, newError(op, ctxKind(ctx, err), nil)
	}
	if err := cfg.compression().check(); err != nil {
		return nil, nil, newError(op, ErrInvalid, err)
	}
	t, err := cfg.newTarget(url)
	if err != nil {
		return nil, nil, newError(op, ErrInvalid, err)
	}
	proxy, err := cfg.proxyURL(ctx, t)
	if err != nil {
		return nil, nil, withOp(op, err)
	}
	var raw net.Conn
	if cfg != nil && cfg.HTTP2 { // RFC 8441: h2dial.go
		c, resp, u, err, fallback := cfg.dialH2(ctx, op, t, proxy, flags)
		if !fallback {
			if err != nil {
				return nil, resp, withOp(op, err)
			}
			return c, resp, nil
		}
		// HTTP/1.1, on the TLS connection where ALPN chose it if any.
		t.h2, t.secured, raw = false, u != nil, u
	}
	if raw == nil {
		if raw, err = cfg.connect(ctx, t, proxy); err != nil {
			return nil, nil, withOp(op, err)
		}
	}
	// From here on ctx reaches the connection through its deadlines, as
	// for the calls of a Conn; it is never closed by a callback. This
	// deadline bounds the tunnel and TLS; the upgrade then applies ctx
	// itself, as AttachClient does.
	dl, _ := ctx.Deadline()
	raw.SetDeadline(dl)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { raw.SetDeadline(aLongTimeAgo) })
	}
	c, resp, err := cfg.dialOn(ctx, op, raw, t, proxy, flags)
	if !stop() && err == nil { // ctx ended: the deadline may have moved
		c.Close()
		c, err = nil, newError(op, ctxKind(ctx, ctx.Err()), nil)
	}
	if err != nil {
		return nil, resp, withOp(op, err)
	}
	return c, resp, nil
}

// dialOn runs on raw, the connection connect opened, the proxy's CONNECT
// and TLS (secure), then AttachClient's handshake. It takes ownership of
// raw: on error raw has been closed. The response is the server's answer,
// or the proxy's refusal.
func (cfg *Config) dialOn(ctx context.Context, op string, raw net.Conn, t *target, p *url.URL, flags Flags) (*Conn, *http.Response, error) {
	u, resp, err := raw, (*http.Response)(nil), error(nil)
	if !t.secured {
		u, resp, err = cfg.secure(ctx, raw, t, p)
	}
	if err != nil {
		raw.Close()
		return nil, resp, err
	}
	u.SetDeadline(time.Time{}) // the handshake sets its own from ctx
	h := clientHello{resource: t.resource, host: t.host, header: t.header}
	h.answer = func(head, rest []byte) (err error) {
		resp, err = t.response(ctx, head, rest, u)
		if err == nil && resp.Body != http.NoBody {
			h.body, _ = io.ReadAll(resp.Body) // at most maxErrorBody
			resp.Body = io.NopCloser(bytes.NewReader(h.body))
		}
		return err
	}
	c, err := cfg.attachClient(ctx, op, u, flags, nil, &h)
	return c, resp, err
}

// target is what Dial learned from its URL.
type target struct {
	url      *url.URL // with an http or https scheme
	tls      bool
	addr     string // host:port to connect to
	hostname string // for TLS's ServerName
	host     string // Host field: without the default port
	resource string
	header   http.Header // the request's fields beyond the handshake's
	h2       bool        // TLS offers h2 by ALPN (Config.HTTP2)
	secured  bool        // the connection Dial has is already past secure
}

// newTarget parses and checks a URL for Dial.
func (cfg *Config) newTarget(rawURL string) (*target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	t := &target{url: u}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme, t.tls = "https", true
	default:
		return nil, detail("URL scheme must be ws, wss, http or https")
	}
	t.hostname = u.Hostname()
	if u.Opaque != "" || t.hostname == "" {
		return nil, detail("URL has no host")
	}
	if !validHost(u.Host, t.hostname) {
		return nil, detail("URL host cannot be sent (use the ASCII form of a name)")
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, detail("URL port " + strconv.Quote(port) + " is not a port (1–65535)")
	}
	t.addr = net.JoinHostPort(t.hostname, port)
	t.host = strings.TrimSuffix(u.Host, ":")
	if zone, end := strings.IndexByte(t.host, '%'), strings.IndexByte(t.host, ']'); 0 <= zone && zone < end {
		t.host = t.host[:zone] + t.host[end:] // an IPv6 zone is local
	}
	if port == defaultPort(u.Scheme) {
		t.host = strings.TrimSuffix(t.host, ":"+port)
	}
	u.Fragment, u.RawFragment = "", ""
	t.resource = u.RequestURI()
	if !validFieldValue(t.resource) || strings.ContainsAny(t.resource, " \t") {
		return nil, detail("URL path cannot be sent")
	}
	t.header = make(http.Header)
	if cfg != nil {
		for _, p := range cfg.Subprotocols {
			if !validToken(p) {
				return nil, detail("subprotocol is not a token")
			}
		}
		for name, vs := range cfg.Header {
			name = http.CanonicalHeaderKey(name)
			t.header[name] = append(t.header[name], vs...)
		}
	}
	if u.User != nil && t.header.Get("Authorization") == "" {
		t.header.Set("Authorization", basicAuth(u.User))
	}
	return t, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// validHost reports whether a URL's host (hostname, with its port) can
// be sent and dialed: an IP literal in brackets, or an ASCII name.
func validHost(host, hostname string) bool {
	if strings.HasPrefix(host, "[") {
		ip, _, _ := strings.Cut(hostname, "%")
		return net.ParseIP(ip) != nil && strings.Contains(ip, ":") && validFieldValue(host)
	}
	for i := 0; i < len(hostname); i++ {
		if c := hostname[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("[]%:/?#@\\", c) >= 0 {
			return false
		}
	}
	return true
}

func basicAuth(u *url.Userinfo) string {
	pw, _ := u.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw))
}

// request returns the *http.Request that stands for the upgrade: given to
// Proxy and set as the response's Request.
func (t *target) request(ctx context.Context) *http.Request {
	return (&http.Request{
		Method:     http.MethodGet,
		URL:        t.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     t.header,
		Host:       t.host,
	}).WithContext(ctx)
}

// netDial opens a TCP connection to addr.
func (cfg *Config) netDial(ctx context.Context, addr string) (net.Conn, error) {
	var u net.Conn
	var err error
	if cfg != nil && cfg.NetDial != nil {
		u, err = cfg.NetDial(ctx, "tcp", addr)
		if err == nil && u == nil {
			err = detail("Config.NetDial returned no connection")
		}
	} else {
		var d net.Dialer
		u, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		if k := ctxKind(ctx, err); k != nil {
			return nil, newError("", k, err)
		}
		// Refused, unreachable, no such host: no errno of libdill's
		// says it, so none is claimed; the net error says it all.
		return nil, newError("", nil, err)
	}
	return u, nil
}

// proxyURL returns the proxy for t, nil for none.
func (cfg *Config) proxyURL(ctx context.Context, t *target) (*url.URL, error) {
	proxy := http.ProxyFromEnvironment
	if cfg != nil && cfg.Proxy != nil {
		proxy = cfg.Proxy
	}
	p, err := proxy(t.request(ctx))
	if err != nil {
		return nil, newError("", ErrInvalid, err)
	}
	if p != nil && p.Scheme != "http" && p.Scheme != "https" {
		return nil, newError("", ErrInvalid, detail("proxy scheme "+strconv.Quote(p.Scheme)+" is not supported; use http or https"))
	}
	return p, nil
}

// connect opens the TCP connection to the server, or to the proxy p.
func (cfg *Config) connect(ctx context.Context, t *target, p *url.URL) (net.Conn, error) {
	if p == nil {
		return cfg.netDial(ctx, t.addr)
	}
	port := p.Port()
	if port == "" {
		port = defaultPort(p.Scheme)
	}
	return cfg.netDial(ctx, net.JoinHostPort(p.Hostname(), port))
}

// secure runs on u, the connection connect opened, the proxy's CONNECT
// if there is a proxy p (over TLS for an https proxy), then TLS for
// wss://. It returns the connection to run the upgrade on: u, or a TLS
// connection over it; and the proxy's answer if it refused.
func (cfg *Config) secure(ctx context.Context, u net.Conn, t *target, p *url.URL) (net.Conn, *http.Response, error) {
	var err error
	if p != nil {
		if p.Scheme == "https" {
			if u, err = cfg.startTLS(ctx, u, p.Hostname(), true, []string{"http/1.1"}); err != nil {
				return nil, nil, err
			}
		}
		if resp, err := cfg.tunnel(ctx, u, t, p); err != nil {
			return nil, resp, err
		}
	}
	if t.tls {
		if u, err = cfg.startTLS(ctx, u, t.hostname, false, t.alpn()); err != nil {
			return nil, nil, err
		}
	}
	return u, nil, nil
}

// startTLS runs the TLS handshake as a client on u with serverName,
// unless the configuration names the server (and this is not the proxy),
// offering protos by ALPN, and returns the TLS connection.
func (cfg *Config) startTLS(ctx context.Context, u net.Conn, serverName string, proxy bool, protos []string) (net.Conn, error) {
	var tc *tls.Config
	if cfg != nil && cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = new(tls.Config)
	}
	if tc.ServerName == "" || proxy {
		tc.ServerName = serverName
	}
	tc.NextProtos = protos
	c := tls.Client(u, tc)
	// Handshake, not HandshakeContext: ctx already reaches the
	// connection through its deadlines.
	if err := c.Handshake(); err != nil {
		if k := ctxKind(ctx, err); k != nil {
			return nil, newError("", k, nil)
		}
		if cause, ok := tlsCause(err); ok {
			return nil, newError("", ErrProto, cause)
		}
		var ne net.Error
		if errors.Is(err, io.EOF) || errors.As(err, &ne) {
			return nil, newError("", ErrConnReset, err)
		}
		return nil, newError("", ErrProto, err)
	}
	return c, nil
}

// tlsCause returns err as the cause of an ErrProto if it is a failure of
// TLS rather than of the connection under it: an alert the peer sent
// (which crypto/tls reports as a *net.OpError with Op "remote error"; the
// cause returned then also matches tls.AlertError with the alert's code),
// an alert sent to the peer (tls.AlertError), a certificate that failed
// verification, or bytes that are not TLS records. ok is false for any
// other error.
func tlsCause(err error) (cause error, ok bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		if v := reflect.ValueOf(op.Err); v.IsValid() && v.Kind() == reflect.Uint8 {
			return fmt.Errorf("%w%.0w", err, tls.AlertError(v.Uint())), true
		}
		return err, true
	}
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	if errors.As(err, &ae) || errors.As(err, &cv) || errors.As(err, &rh) {
		return err, true
	}
	return nil, false
}

// tlsFailure turns an I/O failure of the client handshake that is a
// failure of TLS (tlsCause) into ErrProto: with TLS 1.3 a server refuses
// a client certificate only after the client's handshake completed, with
// an alert that the first read of the upgrade's answer meets.
func tlsFailure(err error) error {
	if e, ok := err.(*opError); ok && e.kind == ErrConnReset {
		if cause, ok := tlsCause(e.cause); ok {
			return newError(e.op, ErrProto, cause)
		}
	}
	return err
}

// tunnel asks the proxy p for a tunnel to t. It returns the proxy's answer
// if it refused.
func (cfg *Config) tunnel(ctx context.Context, u net.Conn, t *target, p *url.URL) (*http.Response, error) {
	auth := ""
	if p.User != nil {
		auth = basicAuth(p.User)
	}
	if _, err := u.Write(appendConnect(make([]byte, 0, 256), t.addr, auth)); err != nil {
		return nil, ioError(ctx, err)
	}
	head, rest, err := readHead(ctx, u, cfg.maxHeader())
	if err != nil {
		return nil, err
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Host: t.addr}, Host: t.addr, Header: make(http.Header)}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), req.WithContext(ctx))
	if err != nil {
		return nil, newError("", ErrProto, errors.Join(detail("malformed proxy response"), err))
	}
	if resp.StatusCode/100 != 2 {
		readBody(resp, head, rest, u)
		return resp, newError("", ErrProto, detail("proxy answered CONNECT with "+resp.Status))
	}
	resp.Body.Close()
	if len(rest) > 0 {
		return nil, newError("", ErrProto, detail("proxy sent data before the tunnel was used"))
	}
	return nil, nil
}

// response builds the *http.Response of the server's answer from its
// head; rest holds the bytes read past the head, which with u give the
// body of a refusal.
func (t *target) response(ctx context.Context, head, rest []byte, u net.Conn) (*http.Response, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), t.request(ctx))
	if err != nil {
		return nil, newError("", ErrProto, detail("malformed handshake response"))
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = http.NoBody
	} else {
		readBody(resp, head, rest, u)
	}
	if tc, ok := u.(*tls.Conn); ok && t.tls {
		st := tc.ConnectionState()
		resp.TLS = &st
	}
	return resp, nil
}

// readHead reads the proxy's answer to CONNECT from u, up to limit bytes;
// it returns the head and the bytes read past it. (The server's answer
// to the upgrade is read by the Conn, as for AttachClient.)
func readHead(ctx context.Context, u net.Conn, limit int) (head, rest []byte, err error) {
	buf := make([]byte, 0, min(1024, limit))
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= limit {
				return nil, nil, newError("", ErrProto, errHandshakeSize)
			}
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		scan := max(0, len(buf)-3)
		n, rerr := u.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end := headEnd(buf[scan:]); end >= 0 {
			return buf[:scan+end], buf[scan+end:], nil
		}
		if rerr != nil {
			return nil, nil, ioError(ctx, rerr)
		}
	}
}

// readBody sets the body of a refusal to up to maxErrorBody bytes of it,
// read as HTTP frames it (from the bytes that came with the head, then
// from u, within the handshake's deadline). Errors only shorten the body.
func readBody(resp *http.Response, head, rest []byte, u net.Conn) {
	src := io.MultiReader(bytes.NewReader(head), bytes.NewReader(rest), u)
	var body []byte
	if r, err := http.ReadResponse(bufio.NewReader(src), resp.Request); err == nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
}

// ioError classifies an I/O error of the handshake.
func ioError(ctx context.Context, err error) error {
	if k := ctxKind(ctx, err); k != nil {
		return newError("", k, nil)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newError("", ErrConnReset, errEOF)
	}
	return newError("", ErrConnReset, err)
}
