package ws_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// seen records what a handler got in its request.
type seen struct {
	host, uri, origin, custom, auth string
}

// recordingEcho wraps the echo handler of cfg and records the requests.
func recordingEcho(cfg *ws.Config) (http.HandlerFunc, <-chan upgraded, <-chan seen) {
	h, res := echoServer(cfg)
	reqs := make(chan seen, 16)
	return func(w http.ResponseWriter, r *http.Request) {
		reqs <- seen{r.Host, r.RequestURI, r.Header.Get("Origin"), r.Header.Get("X-Custom"), r.Header.Get("Authorization")}
		h(w, r)
	}, res, reqs
}

func wsURL(ts *httptest.Server) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

func TestDialEcho(t *testing.T) {
	h, res, reqs := recordingEcho(nil)
	ts := httptest.NewServer(h)
	defer ts.Close()
	ctx := hsCtx(t)
	addr := ts.Listener.Addr().String()
	cfg := &ws.Config{Header: http.Header{"Origin": {"http://" + addr}, "X-Custom": {"yes"}}}
	c, resp, err := cfg.Dial(ctx, "ws://u:p@"+addr+"/chat?room=1#frag", ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") == "" || resp.Body == nil {
		t.Fatalf("response %+v", resp)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 0 {
		t.Fatalf("body %q, %v", b, err)
	}
	if c.Resource() != "/chat?room=1" || c.Host() != addr || c.Subprotocol() != "" {
		t.Fatalf("resource %q host %q", c.Resource(), c.Host())
	}
	roundTrip(t, ctx, c, "hi")
	if len(cfg.Header) != 2 || cfg.Header.Get("Authorization") != "" {
		t.Errorf("Config.Header modified: %v", cfg.Header)
	}
	got, r := wait(t, res), <-reqs
	if got.err != nil || r.uri != "/chat?room=1" || r.host != addr || r.origin != "http://"+addr || r.custom != "yes" {
		t.Fatalf("server saw %+v, %+v", got, r)
	}
}

func TestDialTLS(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true // the server offers h2 by ALPN: Dial must ask for http/1.1
	ts.StartTLS()
	defer ts.Close()
	ctx := hsCtx(t)
	tc := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.NextProtos = []string{"h2", "http/1.1"}
	c, resp, err := (&ws.Config{TLSConfig: tc}).Dial(ctx, "wss"+strings.TrimPrefix(ts.URL, "https"), ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.NextProtos) != 2 || tc.ServerName != "" {
		t.Errorf("TLSConfig modified: %q %q", tc.NextProtos, tc.ServerName)
	}
	st := c.Underlying().(*tls.Conn).ConnectionState()
	if !st.HandshakeComplete || st.NegotiatedProtocol == "h2" || resp.TLS == nil || resp.TLS.ServerName != "" && resp.TLS.ServerName != "127.0.0.1" {
		t.Errorf("TLS state %+v, resp.TLS %v", st, resp.TLS)
	}
	roundTrip(t, ctx, c, "secure")
	if got := wait(t, res); got.err != nil {
		t.Fatal(got.err)
	}

	// Without the test CA the certificate is refused.
	_, _, err = ws.Dial(ctx, "wss"+strings.TrimPrefix(ts.URL, "https"), 0)
	var cv *tls.CertificateVerificationError
	if !errors.Is(err, ws.ErrProto) || !errors.As(err, &cv) {
		t.Fatalf("err = %v, want ErrProto with a certificate error", err)
	}
}

// TestDialURL: default ports, the Host field, user information, the
// http aliases, and NetDial (which routes every name to the test server).
func TestDialURL(t *testing.T) {
	h, res, reqs := recordingEcho(&ws.Config{Hosts: []string{"example.com", "[::1]", "fe80::1"}}) // the names NetDial routes here
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewTLSServer(h)
	defer secure.Close()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("al ice:s3:cret"))
	for _, tc := range []struct {
		url, addr, host, uri, auth string
		header                     string // Authorization in Config.Header
	}{
		{"ws://example.com", "example.com:80", "example.com", "/", "", ""},
		{"ws://example.com:80/a", "example.com:80", "example.com", "/a", "", ""},
		{"WS://Example.COM:8080/a%20b?x=1&y", "Example.COM:8080", "Example.COM:8080", "/a%20b?x=1&y", "", ""},
		{"http://example.com/p", "example.com:80", "example.com", "/p", "", ""},
		{"wss://example.com/s", "example.com:443", "example.com", "/s", "", ""},
		{"https://example.com:443?q", "example.com:443", "example.com", "/?q", "", ""},
		{"wss://example.com:8443/", "example.com:8443", "example.com:8443", "/", "", ""},
		{"ws://[::1]/", "[::1]:80", "[::1]", "/", "", ""},
		{"ws://[fe80::1%25eth0]:81/", "[fe80::1%eth0]:81", "[fe80::1]:81", "/", "", ""},
		{"ws://al%20ice:s3:cret@example.com/", "example.com:80", "example.com", "/", basic, ""},
		{"ws://u:p@example.com/", "example.com:80", "example.com", "/", "Bearer t", "Bearer t"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			ctx := hsCtx(t)
			var dialed []string
			target := plain
			if strings.HasPrefix(strings.ToLower(tc.url), "wss") || strings.HasPrefix(tc.url, "https") {
				target = secure
			}
			cfg := &ws.Config{
				Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
				NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					dialed = append(dialed, network+" "+addr)
					var d net.Dialer
					return d.DialContext(ctx, "tcp", target.Listener.Addr().String())
				},
				TLSConfig: secure.Client().Transport.(*http.Transport).TLSClientConfig,
			}
			if tc.header != "" {
				cfg.Header = http.Header{"Authorization": {tc.header}}
			}
			c, _, err := cfg.Dial(ctx, tc.url, 0)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, ctx, c, "x")
			got, r := wait(t, res), <-reqs
			if got.err != nil || len(dialed) != 1 || dialed[0] != "tcp "+tc.addr || r.host != tc.host || r.uri != tc.uri || r.auth != tc.auth {
				t.Fatalf("dialed %q; server saw %+v, %v; want %s %s %s %q", dialed, r, got.err, tc.addr, tc.host, tc.uri, tc.auth)
			}
		})
	}
}

