package ws_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// hsCtx bounds every blocking call of these tests, so that a bug fails a
// test instead of hanging it; no test depends on how long anything takes.
func hsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// upgraded is what a test handler saw.
type upgraded struct {
	resource, host, proto string
	err                   error
}

// echoServer returns a handler that upgrades with cfg, reports the result
// on the returned channel, and echoes messages until the client closes,
// then completes the closing handshake.
func echoServer(cfg *ws.Config) (http.HandlerFunc, <-chan upgraded) {
	res := make(chan upgraded, 16)
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := cfg.Upgrade(w, r, ws.Text)
		if err != nil {
			res <- upgraded{err: err}
			return
		}
		res <- upgraded{resource: c.Resource(), host: c.Host(), proto: c.Subprotocol()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		echo(ctx, c)
	}, res
}

// echo sends back each message, at most 100, until the peer's close,
// which it answers.
func echo(ctx context.Context, c *ws.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for range 100 {
		n, fl, err := c.Recv(ctx, buf)
		var ce ws.CloseError
		if errors.As(err, &ce) {
			if u, err := c.Detach(ctx, ce.Code, ""); err == nil {
				u.Close()
			}
			return
		}
		if err != nil || c.Send(ctx, fl, buf[:n]) != nil {
			return
		}
	}
}

// roundTrip sends msg on c, expects it back, then closes the connection
// with a closing handshake.
func roundTrip(t *testing.T, ctx context.Context, c *ws.Conn, msg string) {
	t.Helper()
	defer c.Close()
	if err := c.Send(ctx, ws.Text, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	buf := make([]byte, 1024)
	n, fl, err := c.Recv(ctx, buf)
	if err != nil || fl != ws.Text || string(buf[:n]) != msg {
		t.Fatalf("recv = %q, %v, %v; want %q, text", buf[:n], fl, err, msg)
	}
	u, err := c.Detach(ctx, ws.StatusNormalClosure, "")
	if err != nil {
		t.Fatalf("detach: %v", err)
	}
	u.Close()
}

func wait(t *testing.T, res <-chan upgraded) upgraded {
	t.Helper()
	select {
	case u := <-res:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not run")
		return upgraded{}
	}
}

// attachTo opens a raw client connection (no Dial) to an httptest server.
func attachTo(t *testing.T, ctx context.Context, u net.Conn, cfg *ws.Config, resource, host string) *ws.Conn {
	t.Helper()
	c, err := cfg.AttachClient(ctx, u, ws.Text, resource, host)
	if err != nil {
		t.Fatalf("attach client: %v", err)
	}
	return c
}

func TestUpgradeEchoBehindMux(t *testing.T) {
	h, res := echoServer(nil)
	mux := http.NewServeMux()
	mux.Handle("/echo", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := hsCtx(t)
	u, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := attachTo(t, ctx, u, nil, "/echo?x=1", "localhost")
	roundTrip(t, ctx, c, "hello")
	got := wait(t, res)
	if got.err != nil || got.resource != "/echo?x=1" || got.host != "localhost" {
		t.Fatalf("server saw %+v", got)
	}
}

func TestUpgradeTLS(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewTLSServer(h)
	defer ts.Close()
	ctx := hsCtx(t)
	tc := ts.Client().Transport.(*http.Transport).TLSClientConfig
	u, err := tls.Dial("tcp", ts.Listener.Addr().String(), tc)
	if err != nil {
		t.Fatal(err)
	}
	c := attachTo(t, ctx, u, nil, "/", "localhost")
	if _, ok := c.Underlying().(*tls.Conn); !ok {
		t.Fatalf("underlying is %T", c.Underlying())
	}
	roundTrip(t, ctx, c, "over tls")
	if got := wait(t, res); got.err != nil {
		t.Fatal(got.err)
	}
}

// wrapped is a middleware's ResponseWriter: it hides the Hijacker of the
// one it wraps and exposes it through Unwrap (if unwrap is set).
type wrapped struct {
	http.ResponseWriter
	unwrap bool
	status int
}

func (w *wrapped) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

type unwrapping struct{ *wrapped }

func (w unwrapping) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func middleware(next http.Handler, unwrap bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := &wrapped{ResponseWriter: w}
		if unwrap {
			next.ServeHTTP(unwrapping{ww}, r)
			return
		}
		next.ServeHTTP(ww, r)
	})
}

func TestUpgradeBehindMiddleware(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewServer(middleware(h, true))
	defer ts.Close()
	ctx := hsCtx(t)
	u, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, ctx, attachTo(t, ctx, u, nil, "/", "localhost"), "through middleware")
	if got := wait(t, res); got.err != nil {
		t.Fatal(got.err)
	}
}

func TestUpgradeNotHijackable(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewServer(middleware(h, false))
	defer ts.Close()
	resp := rawUpgrade(t, ts, "GET", "HTTP/1.1")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	got := wait(t, res)
	if !errors.Is(got.err, ws.ErrInvalid) || !errors.Is(got.err, http.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrInvalid and http.ErrNotSupported", got.err)
	}
}

