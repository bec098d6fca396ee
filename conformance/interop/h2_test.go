package interop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws"
	"github.com/dillgo/ws/conformance/suite"
	"golang.org/x/net/http2"
)

// TestMain runs the tests in a process with GODEBUG=http2xconnect=1, the
// switch net/http's HTTP/2 server needs to accept WebSockets (RFC 8441).
func TestMain(m *testing.M) {
	if code, done := suite.ReexecXConnect(); done {
		os.Exit(code)
	}
	code := m.Run()
	writeInteropReport()
	os.Exit(code)
}

// h2Stream is the client side of an extended CONNECT stream of x/net's
// Transport as a net.Conn: the request body to write, the response body
// to read.
type h2Stream struct {
	w io.WriteCloser
	r io.ReadCloser
}

func (s *h2Stream) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *h2Stream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *h2Stream) Close() error                { s.w.Close(); return s.r.Close() }
func (s *h2Stream) LocalAddr() net.Addr         { return &net.TCPAddr{} }
func (s *h2Stream) RemoteAddr() net.Addr        { return &net.TCPAddr{} }
func (s *h2Stream) SetDeadline(time.Time) error { return nil }
func (s *h2Stream) SetReadDeadline(time.Time) error {
	return nil
}
func (s *h2Stream) SetWriteDeadline(time.Time) error { return nil }

// TestH2XNetTransportClient: golang.org/x/net/http2.Transport opens
// WebSockets over RFC 8441 to ws.Upgrade behind net/http (TLS with h2):
// the handler sees an HTTP/2 CONNECT with :protocol websocket, the
// subprotocol is chosen as over HTTP/1.1, messages echo (framing on the
// client side by ws with NoHTTP), and a cross-origin request gets 403.
func TestH2XNetTransportClient(t *testing.T) {
	reportRow(t, "golang.org/x/net/http2 Transport", "client of Upgrade behind net/http: subprotocol, echo, 403 across origins", "HTTP/2 (TLS, RFC 8441)")
	seen := make(chan string, 4)
	cfg := &ws.Config{Subprotocols: []string{"chat"}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cfg.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		seen <- r.Proto + " " + r.Method + " " + r.Header.Get(":protocol")
		defer c.Close()
		ctx, buf := context.Background(), make([]byte, 1<<17)
		for {
			n, f, err := c.Recv(ctx, buf)
			var ce ws.CloseError
			if errors.As(err, &ce) {
				c.Detach(ctx, ce.Code, "")
				return
			}
			if err == nil {
				err = c.Send(ctx, f, buf[:n])
			}
			if err != nil {
				t.Logf("server: %v", err)
				return
			}
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	open := func(origin string) (*http.Response, *io.PipeWriter, error) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, srv.URL+"/chat", pr)
		req.Header.Set(":protocol", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Protocol", "x, chat")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := tr.RoundTrip(req)
		return resp, pw, err
	}
	resp, pw, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Sec-WebSocket-Protocol") != "chat" {
		t.Fatalf("answer %d, subprotocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	if got := <-seen; got != "HTTP/2.0 CONNECT websocket" {
		t.Errorf("server saw %q", got)
	}
	c, err := ws.AttachClient(ctx, &h2Stream{pw, resp.Body}, ws.Text|ws.NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"hello", strings.Repeat("é", 40000)} {
		if err := c.Send(ctx, ws.Text, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<17)
		n, _, err := c.Recv(ctx, buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("echo %d bytes, %v", n, err)
		}
	}
	refused, pw2, err := open("https://evil.example")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(refused.Body)
	pw2.Close()
	if refused.StatusCode != 403 || !strings.Contains(string(body), "cross-origin") {
		t.Errorf("cross-origin answer %d %q", refused.StatusCode, body)
	}
	u, err := c.Detach(ctx, ws.StatusNormalClosure, "")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}
