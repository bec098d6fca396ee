package ws

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const upgradeReq = "GET /r HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// TestAttachServerSocket_RFC6455_4_2 drives AttachServer over a real socket
// with raw requests: refusals get their HTTP answer before the conn is
// closed; a request written a byte at a time, with a frame in its last
// write, is upgraded and the frame kept.
func TestAttachServerSocket_RFC6455_4_2(t *testing.T) {
	refusals := []struct {
		name, req string
		status    int
		header    string
	}{
		{"version 8", strings.Replace(upgradeReq, "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version"},
		{"POST", strings.Replace(upgradeReq, "GET", "POST", 1), 405, "Allow"},
		{"HTTP/1.0", strings.Replace(upgradeReq, "HTTP/1.1", "HTTP/1.0", 1), 400, ""},
		{"bad key", strings.Replace(upgradeReq, "dGhlIHNhbXBsZSBub25jZQ==", "short", 1), 400, ""},
		{"head over MaxHeaderBytes", strings.Replace(upgradeReq, "Host: localhost\r\n", "Host: localhost\r\nX: "+strings.Repeat("x", 70000)+"\r\n", 1), 431, ""},
		{"cross origin", strings.Replace(upgradeReq, "Host: localhost\r\n", "Host: localhost\r\nOrigin: http://evil.example\r\n", 1), 403, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tcpPair(t)
			errc := make(chan error, 1)
			go func() { _, err := AttachServer(withTimeout(t, 10*time.Second), a, 0); errc <- err }()
			go b.Write([]byte(tt.req))
			resp, err := http.ReadResponse(bufio.NewReader(b), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || tt.header != "" && resp.Header.Get(tt.header) == "" {
				t.Fatalf("status %d %v", resp.StatusCode, resp.Header)
			}
			errIs(t, <-errc, ErrProto)
			if _, err := a.Write([]byte("x")); err == nil {
				t.Fatal("conn not closed after a refusal")
			}
		})
	}

	a, b := tcpPair(t)
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := AttachServer(withTimeout(t, 10*time.Second), a, 0); ch <- res{c, err} }()
	whole := append([]byte(upgradeReq), frame(true, true, 0, opText, []byte("pipelined"))...)
	for i := 0; i < len(upgradeReq)-1; i++ {
		b.Write(whole[i : i+1])
	}
	b.Write(whole[len(upgradeReq)-1:])
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.c.Resource() != "/r" || r.c.Host() != "localhost" {
		t.Fatal(r.c.Resource(), r.c.Host())
	}
	buf := make([]byte, 16)
	n, _, err := r.c.Recv(context.Background(), buf)
	if err != nil || string(buf[:n]) != "pipelined" {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatal(resp, err)
	}
}

// TestAttachClientRefused: a non-101 answer is ErrProto naming the status.
func TestAttachClientRefused_RFC6455_4_1(t *testing.T) {
	a, b := tcpPair(t)
	go func() {
		bufio.NewReader(b).ReadString('\n')
		b.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
	}()
	_, err := AttachClient(withTimeout(t, 10*time.Second), a, 0, "/", "h")
	errIs(t, err, ErrProto)
	if !strings.Contains(err.Error(), "403") {
		t.Fatal(err)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("refusal reported as a timeout")
	}
}
