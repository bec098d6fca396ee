package ws

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countListener counts the connections it accepted.
type countListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// h2Env is a net/http server on 127.0.0.1 speaking HTTP/2 (TLS with h2
// by ALPN, or h2c with prior knowledge) and the Config to dial it.
type h2Env struct {
	srv     *httptest.Server
	url     string
	accepts atomic.Int64
	cfg     *Config
	protos  chan string // "HTTP/2.0 CONNECT" per upgrade the handler saw
}

// newH2Env starts the server with handler h (or an echo handler over
// Upgrade with scfg if nil) and closes it at the test's end.
func newH2Env(t testing.TB, secure bool, maxStreams uint32, scfg *Config, h http.HandlerFunc) *h2Env {
	t.Helper()
	e := &h2Env{protos: make(chan string, 4096)}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			c, err := scfg.Upgrade(w, r, Binary)
			if err != nil {
				return
			}
			select {
			case e.protos <- r.Proto + " " + r.Method:
			default:
			}
			echoConn(c)
		}
	}
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.Listener = countListener{e.srv.Listener, &e.accepts}
	e.srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: int(maxStreams), MaxReceiveBufferPerConnection: 64 << 20}
	e.cfg = &Config{HTTP2: true}
	if secure {
		e.srv.EnableHTTP2 = true
		e.srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(e.srv.Certificate())
		e.cfg.TLSConfig = &tls.Config{RootCAs: pool}
		e.url = "wss://" + e.srv.Listener.Addr().String() + "/echo"
	} else {
		e.srv.Config.Protocols = new(http.Protocols)
		e.srv.Config.Protocols.SetHTTP1(true)
		e.srv.Config.Protocols.SetUnencryptedHTTP2(true)
		e.srv.Start()
		e.url = "ws://" + e.srv.Listener.Addr().String() + "/echo"
	}
	t.Cleanup(e.srv.Close)
	return e
}

// echoConn echoes messages until the peer closes, then answers its close.
func echoConn(c *Conn) {
	defer c.Close()
	ctx, buf := context.Background(), make([]byte, 4<<20)
	for {
		n, f, err := c.Recv(ctx, buf)
		var ce CloseError
		if errors.As(err, &ce) {
			c.Detach(ctx, ce.Code, "")
			return
		}
		if err != nil || c.Send(ctx, f, buf[:n]) != nil {
			return
		}
	}
}

func h2ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// roundTrip sends msg and expects it back.
func roundTrip(ctx context.Context, c *Conn, msg []byte) error {
	if err := c.Send(ctx, Binary, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg)+1)
	n, _, err := c.Recv(ctx, buf)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], msg) {
		return fmt.Errorf("echo %q, want %q", buf[:n], msg)
	}
	return nil
}

// TestRFC8441UpgradeDial: our Dial and our Upgrade over HTTP/2, TLS (h2
// by ALPN) and h2c (prior knowledge): the server sees an HTTP/2 CONNECT,
// subprotocol and permessage-deflate are negotiated as over HTTP/1.1,
// messages of every size cross both ways (flow control over 1 MiB), and
// the closing handshake ends the stream.
func TestRFC8441UpgradeDial(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run(fmt.Sprint("tls=", secure), func(t *testing.T) {
			scfg := &Config{Subprotocols: []string{"chat"}, Compression: &CompressionOptions{}}
			e := newH2Env(t, secure, 0, scfg, nil)
			e.cfg.Subprotocols = []string{"other", "chat"}
			e.cfg.Compression = &CompressionOptions{}
			ctx := h2ctx(t, 20*time.Second)
			c, resp, err := e.cfg.Dial(ctx, e.url, Binary)
			if err != nil {
				t.Fatal(err)
			}
			if got := <-e.protos; got != "HTTP/2.0 CONNECT" {
				t.Errorf("server saw %q", got)
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 || c.Subprotocol() != "chat" || c.Extensions() == "" {
				t.Errorf("resp %d %s, subprotocol %q, extensions %q", resp.StatusCode, resp.Proto, c.Subprotocol(), c.Extensions())
			}
			if _, ok := c.Underlying().(*clientStream); !ok {
				t.Errorf("Underlying is %T", c.Underlying())
			}
			for _, n := range []int{0, 1, 125, 70000, 3 << 20} {
				msg := bytes.Repeat([]byte{byte(n)}, n)
				for i := range msg {
					msg[i] = byte(i * 7 / 3)
				}
				if err := roundTrip(ctx, c, msg); err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
			}
			u, err := c.Detach(ctx, StatusNormalClosure, "bye")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := u.(*clientStream); !ok {
				t.Errorf("Detach gave %T", u)
			}
			u.Close()
			if e.accepts.Load() != 1 {
				t.Errorf("%d connections", e.accepts.Load())
			}
		})
	}
}