// rawUpgrade sends an upgrade request with method and proto, the usual
// handshake fields replaced or completed by extra ("Name: value" lines;
// "Name:" alone drops a field), and returns the server's answer.
func rawUpgrade(t *testing.T, ts *httptest.Server, method, proto string, extra ...string) *http.Response {
	t.Helper()
	u, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	u.SetDeadline(time.Now().Add(10 * time.Second))
	fields := []string{
		"Host: " + ts.Listener.Addr().String(),
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Version: 13",
	}
	replaced := map[string]bool{}
	for _, e := range extra {
		name, _, _ := strings.Cut(e, ":")
		if !replaced[name] {
			replaced[name] = true
			kept := fields[:0]
			for _, f := range fields {
				if !strings.HasPrefix(f, name+":") {
					kept = append(kept, f)
				}
			}
			fields = kept
		}
		if !strings.HasSuffix(e, ":") {
			fields = append(fields, e)
		}
	}
	req := method + " /chat " + proto + "\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n"
	if _, err := io.WriteString(u, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(u), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestUpgradeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name          string
		method, proto string
		extra         []string
		status        int
		header        string // "Name: value" expected in the answer
	}{
		{"ok", "GET", "HTTP/1.1", nil, 101, "Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		{"connection list", "GET", "HTTP/1.1", []string{"Connection: keep-alive, Upgrade"}, 101, ""},
		{"case", "GET", "HTTP/1.1", []string{"Connection: UPGRADE", "Upgrade: WebSocket"}, 101, ""},
		{"post", "POST", "HTTP/1.1", nil, 405, "Allow: GET"},
		{"http 1.0", "GET", "HTTP/1.0", nil, 400, ""},
		{"no upgrade", "GET", "HTTP/1.1", []string{"Upgrade:"}, 400, ""},
		{"upgrade h2c", "GET", "HTTP/1.1", []string{"Upgrade: h2c"}, 400, ""},
		{"no connection", "GET", "HTTP/1.1", []string{"Connection: keep-alive"}, 400, ""},
		{"version 8", "GET", "HTTP/1.1", []string{"Sec-WebSocket-Version: 8"}, 426, "Sec-Websocket-Version: 13"},
		{"no version", "GET", "HTTP/1.1", []string{"Sec-WebSocket-Version:"}, 426, "Sec-Websocket-Version: 13"},
		{"no key", "GET", "HTTP/1.1", []string{"Sec-WebSocket-Key:"}, 400, ""},
		{"short key", "GET", "HTTP/1.1", []string{"Sec-WebSocket-Key: AAAA"}, 400, ""},
		{"two keys", "GET", "HTTP/1.1", []string{"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res := echoServer(nil)
			ts := httptest.NewServer(h)
			defer ts.Close()
			resp := rawUpgrade(t, ts, tc.method, tc.proto, tc.extra...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if name, value, _ := strings.Cut(tc.header, ": "); name != "" && resp.Header.Get(name) != value {
				t.Errorf("%s = %q, want %q", name, resp.Header.Get(name), value)
			}
			got := wait(t, res)
			if tc.status == 101 {
				if got.err != nil {
					t.Fatal(got.err)
				}
				return
			}
			if !errors.Is(got.err, ws.ErrProto) {
				t.Fatalf("handler error %v, want ErrProto", got.err)
			}
			body, _ := io.ReadAll(resp.Body)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || len(body) == 0 {
				t.Errorf("answer %q, %q: want a plain-text reason", ct, body)
			}
		})
	}
}

func TestUpgradeOrigin(t *testing.T) {
	allow := ws.AllowOrigins("https://app.example.com", "*.example.org")
	for _, tc := range []struct {
		name   string
		check  func(*http.Request) bool
		origin string // "" sends none; "SAME" the server's own
		ok     bool
	}{
		{"no origin", nil, "", true},
		{"same origin", nil, "SAME", true},
		{"other origin", nil, "https://evil.example", false},
		{"listed", allow, "https://app.example.com", true},
		{"listed other case", allow, "HTTPS://APP.example.com", true},
		{"unlisted", allow, "https://evil.example", false},
		{"wildcard", allow, "https://a.b.example.org", true},
		{"wildcard with port", allow, "http://chat.example.org:8080", true},
		{"wildcard apex", allow, "https://example.org", false},
		{"wildcard lookalike", allow, "https://badexample.org", false},
		{"allow list same origin", allow, "SAME", true},
		{"allow list no origin", allow, "", true},
		{"custom", func(r *http.Request) bool { return r.Header.Get("X-Token") == "yes" }, "https://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res := echoServer(&ws.Config{CheckOrigin: tc.check})
			ts := httptest.NewServer(h)
			defer ts.Close()
			extra := []string{"X-Token: yes"}
			switch tc.origin {
			case "":
			case "SAME":
				extra = append(extra, "Origin: http://"+ts.Listener.Addr().String())
			default:
				extra = append(extra, "Origin: "+tc.origin)
			}
			resp := rawUpgrade(t, ts, "GET", "HTTP/1.1", extra...)
			got := wait(t, res)
			if tc.ok {
				if resp.StatusCode != 101 || got.err != nil {
					t.Fatalf("status %d, %v; want 101", resp.StatusCode, got.err)
				}
				return
			}
			if resp.StatusCode != 403 || !errors.Is(got.err, ws.ErrProto) {
				t.Fatalf("status %d, %v; want 403 and ErrProto", resp.StatusCode, got.err)
			}
		})
	}
}

func TestUpgradeSubprotocol(t *testing.T) {
	for _, tc := range []struct {
		name    string
		server  []string
		offered []string // one field per element
		want    string
	}{
		{"none/none", nil, nil, ""},
		{"server none", nil, []string{"chat"}, ""},
		{"client none", []string{"chat"}, nil, ""},
		{"match", []string{"chat"}, []string{"chat"}, "chat"},
		{"no match", []string{"chat"}, []string{"mqtt"}, ""},
		{"server's first", []string{"v2", "v1"}, []string{"v1, v2"}, "v2"},
		{"server's first, fields", []string{"v2", "v1"}, []string{"v1", "v2"}, "v2"},
		{"token not substring", []string{"chat"}, []string{"chatty, xchat"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res := echoServer(&ws.Config{Subprotocols: tc.server})
			ts := httptest.NewServer(h)
			defer ts.Close()
			var extra []string
			for _, o := range tc.offered {
				extra = append(extra, "Sec-WebSocket-Protocol: "+o)
			}
			resp := rawUpgrade(t, ts, "GET", "HTTP/1.1", extra...)
			got := wait(t, res)
			if resp.StatusCode != 101 || got.err != nil {
				t.Fatalf("status %d, %v", resp.StatusCode, got.err)
			}
			if p := resp.Header.Values("Sec-WebSocket-Protocol"); got.proto != tc.want ||
				(tc.want == "" && len(p) != 0) || (tc.want != "" && (len(p) != 1 || p[0] != tc.want)) {
				t.Fatalf("agreed %q, answered %q; want %q", got.proto, p, tc.want)
			}
		})
	}
}

// TestUpgradeResponseHeader: fields set on w.Header() and Config.Header go
// out with the 101; fields owned by the handshake do not.
func TestUpgradeResponseHeader(t *testing.T) {
	cfg := &ws.Config{Header: http.Header{"X-Config": {"c"}, "Connection": {"close"}}}
	h, res := echoServer(cfg)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=1")
		w.Header().Set("Content-Length", "12")
		h(w, r)
	}))
	defer ts.Close()
	resp := rawUpgrade(t, ts, "GET", "HTTP/1.1")
	if got := wait(t, res); got.err != nil || resp.StatusCode != 101 {
		t.Fatal(resp.Status, got.err)
	}
	if resp.Header.Get("Set-Cookie") != "session=1" || resp.Header.Get("X-Config") != "c" {
		t.Errorf("extra fields missing: %v", resp.Header)
	}
	if v := resp.Header.Values("Connection"); len(v) != 1 || v[0] != "Upgrade" {
		t.Errorf("Connection = %q", v)
	}
	if v := resp.Header.Values("Content-Length"); len(v) != 0 {
		t.Errorf("Content-Length = %q", v)
	}
}

