package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/dillgo/ws"
)

// How ws dial reaches its server: a ws:// or wss:// URL through the
// library's Dial (proxies, TLS), a unix:PATH socket through AttachClient,
// or a raw --nohttp address. With -v the bytes of the handshake are
// recorded below the WebSocket layer and printed.

// checkTarget reports a URL or address that can never be dialed (a usage
// error, exit 1) before anything is connected.
func checkTarget(o *dialOpts, target string) error {
	if path, ok := strings.CutPrefix(target, "unix:"); ok {
		if path == "" {
			return errors.New("unix: URL without a socket path")
		}
		return nil
	}
	if o.nohttp != "" {
		_, port, err := net.SplitHostPort(target)
		if err != nil {
			return err
		}
		return checkPort(port)
	}
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("%s: the URL scheme must be ws, wss, http, https or unix", escapeLine(target))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s: the URL has no host", escapeLine(target))
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		return checkPort(p)
	}
	return nil
}

func checkPort(p string) error {
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q (want 1-65535)", escapeLine(p))
	}
	return nil
}

// proxyFunc returns the proxy chooser for --proxy URL (nil: the
// environment's, the library's default).
func proxyFunc(raw string) (func(*http.Request) (*url.URL, error), error) {
	if raw == "" {
		return nil, nil
	}
	p, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, fmt.Errorf("%s: want http://HOST:PORT or https://HOST:PORT", escapeLine(raw))
	}
	return http.ProxyURL(p), nil
}

// connect dials target and returns the connection, or nil and the exit
// code after printing why.
func (s *session) connect() (*ws.Conn, int) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.timeout)
	defer cancel()
	var rec *recorder
	if s.o.verbose {
		rec = &recorder{}
	}
	c, resp, err := s.open(ctx, rec)
	if rec != nil {
		rec.print(s.e, resp)
	}
	if err != nil {
		code := exitHandshake
		if errors.Is(err, ws.ErrInvalid) {
			code = exitUsage
		}
		fail(s.e, "dial", code, libError(err))
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			fmt.Fprintf(s.e.stderr, "ws: dial: server answered %s %s\n", escapeLine(resp.Proto), escapeLine(resp.Status))
		}
		return nil, code
	}
	if s.o.verbose {
		fmt.Fprintf(s.e.stderr, "* agreed: %s\n", agreedVerbose(c))
	}
	return c, exitOK
}

// open connects by the kind of target.
func (s *session) open(ctx context.Context, rec *recorder) (*ws.Conn, *http.Response, error) {
	if path, ok := strings.CutPrefix(s.target, "unix:"); ok {
		var nd net.Dialer
		u, err := nd.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, nil, err
		}
		return s.attach(ctx, rec.wrap(u), "/", "localhost")
	}
	if s.o.nohttp != "" {
		var nd net.Dialer
		u, err := nd.DialContext(ctx, "tcp", s.target)
		if err != nil {
			return nil, nil, err
		}
		c, err := s.cfg.AttachClient(ctx, u, ws.Text|ws.NoHTTP, "/", s.target)
		return c, nil, err
	}
	// (With --http2 Dial runs TLS itself: "h2" must be offered by ALPN.)
	if rec != nil && !s.o.http2 && strings.HasPrefix(s.target, "wss:") && s.direct(ctx) {
		return s.openTLS(ctx, rec)
	}
	cfg := s.cfg
	if rec != nil {
		dup := *s.cfg
		dup.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			u, err := nd.DialContext(ctx, network, addr)
			return rec.wrap(u), err
		}
		cfg = &dup
	}
	return cfg.Dial(ctx, s.target, ws.Text)
}

// attach runs the client handshake on u (a Unix socket or our own TLS
// connection); the answer's head, if recorded, stands for the response.
func (s *session) attach(ctx context.Context, u net.Conn, resource, host string) (*ws.Conn, *http.Response, error) {
	c, err := s.cfg.AttachClient(ctx, u, ws.Text, resource, host)
	return c, nil, err
}

// direct reports whether Dial would connect to the server itself (no
// proxy), so that -v can run TLS here and record the heads inside it.
func (s *session) direct(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https"+strings.TrimPrefix(s.target, "wss"), nil)
	if err != nil {
		return false
	}
	proxy := http.ProxyFromEnvironment
	if s.cfg.Proxy != nil {
		proxy = s.cfg.Proxy
	}
	p, err := proxy(req)
	return err == nil && p == nil
}