// TestRFC8441Refusal: a refused HTTP/2 request gets the HTTP/1.1 answer
// (403 for a cross-origin request), which Dial returns with its body.
func TestRFC8441Refusal(t *testing.T) {
	e := newH2Env(t, true, 0, nil, nil)
	e.cfg.Header = http.Header{"Origin": {"https://evil.example"}}
	c, resp, err := e.cfg.Dial(h2ctx(t, 10*time.Second), e.url, Binary)
	if c != nil || !errors.Is(err, ErrProto) {
		t.Fatalf("conn %v, err %v", c, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || resp.ProtoMajor != 2 || !strings.Contains(string(body), "cross-origin") {
		t.Errorf("answer %d %s %q", resp.StatusCode, resp.Proto, body)
	}
}

// TestRFC8441Fallback: Dial with HTTP2 speaks HTTP/1.1 to a TLS server
// that does not choose h2, to an HTTP/1.1-only plain server, and to an
// h2c server that does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL.
func TestRFC8441Fallback(t *testing.T) {
	seen := make(chan string, 8)
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "PRI" { // an HTTP/1.1 server reads the HTTP/2 preface as a request
			seen <- r.Proto
		}
		if c, err := Upgrade(w, r, Binary); err == nil {
			echoConn(c)
		}
	}
	t.Run("tls-http1", func(t *testing.T) {
		s := httptest.NewTLSServer(http.HandlerFunc(h)) // no EnableHTTP2: ALPN picks http/1.1
		defer s.Close()
		pool := x509.NewCertPool()
		pool.AddCert(s.Certificate())
		dialEcho(t, &Config{HTTP2: true, TLSConfig: &tls.Config{RootCAs: pool}}, "wss://"+s.Listener.Addr().String()+"/", seen)
	})
	t.Run("plain-http1", func(t *testing.T) {
		s := httptest.NewServer(http.HandlerFunc(h))
		defer s.Close()
		dialEcho(t, &Config{HTTP2: true}, "ws://"+s.Listener.Addr().String()+"/", seen)
	})
	t.Run("h2-without-xconnect", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &http.Server{Handler: http.HandlerFunc(h)}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); s.Serve(noXConnect{ln, &wg}) }()
		defer func() { s.Close(); wg.Wait() }()
		dialEcho(t, &Config{HTTP2: true}, "ws://"+ln.Addr().String()+"/", seen)
	})
}

// noXConnect answers connections that start with the HTTP/2 preface with
// an HTTP/2 SETTINGS frame that lacks SETTINGS_ENABLE_CONNECT_PROTOCOL,
// and hands the others to net/http.
type noXConnect struct {
	net.Listener
	wg *sync.WaitGroup
}

func (l noXConnect) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, len(h2Preface))
		if _, err := io.ReadFull(c, b); err != nil {
			c.Close()
			continue
		}
		c.SetReadDeadline(time.Time{})
		if string(b) != h2Preface {
			return &prefixConn{Conn: c, buf: b}, nil
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close()
			c.Write(appendSettings(nil, h2Setting{h2SetMaxConcurrentStreams, 100}))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
		}()
	}
}

func dialEcho(t *testing.T, cfg *Config, url string, seen chan string) {
	t.Helper()
	ctx := h2ctx(t, 10*time.Second)
	c, resp, err := cfg.Dial(ctx, url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	if p := <-seen; p != "HTTP/1.1" || resp.ProtoMajor != 1 {
		t.Errorf("server saw %s, response %s", p, resp.Proto)
	}
	if err := roundTrip(ctx, c, []byte("hello")); err != nil {
		t.Error(err)
	}
	u, err := c.Detach(ctx, StatusNormalClosure, "")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

// TestRFC8441DialRawServer: our Dial against a plain net/http h2c
// handler that speaks RFC 8441 and WebSocket framing written here: it
// checks the CONNECT, answers 200 and echoes each (unmasked) frame.
func TestRFC8441DialRawServer(t *testing.T) {
	bad := make(chan string, 1)
	e := newH2Env(t, false, 0, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "CONNECT" || r.Header.Get(":protocol") != "websocket" || r.Header.Get("Sec-Websocket-Version") != "13" {
			bad <- fmt.Sprintf("%s %q", r.Method, r.Header)
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		rc.Flush()
		hdr := make([]byte, 6)
		for {
			if _, err := io.ReadFull(r.Body, hdr); err != nil || hdr[1]&0x80 == 0 || hdr[1]&0x7f > 125 {
				return // masked frames of up to 125 bytes only
			}
			p := make([]byte, hdr[1]&0x7f)
			if _, err := io.ReadFull(r.Body, p); err != nil {
				return
			}
			for i := range p {
				p[i] ^= hdr[2+i%4]
			}
			w.Write(append([]byte{hdr[0], byte(len(p))}, p...))
			rc.Flush()
			if hdr[0]&0x0f == 0x8 {
				return
			}
		}
	})
	ctx := h2ctx(t, 10*time.Second)
	c, _, err := e.cfg.Dial(ctx, e.url, Text)
	if err != nil {
		t.Fatal(err, <-bad)
	}
	for _, m := range []string{"one", "two", strings.Repeat("x", 125)} {
		if err := roundTrip(ctx, c, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.Detach(ctx, StatusNormalClosure, "done")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}
