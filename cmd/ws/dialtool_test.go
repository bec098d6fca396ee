package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// Tests of the ws dial features of issue 11, run as a user runs them.

func TestDialUsageErrorsExit1(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"port out of range", []string{"dial", "ws://127.0.0.1:99999/"}, `invalid port "99999"`},
		{"port zero", []string{"dial", "ws://127.0.0.1:0/"}, `invalid port "0"`},
		{"empty port", []string{"dial", "ws://127.0.0.1:/"}, `invalid port ""`},
		{"no host", []string{"dial", "ws:///x"}, "the URL has no host"},
		{"nohttp bad port", []string{"dial", "--nohttp", "127.0.0.1:70000"}, `invalid port "70000"`},
		{"nohttp no port", []string{"dial", "--nohttp", "127.0.0.1"}, "missing port"},
		{"unix without path", []string{"dial", "unix:"}, "without a socket path"},
		{"bad output", []string{"dial", "--output", "xml", "ws://x/"}, `--output "xml": want text, raw, base64 or jsonl`},
		{"raw with timestamps", []string{"dial", "--output", "raw", "--timestamps", "ws://x/"}, "does not combine"},
		{"negative count", []string{"dial", "--count", "-1", "ws://x/"}, "--count must not be negative"},
		{"cert without key", []string{"dial", "--cert", "c.pem", "wss://x/"}, "--cert and --key go together"},
		{"missing cert file", []string{"dial", "--cert", "/nonexistent.pem", "--key", "/nonexistent.key", "wss://x/"}, "nonexistent.pem"},
		{"bad proxy", []string{"dial", "--proxy", "socks5://127.0.0.1:1080", "ws://x/"}, "want http://HOST:PORT"},
		{"bad duration", []string{"dial", "--ping-interval", "soon", "ws://x/"}, "invalid value"},
		{"serve bad port", []string{"serve", "-addr", "127.0.0.1:99999"}, "invalid port"},
		{"bench bad flag", []string{"bench", "--nope"}, "flag provided but not defined"},
		{"help unknown", []string{"help", "frob"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runWS(t, "", tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("code %d stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tc.stderr)
			}
		})
	}
}

func TestDialVerbose(t *testing.T) {
	s := serve(t, "--subprotocol", "chat")
	r := runWS(t, "hi\n", "dial", "-v", "--compress", "--subprotocol", "chat", s.url)
	for _, want := range []string{
		"> GET / HTTP/1.1\n",
		"> Host: " + s.addr + "\n",
		"> Sec-WebSocket-Protocol: chat\n",
		"> Sec-WebSocket-Extensions: permessage-deflate",
		"< HTTP/1.1 101 Switching Protocols\n",
		"< Sec-WebSocket-Protocol: chat\n",
		"* agreed: subprotocol chat; extensions permessage-deflate",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if r.code != 0 || r.stdout != "hi\n" || t.Failed() {
		t.Fatalf("%+v", r)
	}

	// Over wss:// the heads inside TLS are shown too.
	cert, key := selfSigned(t, t.TempDir())
	tlsSrv := serve(t, "--cert", cert, "--key", key)
	r = runWS(t, "secure\n", "dial", "-v", "--cacert", cert, tlsSrv.url)
	if r.code != 0 || r.stdout != "secure\n" || !strings.Contains(r.stderr, "> GET / HTTP/1.1\n") ||
		!strings.Contains(r.stderr, "< HTTP/1.1 101 Switching Protocols\n") || !strings.Contains(r.stderr, "* agreed: subprotocol none; extensions none") {
		t.Fatalf("wss: %+v", r)
	}

	// A refusal's head is shown with its control characters escaped.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Evil", "a\x1b[2Jb")
		http.Error(w, "go away", http.StatusForbidden)
	}))
	defer plain.Close()
	r = runWS(t, "", "dial", "-v", plain.URL)
	if r.code != exitHandshake || !strings.Contains(r.stderr, "< HTTP/1.1 403 Forbidden\n") || strings.Contains(r.stderr, "\x1b") {
		t.Fatalf("refused: %+v", r)
	}
}

// pusher is a server that sends msgs, then waits for the client's close
// and answers it.
func pusher(t *testing.T, msgs ...message) string {
	return attached(t, func(ctx context.Context, c *ws.Conn) {
		for _, m := range msgs {
			if c.Send(ctx, m.f, m.p) != nil {
				return
			}
		}
		buf := make([]byte, 1<<10)
		for {
			if _, _, err := c.Recv(ctx, buf); err != nil {
				var ce ws.CloseError
				if errors.As(err, &ce) {
					c.Detach(ctx, ce.Code, "")
				}
				return
			}
		}
	})
}

func TestDialCount(t *testing.T) {
	url := pusher(t, message{ws.Text, []byte("one")}, message{ws.Text, []byte("two")}, message{ws.Text, []byte("three")})
	// stdin stays open (--linger -1s): --count alone ends the session.
	r := runWS(t, "", "dial", "--count", "2", "--linger", "-1s", url)
	if r.code != 0 || r.stdout != "one\ntwo\n" {
		t.Fatalf("%+v", r)
	}
}