func TestDialInvalid(t *testing.T) {
	var dials atomic.Int32
	cfg := &ws.Config{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no")
	}}
	for _, u := range []string{
		"", "example.com", "ftp://example.com/", "ws://", "ws:///path", "ws:example.com",
		"ws://exa mple.com/", "ws://[::1/", "ws://example.com:port/", "ws://example.com:99999/", "ws://example.com:0/", "ws://bücher.example/",
	} {
		_, resp, err := cfg.Dial(context.Background(), u, 0)
		if !errors.Is(err, ws.ErrInvalid) || resp != nil {
			t.Errorf("Dial(%q) = %v, %v; want ErrInvalid", u, resp, err)
		}
	}
	for _, fl := range []ws.Flags{ws.NoHTTP, 0x80} {
		if _, _, err := cfg.Dial(context.Background(), "ws://example.com/", fl); !errors.Is(err, ws.ErrInvalid) {
			t.Errorf("flags %v: %v", fl, err)
		}
	}
	bad := &ws.Config{Subprotocols: []string{"a b"}, NetDial: cfg.NetDial}
	if _, _, err := bad.Dial(context.Background(), "ws://example.com/", 0); !errors.Is(err, ws.ErrInvalid) {
		t.Errorf("bad subprotocol: %v", err)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d connections attempted", n)
	}
}

// rawServer accepts one connection, reads the upgrade request and hands
// both to serve; it returns the ws:// URL.
func rawServer(t *testing.T, serve func(r *http.Request, u net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		u, err := ln.Accept()
		if err != nil {
			return
		}
		defer u.Close()
		r, err := http.ReadRequest(bufio.NewReader(u))
		if err != nil {
			return
		}
		serve(r, u)
	}()
	return "ws://" + ln.Addr().String() + "/"
}

func accept(r *http.Request) string {
	k, _ := ws.ResponseKey(r.Header.Get("Sec-WebSocket-Key"))
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + k + "\r\n"
}

