package ws_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/dillgo/ws"
)

// TestClientHandshakeShared: Dial and AttachClient run one client
// handshake, so that for every answer of a server they agree: the same
// error kind and text (after the operation's name), or both a working
// connection. Before Dial had its own copy, a redirect was named (with its
// Location) by Dial only.
func TestClientHandshakeShared(t *testing.T) {
	cfg := &ws.Config{Subprotocols: []string{"chat"}}
	for _, tc := range []struct {
		name   string
		answer func(r *http.Request) string
		kind   error  // nil: the handshake succeeds
		errHas string // in the error text
	}{
		{"redirect", func(*http.Request) string {
			return "HTTP/1.1 302 Found\r\nLocation: /elsewhere?x=1\r\nContent-Length: 0\r\n\r\n"
		}, ws.ErrProto, `server answered 302 Found, redirecting to "/elsewhere?x=1"; redirects are not followed`},
		{"refused", func(*http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n"
		}, ws.ErrProto, "server answered 403 Forbidden"},
		{"3xx without Location", func(*http.Request) string {
			return "HTTP/1.1 304 Not Modified\r\n\r\n"
		}, ws.ErrProto, "server answered 304 Not Modified"},
		{"wrong accept", func(*http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
		}, ws.ErrProto, "wrong Sec-WebSocket-Accept"},
		{"unoffered subprotocol", func(r *http.Request) string {
			return accept(r) + "Sec-WebSocket-Protocol: evil\r\n\r\n"
		}, ws.ErrProto, "not offered"},
		{"unoffered extension", func(r *http.Request) string {
			return accept(r) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
		}, ws.ErrProto, ""},
		{"cut answer", func(*http.Request) string { return "HTTP/1.1 101 Swi" }, ws.ErrConnReset, ""},
		{"subprotocol and an early frame", func(r *http.Request) string {
			return accept(r) + "Sec-WebSocket-Protocol: chat\r\n\r\n\x81\x05early"
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve := func(r *http.Request, u net.Conn) {
				io.WriteString(u, tc.answer(r))
				if tc.kind == nil {
					io.Copy(io.Discard, u)
				}
			}
			ctx := hsCtx(t)
			url := rawServer(t, serve)
			dc, _, derr := cfg.Dial(ctx, url, 0)

			addr := strings.TrimSuffix(strings.TrimPrefix(rawServer(t, serve), "ws://"), "/")
			u, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			ac, aerr := cfg.AttachClient(ctx, u, 0, "/", addr)

			dtext := strings.TrimPrefix(errText(derr), "ws: dial: ")
			atext := strings.TrimPrefix(errText(aerr), "ws: attachclient: ")
			if dtext != atext {
				t.Errorf("Dial and AttachClient disagree:\n  dial:         %v\n  attachclient: %v", derr, aerr)
			}
			for _, r := range []struct {
				name string
				c    *ws.Conn
				err  error
			}{{"Dial", dc, derr}, {"AttachClient", ac, aerr}} {
				if tc.kind == nil {
					if r.err != nil {
						t.Fatalf("%s: %v", r.name, r.err)
					}
					buf := make([]byte, 16)
					n, fl, err := r.c.Recv(ctx, buf)
					if err != nil || fl != ws.Text || string(buf[:n]) != "early" || r.c.Subprotocol() != "chat" {
						t.Fatalf("%s: recv %q %v %v, subprotocol %q", r.name, buf[:n], fl, err, r.c.Subprotocol())
					}
					r.c.Close()
					continue
				}
				if r.c != nil || !errors.Is(r.err, tc.kind) || !strings.Contains(errText(r.err), tc.errHas) {
					t.Errorf("%s: %v; want %v mentioning %q", r.name, r.err, tc.kind, tc.errHas)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