// openTLS connects to a wss:// URL with TLS run here, so that the
// recorder sits above it: -v then shows the heads as sent.
// TODO(issue 11): drop once the library exposes the handshake's heads.
func (s *session) openTLS(ctx context.Context, rec *recorder) (*ws.Conn, *http.Response, error) {
	u, err := url.Parse(s.target)
	if err != nil {
		return nil, nil, err
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, nil, err
	}
	tc := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		tc = s.cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	tc.NextProtos = []string{"http/1.1"}
	conn := tls.Client(raw, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	host := strings.TrimSuffix(u.Host, ":443")
	if u.User != nil && s.cfg.Header.Get("Authorization") == "" {
		dup := *s.cfg
		dup.Header = s.cfg.Header.Clone()
		if dup.Header == nil {
			dup.Header = http.Header{}
		}
		pw, _ := u.User.Password()
		req := &http.Request{Header: dup.Header}
		req.SetBasicAuth(u.User.Username(), pw)
		c, err := dup.AttachClient(ctx, rec.wrap(conn), ws.Text, u.RequestURI(), host)
		return c, nil, err
	}
	return s.attach(ctx, rec.wrap(conn), u.RequestURI(), host)
}

// agreedVerbose describes what the handshake agreed on, for -v.
func agreedVerbose(c *ws.Conn) string {
	p, x := c.Subprotocol(), c.Extensions()
	if p == "" {
		p = "none"
	}
	if x == "" {
		x = "none"
	}
	return "subprotocol " + escapeLine(p) + "; extensions " + escapeLine(x)
}

// recorder keeps the first bytes written and read on a connection, for
// -v: the handshake's heads (and a proxy's CONNECT exchange). A nil
// recorder records nothing.
type recorder struct {
	mu        sync.Mutex
	out, in   bytes.Buffer
	stopped   bool
	connected bool
}

const recordMax = 64 << 10

func (r *recorder) wrap(u net.Conn) net.Conn {
	if r == nil || u == nil {
		return u
	}
	r.mu.Lock()
	r.connected = true
	r.mu.Unlock()
	return &recConn{Conn: u, r: r}
}

func (r *recorder) add(b *bytes.Buffer, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped && b.Len() < recordMax {
		b.Write(p[:min(len(p), recordMax-b.Len())])
	}
}

// recConn records what passes through it until the recorder stops.
type recConn struct {
	net.Conn
	r *recorder
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.add(&c.r.in, p[:n])
	return n, err
}

func (c *recConn) Write(p []byte) (int, error) {
	c.r.add(&c.r.out, p)
	return c.Conn.Write(p)
}

// NetConn returns the wrapped connection, as tls.Conn's does.
func (c *recConn) NetConn() net.Conn { return c.Conn }

// print stops recording and prints the heads on stderr: "> " for what we
// sent, "< " for what the server (or proxy) answered. Heads that went
// inside TLS through a proxy were not seen, nor are HTTP/2's binary
// frames; resp's head stands in.
func (r *recorder) print(e *env, resp *http.Response) {
	r.mu.Lock()
	r.stopped = true
	out, in := r.out.Bytes(), r.in.Bytes()
	r.mu.Unlock()
	h2 := resp != nil && resp.ProtoMajor == 2
	sawResponse := false
	for {
		req, restOut, ok := cutHead(out)
		if !ok || h2 && !bytes.HasPrefix(req, []byte("CONNECT ")) {
			break // the HTTP/2 preface "PRI * HTTP/2.0" is no request
		}
		printHead(e, "> ", req)
		ans, restIn, ok := cutHead(in)
		if !ok {
			break
		}
		printHead(e, "< ", ans)
		sawResponse = !bytes.HasPrefix(req, []byte("CONNECT "))
		out, in = restOut, restIn
		if sawResponse {
			break
		}
	}
	if !sawResponse && resp != nil {
		switch {
		case h2:
			fmt.Fprintln(e.stderr, "* the WebSocket is an HTTP/2 stream (RFC 8441, extended CONNECT); the answer as parsed:")
		default:
			fmt.Fprintln(e.stderr, "* the upgrade went inside TLS through the proxy; the answer as parsed:")
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(&b)
		printHead(e, "< ", b.Bytes())
	}
}

// cutHead returns the HTTP head at the start of b (without its blank
// line) and what follows; ok is false if b does not start with a
// complete, textual head.
func cutHead(b []byte) (head, rest []byte, ok bool) {
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		return nil, nil, false
	}
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+4:], true
}

func printHead(e *env, prefix string, head []byte) {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(head), "\r\n"), "\r\n") {
		b.WriteString(prefix + escapeLine(line) + "\n")
	}
	fmt.Fprint(e.stderr, b.String())
}