func TestDialSubprotocol(t *testing.T) {
	for _, tc := range []struct {
		name           string
		client, server []string
		want           string
	}{
		{"none/none", nil, nil, ""},
		{"client none", nil, []string{"chat"}, ""},
		{"server none", []string{"chat"}, nil, ""},
		{"match", []string{"chat"}, []string{"chat"}, "chat"},
		{"no match", []string{"mqtt"}, []string{"chat"}, ""},
		{"server picks its first", []string{"v1", "v2"}, []string{"v2", "v1"}, "v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res := echoServer(&ws.Config{Subprotocols: tc.server})
			ts := httptest.NewServer(h)
			defer ts.Close()
			ctx := hsCtx(t)
			c, resp, err := (&ws.Config{Subprotocols: tc.client}).Dial(ctx, wsURL(ts), 0)
			if err != nil {
				t.Fatal(err)
			}
			got := wait(t, res)
			if c.Subprotocol() != tc.want || got.proto != tc.want || resp.Header.Get("Sec-WebSocket-Protocol") != tc.want {
				t.Fatalf("client %q, server %q; want %q", c.Subprotocol(), got.proto, tc.want)
			}
			roundTrip(t, ctx, c, "p")
		})
	}

	t.Run("unoffered refused", func(t *testing.T) {
		offered := make(chan []string, 1)
		url := rawServer(t, func(r *http.Request, u net.Conn) {
			offered <- r.Header.Values("Sec-WebSocket-Protocol")
			io.WriteString(u, accept(r)+"Sec-WebSocket-Protocol: evil\r\n\r\n")
		})
		_, resp, err := (&ws.Config{Subprotocols: []string{"a", "b"}}).Dial(hsCtx(t), url, 0)
		if !errors.Is(err, ws.ErrProto) || !strings.Contains(err.Error(), "not offered") || resp == nil || resp.StatusCode != 101 {
			t.Fatalf("err = %v, resp %v", err, resp)
		}
		if o := <-offered; len(o) != 1 || o[0] != "a, b" {
			t.Fatalf("offered %q", o)
		}
	})
}

