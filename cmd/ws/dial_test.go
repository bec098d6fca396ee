package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// handshake answers a client's upgrade request on u by hand, so that the
// test can then write any bytes.
func handshake(t *testing.T, u net.Conn) *bufio.Reader {
	br := bufio.NewReader(u)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	accept, err := ws.ResponseKey(req.Header.Get("Sec-WebSocket-Key"))
	if err != nil {
		return nil
	}
	io.WriteString(u, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+accept+"\r\n\r\n")
	return br
}

// attached runs handle on the server side of each connection to a
// loopback server.
func attached(t *testing.T, handle func(ctx context.Context, c *ws.Conn)) string {
	return "ws://" + rawServer(t, func(ctx context.Context, u net.Conn) {
		c, err := ws.AttachServer(ctx, u, ws.Text)
		if err != nil {
			return
		}
		defer c.Close()
		handle(ctx, c)
	}) + "/"
}

func TestDialExitCodes(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "not a websocket server")
	}))
	defer plain.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "ws://" + ln.Addr().String() + "/"
	ln.Close()

	badFrame := "ws://" + rawServer(t, func(ctx context.Context, u net.Conn) {
		if handshake(t, u) != nil {
			u.Write([]byte{0x83, 0x00}) // reserved opcode 3
			io.Copy(io.Discard, u)
		}
	}) + "/"
	dropped := "ws://" + rawServer(t, func(ctx context.Context, u net.Conn) {
		handshake(t, u) // then close the TCP connection: no close frame
	}) + "/"
	deaf := "ws://" + rawServer(t, func(ctx context.Context, u net.Conn) {
		if handshake(t, u) != nil {
			io.Copy(io.Discard, u) // never answers the close
		}
	}) + "/"
	closer := func(code ws.StatusCode, reason string) string {
		return attached(t, func(ctx context.Context, c *ws.Conn) {
			c.Detach(ctx, code, reason)
		})
	}

	cases := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"no URL", "", []string{"dial"}, exitUsage, "ws: dial: want one URL"},
		{"bad flag", "", []string{"dial", "-nope", "ws://x/"}, exitUsage, "ws: dial: flag provided but not defined: -nope"},
		{"bad scheme", "", []string{"dial", "ftp://127.0.0.1/"}, exitUsage, "ws: dial: ftp://127.0.0.1/: the URL scheme must be"},
		{"bad header", "", []string{"dial", "-H", "nocolon", "ws://x/"}, exitUsage, "want 'Name: value'"},
		{"missing cacert", "", []string{"dial", "--cacert", "/nonexistent.pem", "wss://x/"}, exitUsage, "nonexistent.pem"},
		{"unknown command", "", []string{"frobnicate"}, exitUsage, `ws: unknown command "frobnicate"`},
		{"plain HTTP server", "hi\n", []string{"dial", plain.URL}, exitHandshake, "server answered HTTP/1.1 200 OK"},
		{"connection refused", "hi\n", []string{"dial", refused}, exitHandshake, "connection refused"},
		{"protocol error", "", []string{"dial", badFrame, "--linger", "-1s"}, exitProto, "ws: dial: protocol error"},
		{"error close code", "", []string{"dial", closer(ws.StatusInternalError, "boom"), "--linger", "-1s"}, exitProto,
			"closed by the server: 1011 (internal error): boom"},
		{"normal close by the server", "", []string{"dial", closer(ws.StatusNormalClosure, "bye"), "--linger", "-1s"}, exitOK,
			"closed by the server: 1000 (normal closure): bye"},
		{"dropped without close", "", []string{"dial", dropped, "--linger", "-1s"}, exitAbnormal, "connection lost"},
		{"no close within --wait", "x\n", []string{"dial", deaf, "--wait", "200ms"}, exitAbnormal, "no close from the server within --wait 200ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runWS(t, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("code %d stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestDialHeadersAndSubprotocol(t *testing.T) {
	cfg := &ws.Config{Subprotocols: []string{"v2", "v1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cfg.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg := r.Header.Get("X-One") + "|" + strings.Join(r.Header.Values("X-Two"), ",") + "|" + c.Subprotocol()
		c.Send(ctx, ws.Text, []byte(msg))
		c.Detach(ctx, ws.StatusNormalClosure, "")
	}))
	defer srv.Close()
	r := runWS(t, "", "dial", "ws"+strings.TrimPrefix(srv.URL, "http")+"/x", "-H", "X-One: 1", "-H", "X-Two: a", "-H", "X-Two: b",
		"--subprotocol", "v1", "--linger", "-1s")
	if r.code != 0 || r.stdout != "1|a,b|v1\n" {
		t.Fatalf("%+v", r)
	}
}

func TestDialEchoFlag(t *testing.T) {
	// The server sends two messages and expects them back.
	url := attached(t, func(ctx context.Context, c *ws.Conn) {
		c.Send(ctx, ws.Text, []byte("one"))
		c.Send(ctx, ws.Binary, []byte{1, 2})
		buf := make([]byte, 16)
		n1, f1, _ := c.Recv(ctx, buf)
		got := string(buf[:n1]) + "/" + f1.String()
		n2, f2, _ := c.Recv(ctx, buf)
		if got == "one/text" && n2 == 2 && f2 == ws.Binary {
			c.Detach(ctx, ws.StatusNormalClosure, "echoed")
			return
		}
		c.Detach(ctx, ws.StatusPolicyViolation, "not echoed: "+got)
	})
	r := runWS(t, "", "dial", "--echo", "--linger", "-1s", url)
	if r.code != 0 || r.stdout != "one\n<binary 2 bytes: 01 02>\n" || !strings.Contains(r.stderr, "echoed") {
		t.Fatalf("%+v", r)
	}
}

// TestDialHalfClose: after stdin ends, messages the server sends before
// its close are still printed.
func TestDialHalfClose(t *testing.T) {
	url := attached(t, func(ctx context.Context, c *ws.Conn) {
		buf := make([]byte, 64)
		var got []string
		for {
			n, _, err := c.Recv(ctx, buf)
			if err != nil {
				break // our close arrived
			}
			got = append(got, string(buf[:n]))
		}
		for _, m := range got {
			c.Send(ctx, ws.Text, []byte("late "+m))
		}
		c.Detach(ctx, ws.StatusNormalClosure, "")
	})
	r := runWS(t, "a\nb\n", "dial", url)
	if r.code != 0 || r.stdout != "late a\nlate b\n" {
		t.Fatalf("%+v", r)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ws test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	s := serve(t, "--cert", cert, "--key", key)
	if !strings.HasPrefix(s.url, "wss://127.0.0.1:") {
		t.Fatalf("url %q", s.url)
	}
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"cacert", []string{"--cacert", cert}, 0, "secure\n"},
		{"insecure", []string{"--insecure"}, 0, "secure\n"},
		{"unknown authority", nil, exitHandshake, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runWS(t, "secure\n", append([]string{"dial", s.url}, tc.args...)...)
			if r.code != tc.code || r.stdout != tc.out {
				t.Fatalf("%+v", r)
			}
		})
	}
	pem, _ := os.ReadFile(cert)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if page := httpGet(t, client, "https://"+s.addr+"/"); !strings.Contains(page, "ws demo") {
		t.Fatalf("demo page over https: %.100s", page)
	}
	r := runWS(t, "", "bench", "-n", "200", "--cacert", cert, "--json", s.url)
	if r.code != 0 || !strings.Contains(r.stdout, `"messages": 200`) {
		t.Fatalf("bench over wss: %+v", r)
	}
}