func TestDialOutputModes(t *testing.T) {
	bin := []byte{0, 1, 0xfe, 0xff}
	url := pusher(t, message{ws.Text, []byte("héllo \x1b[2J")}, message{ws.Binary, bin})
	b64 := base64.StdEncoding.EncodeToString(bin)
	cases := []struct {
		mode string
		want string
	}{
		{"text", "héllo \x1b[2J\n<binary 4 bytes: 00 01 fe ff>\n"},
		{"raw", "héllo \x1b[2J\x00\x01\xfe\xff"},
		{"base64", base64.StdEncoding.EncodeToString([]byte("héllo \x1b[2J")) + "\n" + b64 + "\n"},
		{"jsonl", `{"type":"text","data":"héllo \u001b[2J"}` + "\n" + `{"type":"binary","data":"` + b64 + `"}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			r := runWS(t, "", "dial", "--output", tc.mode, "--count", "2", "--linger", "-1s", url)
			if r.code != 0 || r.stdout != tc.want {
				t.Fatalf("code %d stdout %q; want %q; stderr %q", r.code, r.stdout, tc.want, r.stderr)
			}
		})
	}
	t.Run("timestamps", func(t *testing.T) {
		r := runWS(t, "", "dial", "--output", "jsonl", "--timestamps", "--count", "2", "--linger", "-1s", url)
		re := regexp.MustCompile(`^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)","type":"text",`)
		if r.code != 0 || !re.MatchString(r.stdout) {
			t.Fatalf("%+v", r)
		}
		r = runWS(t, "", "dial", "--timestamps", "--count", "1", "--linger", "-1s", url)
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[0-9:.]+\S* héllo`).MatchString(r.stdout) {
			t.Fatalf("%+v", r)
		}
	})
}

func TestDialUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			u, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c, err := ws.AttachServer(ctx, u, ws.Text)
				if err != nil {
					return
				}
				defer c.Close()
				echo(ctx, c, nil)
			}()
		}
	}()
	r := runWS(t, "over unix\n", "dial", "-v", "unix:"+path)
	if r.code != 0 || r.stdout != "over unix\n" || !strings.Contains(r.stderr, "> Host: localhost\n") {
		t.Fatalf("%+v", r)
	}
}

func TestDialClientCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Send(ctx, ws.Text, []byte("client "+r.TLS.PeerCertificates[0].Subject.CommonName))
		c.Detach(ctx, ws.StatusNormalClosure, "")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	r := runWS(t, "", "dial", "--cacert", cert, "--cert", cert, "--key", key, "--linger", "-1s", url)
	if r.code != 0 || r.stdout != "client ws test\n" {
		t.Fatalf("with a certificate: %+v", r)
	}
	r = runWS(t, "", "dial", "--cacert", cert, "--linger", "-1s", url)
	if r.code != exitHandshake {
		t.Fatalf("without a certificate: %+v", r)
	}
}

// connectProxy is an HTTP proxy that only tunnels (CONNECT); it counts
// the tunnels it opened.
func connectProxy(t *testing.T) (string, *atomic.Int32) {
	var n atomic.Int32
	addr := rawServer(t, func(ctx context.Context, u net.Conn) {
		br := bufio.NewReader(u)
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != http.MethodConnect {
			io.WriteString(u, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
			return
		}
		up, err := net.Dial("tcp", req.Host)
		if err != nil {
			io.WriteString(u, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
			return
		}
		defer up.Close()
		n.Add(1)
		io.WriteString(u, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
		io.Copy(u, up)
	})
	return "http://" + addr, &n
}

func TestDialProxy(t *testing.T) {
	s := serve(t)
	proxy, tunnels := connectProxy(t)
	r := runWS(t, "via proxy\n", "dial", "-v", "--proxy", proxy, s.url)
	if r.code != 0 || r.stdout != "via proxy\n" || tunnels.Load() != 1 ||
		!strings.Contains(r.stderr, "> CONNECT "+s.addr+" HTTP/1.1\n") ||
		!strings.Contains(r.stderr, "< HTTP/1.1 200 Connection established\n") ||
		!strings.Contains(r.stderr, "< HTTP/1.1 101 Switching Protocols\n") {
		t.Fatalf("tunnels %d; %+v", tunnels.Load(), r)
	}
}

func TestDialPingInterval(t *testing.T) {
	s := serve(t)
	p := start(t, "dial", "--ping-interval", "50ms", s.url)
	p.errOut.waitFor(t, "rtt ", 2)
	p.stdin.Close()
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.errOut)
	}
}

func TestDialReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	first := serve(t, "-addr", addr)
	p := start(t, "dial", "--reconnect", first.url)
	p.send("one")
	if got := p.line(); got != "one" {
		t.Fatalf("got %q", got)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	p.errOut.waitFor(t, "closed by the server: 1001 (going away)", 1)
	p.errOut.waitFor(t, "reconnecting in", 1)
	serve(t, "-addr", addr)
	// Lines sent while disconnected are sent once connected again.
	p.send("two")
	if got := p.line(); got != "two" {
		t.Fatalf("after the restart got %q; stderr:\n%s", got, p.errOut)
	}
	p.stdin.Close()
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.errOut)
	}
	if strings.Contains(p.errOut.String(), fmt.Sprintf("reconnecting in %v", reconnectMax)) {
		t.Logf("backoff reached its maximum:\n%s", p.errOut)
	}
}
