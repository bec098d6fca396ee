package ws

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"unsafe"
)

// loopbackConn is a memConn that came in on 127.0.0.1, without
// allocating for its address.
type loopbackConn struct{ memConn }

var loopback8080 net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

func (*loopbackConn) LocalAddr() net.Addr { return loopback8080 }

// TestHandshakeAllocs: the server handshake of a browser-like request
// allocates only what the connection keeps: with permessage-deflate its
// parameters and codec; the string for the resource and host is shared
// with the previous connection's when they are the same (keptMeta), and
// one allocation when they differ ("unique"); the headers it does not
// keep cost nothing (the Conn comes from Storage). An extension response
// beyond the bare name is one more string.
func TestHandshakeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet run")
	}
	head := "GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\nOrigin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n"
	for _, tc := range []struct {
		name  string
		req   []byte
		cfg   *Config
		want  float64
		proto string
	}{
		{"plain", []byte(head + "\r\n"), &Config{}, 0, ""},
		{"unique", []byte(head + "\r\n"), &Config{}, 1, ""},
		{"subprotocol", []byte(head + "\r\n"), &Config{Subprotocols: []string{"chat"}}, 0, "chat"},
		{"deflate", []byte(head + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"),
			&Config{Subprotocols: []string{"chat"}, Compression: &CompressionOptions{}}, 2, "chat"},
		{"deflate offers", []byte(head + "Sec-WebSocket-Extensions: x-foo, permessage-deflate; server_max_window_bits=20\r\n" +
			"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits=12\r\n\r\n"),
			&Config{Compression: &CompressionOptions{}}, 3, ""}, // and the response kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st Storage
			conn := &loopbackConn{}
			ctx := context.Background()
			room := bytes.IndexByte(tc.req, '1') // the digit of /chat?room=1
			req := bytes.Clone(tc.req)
			seq := 0
			allocs := testing.AllocsPerRun(100, func() {
				if tc.name == "unique" {
					seq++
					req[room] = byte('0' + seq%10) // a resource unlike the previous one's
				}
				conn.in = req
				c, err := tc.cfg.AttachServerMem(ctx, conn, 0, &st)
				if err != nil {
					t.Fatal(err)
				}
				if c.Subprotocol() != tc.proto || (tc.cfg.Compression != nil) != (c.Extensions() != "") {
					t.Fatalf("subprotocol %q, extensions %q", c.Subprotocol(), c.Extensions())
				}
			})
			if allocs != tc.want {
				t.Fatalf("%v allocations per handshake, want %v", allocs, tc.want)
			}
		})
	}
}

// TestLoopbackHostIPv4: the allocation-free IPv4 parse of loopbackHost
// agrees with netip.ParseAddr.
func TestLoopbackHostIPv4(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.255.255.255", "127.0.0.01", "127.0.0", "127.0.0.1.1", "127..0.1",
		"0.0.0.0", "128.0.0.1", "127.0.0.256", "1.2.3.4", "127.0.0.1%lo", "0127.0.0.1", ".127.0.0.1", "127.0.0.1.",
		"127.0.0.+1", "127.000.0.1", "localhost", "", "::1", "7f00:1::"} {
		checkLoopbackIPv4(t, []byte(s))
	}
}

func FuzzLoopbackHostIPv4(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.0.0.01", "10.0.0.1", "127.1", "255.255.255.255"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkLoopbackIPv4)
}

// checkLoopbackIPv4 compares parseIPv4 with netip.ParseAddr on s.
func checkLoopbackIPv4(t *testing.T, s []byte) {
	if bytes.ContainsAny(s, "[]:") {
		return // not a host name without port
	}
	a, err := netip.ParseAddr(string(s))
	want := err == nil && a.Zone() == "" && a.Is4() && a.IsLoopback()
	first, ok := parseIPv4(s)
	if got := ok && first == 127; got != want {
		t.Fatalf("%q: loopback %v, netip says %v", s, got, want)
	}
	if ok != (err == nil && a.Is4()) {
		t.Fatalf("%q: parsed %v, netip %v", s, ok, err)
	}
	if ok && int(a.As4()[0]) != first {
		t.Fatalf("%q: first byte %d, netip %d", s, first, a.As4()[0])
	}
}

// TestKeptMeta: keptMeta's string is target then host, whatever was
// shared before; the same pair as the shared one gets the shared string.
func TestKeptMeta(t *testing.T) {
	pairs := [][2]string{{"/a", "h:1"}, {"/a", "h:1"}, {"/a", "h:2"}, {"/a", "h:1"}, {"/ah", ":1"}, {"", ""}, {"/a?x", "h"}}
	for round := range 40 {
		for _, p := range pairs {
			s := keptMeta([]byte(p[0]), []byte(p[1]))
			if s != p[0]+p[1] {
				t.Fatalf("round %d: keptMeta(%q, %q) = %q", round, p[0], p[1], s)
			}
		}
	}
	lastMeta.Store(nil)
	a := keptMeta([]byte("/chat"), []byte("example.com"))
	b := keptMeta([]byte("/chat"), []byte("example.com"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("the same resource and host: not shared")
	}
}