// TestUpgradePipelined: a frame sent in the same write as the request,
// which net/http has already buffered when the handler runs, is not lost.
func TestUpgradePipelined(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewServer(h)
	defer ts.Close()
	u, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	key := [4]byte{1, 2, 3, 4}
	payload := []byte("early bird")
	frame := append([]byte{0x81, 0x80 | byte(len(payload))}, key[:]...)
	for i, b := range payload {
		frame = append(frame, b^key[i%4])
	}
	req := "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := u.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(u)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatal(resp, err)
	}
	echoed := make([]byte, 2+len(payload))
	if _, err := io.ReadFull(br, echoed); err != nil {
		t.Fatal(err)
	}
	if echoed[0] != 0x81 || int(echoed[1]) != len(payload) || string(echoed[2:]) != string(payload) {
		t.Fatalf("echoed frame % x", echoed)
	}
	if got := wait(t, res); got.err != nil {
		t.Fatal(got.err)
	}
}

// TestUpgradeHTTP2: a request over HTTP/2 gets a clear refusal.
func TestUpgradeHTTP2(t *testing.T) {
	h, res := echoServer(nil)
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	req, _ := http.NewRequestWithContext(hsCtx(t), "GET", ts.URL, nil)
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Fatalf("%s %s: %s", resp.Proto, resp.Status, body)
	}
	got := wait(t, res)
	if !errors.Is(got.err, ws.ErrProto) || !strings.Contains(fmt.Sprint(got.err), "HTTP/2") {
		t.Fatalf("err = %v", got.err)
	}
}

func TestUpgradeBadFlags(t *testing.T) {
	errs := make(chan error, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := ws.Upgrade(w, r, ws.NoHTTP)
		errs <- err
	}))
	defer ts.Close()
	if resp := rawUpgrade(t, ts, "GET", "HTTP/1.1"); resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := <-errs; !errors.Is(err, ws.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}
