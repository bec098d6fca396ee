package ws

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkSendRecv measures one message client→server and server→client
// over loopback TCP with Mem conns: ns/op, B/op and allocs/op per message.
func BenchmarkSendRecv(b *testing.B) {
	for _, n := range []int{16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20} {
		for _, dir := range []string{"c2s", "s2c"} {
			b.Run(fmt.Sprintf("%s/%d", dir, n), func(b *testing.B) {
				cl, sv := memPair(b)
				from, to := cl, sv
				if dir == "s2c" {
					from, to = sv, cl
				}
				ctx := context.Background()
				msg, buf := pattern(n), make([]byte, n)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for i := 0; i < b.N; i++ {
						if err := from.Send(ctx, Binary, msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, _, err := to.Recv(ctx, buf); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			})
		}
	}
}

// BenchmarkMaskCopy measures client-side masking into the write buffer.
func BenchmarkMaskCopy(b *testing.B) {
	for _, n := range []int{16, 128, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src, dst := pattern(n), make([]byte, n)
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				maskCopy(dst, src, 0x12345678, i&3)
			}
		})
	}
}

// memConn serves a canned byte stream and discards what is written: the
// in-memory stand-in for measuring the parsing cost of a handshake alone.
type memConn struct {
	net.Conn
	in []byte
}

func (m *memConn) Read(p []byte) (int, error) {
	if len(m.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.in)
	m.in = m.in[n:]
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }
func (m *memConn) Close() error                     { return nil }

// BenchmarkAttachServer measures the server handshake of a browser-like
// request (Chromium's fields) without the network: parse, checks, SHA-1,
// the 101 answer.
func BenchmarkAttachServer(b *testing.B) {
	req := []byte("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\nOrigin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
	var st Storage
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := AttachServerMem(context.Background(), &memConn{in: req}, 0, &st); err != nil {
			b.Fatal(err)
		}
	}
}