// TestDialRefused: the answer of a server that refuses is returned,
// status, fields and body readable.
func TestDialRefused(t *testing.T) {
	big := strings.Repeat("x", 20000)
	mux := http.NewServeMux()
	h, _ := echoServer(nil)
	mux.Handle("/ws", h)
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sec-WebSocket-Version", "8")
		http.Error(w, "version 8 only", http.StatusUpgradeRequired)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		http.Error(w, big, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere?x=1", http.StatusFound)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for _, tc := range []struct {
		path   string
		origin string
		status int
		field  string // "Name: value" in the answer
		body   string
		errHas string
	}{
		{"/ws", "https://evil.example", 403, "", "cross-origin request refused\n", "403 Forbidden"},
		{"/old", "", 426, "Sec-WebSocket-Version: 8", "version 8 only\n", "426 Upgrade Required"},
		{"/big", "", 503, "", big + "\n", "503"},
		{"/moved", "", 302, "Location: /elsewhere?x=1", "", `"/elsewhere?x=1"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			cfg := &ws.Config{}
			if tc.origin != "" {
				cfg.Header = http.Header{"Origin": {tc.origin}}
			}
			c, resp, err := cfg.Dial(hsCtx(t), wsURL(ts)+tc.path, 0)
			if c != nil || !errors.Is(err, ws.ErrProto) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want ErrProto mentioning %s", err, tc.errHas)
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("resp = %v, want %d", resp, tc.status)
			}
			if name, value, _ := strings.Cut(tc.field, ": "); name != "" && resp.Header.Get(name) != value {
				t.Errorf("%s = %q", name, resp.Header.Get(name))
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || (tc.body != "" && string(body) != tc.body) {
				t.Errorf("body %d bytes %.40q, %v; want %d bytes", len(body), body, err, len(tc.body))
			}
		})
	}
}

func TestDialIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	h, res, reqs := recordingEcho(nil)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	ts.Start()
	defer ts.Close()
	ctx := hsCtx(t)
	c, _, err := ws.Dial(ctx, wsURL(ts)+"/v6", ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, ctx, c, "six")
	got, r := wait(t, res), <-reqs
	if got.err != nil || r.host != ln.Addr().String() || !strings.HasPrefix(r.host, "[::1]:") {
		t.Fatalf("server saw %+v, %v", r, got.err)
	}
}

// TestDialServerPipelined: a frame the server sent with its 101 is kept.
func TestDialServerPipelined(t *testing.T) {
	url := rawServer(t, func(r *http.Request, u net.Conn) {
		io.WriteString(u, accept(r)+"\r\n\x81\x05early")
		io.Copy(io.Discard, u)
	})
	ctx := hsCtx(t)
	c, _, err := ws.Dial(ctx, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 16)
	n, fl, err := c.Recv(ctx, buf)
	if err != nil || fl != ws.Text || string(buf[:n]) != "early" {
		t.Fatalf("recv %q %v %v", buf[:n], fl, err)
	}
}

func TestDialMalformed(t *testing.T) {
	for _, answer := range []string{
		"garbage\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	} {
		url := rawServer(t, func(r *http.Request, u net.Conn) { io.WriteString(u, answer) })
		if c, _, err := ws.Dial(hsCtx(t), url, 0); c != nil || !errors.Is(err, ws.ErrProto) {
			t.Errorf("answer %q: %v", answer, err)
		}
	}
	url := rawServer(t, func(r *http.Request, u net.Conn) { io.WriteString(u, "HTTP/1.1 101 Swi") })
	if _, _, err := ws.Dial(hsCtx(t), url, 0); !errors.Is(err, ws.ErrConnReset) {
		t.Errorf("cut answer: %v, want ErrConnReset", err)
	}
	url = rawServer(t, func(r *http.Request, u net.Conn) {
		io.WriteString(u, "HTTP/1.1 101 Switching Protocols\r\nX: "+strings.Repeat("y", 2000)+"\r\n\r\n")
	})
	if _, _, err := (&ws.Config{MaxHeaderBytes: 1000}).Dial(hsCtx(t), url, 0); !errors.Is(err, ws.ErrProto) {
		t.Errorf("large head: %v, want ErrProto", err)
	}
}

// silentServer accepts connections and never answers; accepted receives
// a value for each.
func silentServer(t *testing.T) (string, <-chan struct{}) {
	accepted := make(chan struct{}, 4)
	url := rawServer(t, func(r *http.Request, u net.Conn) {
		accepted <- struct{}{}
		io.Copy(io.Discard, u)
	})
	return url, accepted
}

func TestDialContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var dials atomic.Int32
	cfg := &ws.Config{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	if _, _, err := cfg.Dial(ctx, "ws://127.0.0.1:1/", 0); !errors.Is(err, ws.ErrCanceled) || !errors.Is(err, context.Canceled) || dials.Load() != 0 {
		t.Fatalf("canceled on entry: %v (%d dials)", err, dials.Load())
	}

	t.Run("canceled during the handshake", func(t *testing.T) {
		url, accepted := silentServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-accepted; cancel() }()
		_, _, err := cfg.Dial(ctx, url, 0)
		if !errors.Is(err, ws.ErrCanceled) {
			t.Fatalf("err = %v, want ErrCanceled", err)
		}
	})
	t.Run("deadline during the handshake", func(t *testing.T) {
		url, _ := silentServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := cfg.Dial(ctx, url, 0)
		var ne net.Error
		if !errors.Is(err, ws.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v, want ErrTimedOut", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, _, err = ws.Dial(hsCtx(t), "ws://"+addr+"/", 0)
		var ne net.Error
		if !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, ws.ErrConnReset) || !errors.As(err, &ne) ||
			!strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v, want ECONNREFUSED as it is, not ErrConnReset", err)
		}
	})
	t.Run("no such host", func(t *testing.T) {
		_, _, err := ws.Dial(hsCtx(t), "ws://no-such-host.invalid/", 0)
		var dns *net.DNSError
		if !errors.As(err, &dns) || errors.Is(err, ws.ErrConnReset) {
			t.Fatalf("err = %v, want the *net.DNSError", err)
		}
	})
}

// TestDialRefusalSaysWhy: a refused upgrade's error gives the status line
// and the first line of the body the server sent.
func TestDialRefusalSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "token expired\nsecond line", http.StatusForbidden)
	}))
	defer srv.Close()
	_, resp, err := ws.Dial(hsCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http")+"/", 0)
	if !errors.Is(err, ws.ErrProto) || !strings.Contains(err.Error(), "403 Forbidden: token expired") ||
		strings.Contains(err.Error(), "second line") {
		t.Fatalf("err = %v", err)
	}
	if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("resp = %v", resp)
	}
	if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "second line") {
		t.Fatalf("body %q: still readable in full", b)
	}
}

// connectProxy is an HTTP proxy that only tunnels (CONNECT), to loopback
// addresses, optionally asking for Basic credentials.
type connectProxy struct {
	ln       net.Listener
	scheme   string // "https" if clients speak TLS to the proxy
	auth     string // wanted Proxy-Authorization, "" for none
	connects atomic.Int32
	targets  chan string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func startProxy(t *testing.T, auth string) *connectProxy {
	return startProxyTLS(t, auth, nil)
}

// startProxyTLS starts a proxy that clients reach over TLS with tc (an
// https:// proxy), or over plain TCP if tc is nil.
func startProxyTLS(t *testing.T, auth string, tc *tls.Config) *connectProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, auth: auth, targets: make(chan string, 16)}
	if tc != nil {
		p.ln, p.scheme = tls.NewListener(ln, tc), "https"
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for range 100 {
			u, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.track(u)
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(u) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

type closeWriter interface{ CloseWrite() error }

func (p *connectProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *connectProxy) url(userinfo string) *url.URL {
	u := &url.URL{Scheme: "http", Host: p.ln.Addr().String()}
	if p.scheme != "" {
		u.Scheme = p.scheme
	}
	if name, pw, ok := strings.Cut(userinfo, ":"); ok {
		u.User = url.UserPassword(name, pw)
	}
	return u
}

func (p *connectProxy) serve(u net.Conn) {
	defer u.Close()
	br := bufio.NewReader(u)
	r, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if r.Method != http.MethodConnect {
		io.WriteString(u, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.connects.Add(1)
	p.targets <- r.Host
	if p.auth != "" && r.Header.Get("Proxy-Authorization") != p.auth {
		io.WriteString(u, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 13\r\n\r\nwho are you?\n")
		return
	}
	host, _, _ := net.SplitHostPort(r.Host)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		io.WriteString(u, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	d, err := net.Dial("tcp", r.Host)
	if err != nil {
		io.WriteString(u, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.track(d)
	io.WriteString(u, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(d, br)
		d.(closeWriter).CloseWrite()
		close(done)
	}()
	io.Copy(u, d)
	u.(closeWriter).CloseWrite()
	<-done
}

func TestDialProxy(t *testing.T) {
	h, res := echoServer(nil)
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewTLSServer(h)
	defer secure.Close()
	tlsConfig := secure.Client().Transport.(*http.Transport).TLSClientConfig
	for _, tc := range []struct {
		name     string
		url      string
		auth     string // the proxy wants this user:password
		userinfo string // the proxy URL has this
		status   int    // of the proxy's refusal, 0 if it tunnels
		https    bool   // TLS to the proxy
	}{
		{"ws", wsURL(plain) + "/p", "", "", 0, false},
		{"wss", "wss" + strings.TrimPrefix(secure.URL, "https") + "/p", "", "", 0, false},
		{"auth", wsURL(plain) + "/p", "alice:open sesame", "alice:open sesame", 0, false},
		{"wss auth", "wss" + strings.TrimPrefix(secure.URL, "https") + "/p", "alice:pw", "alice:pw", 0, false},
		{"no credentials", wsURL(plain) + "/p", "alice:pw", "", 407, false},
		{"wrong credentials", wsURL(plain) + "/p", "alice:pw", "alice:guess", 407, false},
		{"https proxy", wsURL(plain) + "/p", "alice:pw", "alice:pw", 0, true},
		{"https proxy, wss", "wss" + strings.TrimPrefix(secure.URL, "https") + "/p", "", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			if tc.auth != "" {
				want = "Basic " + base64.StdEncoding.EncodeToString([]byte(tc.auth))
			}
			var proxy *connectProxy
			if tc.https {
				proxy = startProxyTLS(t, want, secure.TLS)
			} else {
				proxy = startProxy(t, want)
			}
			var schemes []string
			cfg := &ws.Config{
				Proxy: func(r *http.Request) (*url.URL, error) {
					schemes = append(schemes, r.URL.Scheme)
					return proxy.url(tc.userinfo), nil
				},
				TLSConfig: tlsConfig,
			}
			ctx := hsCtx(t)
			c, resp, err := cfg.Dial(ctx, tc.url, ws.Text)
			wantScheme := "http"
			if strings.HasPrefix(tc.url, "wss") {
				wantScheme = "https"
			}
			if len(schemes) != 1 || schemes[0] != wantScheme {
				t.Errorf("Proxy called with %q, want %s once", schemes, wantScheme)
			}
			if n := proxy.connects.Load(); n != 1 {
				t.Errorf("%d CONNECTs, want 1", n)
			}
			if tc.status != 0 {
				if c != nil || !errors.Is(err, ws.ErrProto) || resp == nil || resp.StatusCode != tc.status ||
					resp.Header.Get("Proxy-Authenticate") == "" || !strings.Contains(err.Error(), "407") {
					t.Fatalf("err = %v, resp %v; want the proxy's %d", err, resp, tc.status)
				}
				if b, _ := io.ReadAll(resp.Body); string(b) != "who are you?\n" {
					t.Errorf("body %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tc.url)
			if target := <-proxy.targets; target != u.Host {
				t.Errorf("CONNECT %s, want %s", target, u.Host)
			}
			if resp.StatusCode != 101 {
				t.Errorf("status %d", resp.StatusCode)
			}
			roundTrip(t, ctx, c, "via proxy")
			if got := wait(t, res); got.err != nil || got.resource != "/p" {
				t.Fatalf("server saw %+v", got)
			}
		})
	}
}

// TestDialProxyRefusesTargets: a proxy error and an unsupported proxy
// scheme.
func TestDialProxyErrors(t *testing.T) {
	proxy := startProxy(t, "")
	cfg := &ws.Config{Proxy: http.ProxyURL(proxy.url(""))}
	_, resp, err := cfg.Dial(hsCtx(t), "ws://example.com/", 0) // not loopback: the proxy refuses
	if !errors.Is(err, ws.ErrProto) || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("err = %v, resp %v", err, resp)
	}
	cfg.Proxy = http.ProxyURL(&url.URL{Scheme: "socks5", Host: "127.0.0.1:1"})
	if _, _, err := cfg.Dial(hsCtx(t), "ws://example.com/", 0); !errors.Is(err, ws.ErrInvalid) {
		t.Fatalf("socks5: %v, want ErrInvalid", err)
	}
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, errors.New("no proxy for you") }
	if _, _, err := cfg.Dial(hsCtx(t), "ws://example.com/", 0); !errors.Is(err, ws.ErrInvalid) || !strings.Contains(err.Error(), "no proxy for you") {
		t.Fatalf("proxy error: %v", err)
	}
}

// FuzzDialURL: any URL is either refused with ErrInvalid before a
// connection is attempted, or leads to exactly one attempt; nothing panics.
func FuzzDialURL(f *testing.F) {
	for _, u := range []string{"ws://example.com/", "wss://[::1]:443/a?b#c", "ws://a%25b/", "ws://[fe80::1%25eth0]/",
		"http://u:p@h:1", "ws://h:/", "ws://[::1]%25/", "WSS://H"} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		var dials int
		cfg := &ws.Config{
			Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials++
				if _, _, err := net.SplitHostPort(addr); err != nil {
					t.Errorf("dial address %q: %v", addr, err)
				}
				return nil, errors.New("no network in this test")
			},
		}
		_, resp, err := cfg.Dial(context.Background(), u, 0)
		if resp != nil || err == nil || (dials == 0) != errors.Is(err, ws.ErrInvalid) || dials > 1 {
			t.Fatalf("Dial(%q): %v, %v after %d dials", u, resp, err, dials)
		}
	})
}
