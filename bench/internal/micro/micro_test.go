package micro

import (
	"fmt"
	"net"
	"testing"

	dws "github.com/dillgo/ws"
	"github.com/gobwas/ws"

	"github.com/dillgo/ws/bench/internal/libs"
	_ "github.com/dillgo/ws/bench/internal/libs/all"
	"github.com/dillgo/ws/bench/internal/wire"
)

func name(b ...any) string {
	s := ""
	for i, x := range b {
		if i > 0 {
			s += "/"
		}
		s += fmt.Sprint(x)
	}
	return s
}

// TestMicroHarness runs every micro-benchmark body a few times, so that
// `go test ./...` proves they work; no timing is asserted.
func TestMicroHarness(t *testing.T) {
	for _, l := range libs.All() {
		for _, role := range []string{"client", "server"} {
			for _, size := range []int{16, 70000} {
				p := wire.Payload(size)
				c, _, err := Attach(l, role, nil)
				if err != nil {
					t.Fatalf("%s %s attach: %v", l.Name, role, err)
				}
				if err := SendLoop(c, p, 3); err != nil {
					t.Errorf("%s %s send: %v", l.Name, role, err)
				}
				c.Close()
				c, _, err = Attach(l, role, p)
				if err != nil {
					t.Fatalf("%s %s attach: %v", l.Name, role, err)
				}
				if err := RecvLoop(c, make([]byte, size), size, 3); err != nil {
					t.Errorf("%s %s %d recv: %v", l.Name, role, size, err)
				}
				c.Close()
			}
		}
	}
	p := wire.Payload(100)
	q := append([]byte(nil), p...)
	MaskWord(q, wire.Mask)
	MaskBytewise(q, wire.Mask)
	for i := range p {
		if p[i] != q[i] {
			t.Fatal("mask reference loops disagree")
		}
	}
}

func BenchmarkSend(b *testing.B) {
	for _, l := range libs.All() {
		for _, role := range []string{"client", "server"} {
			for _, size := range Sizes {
				b.Run(name(l.Name, role, size), func(b *testing.B) {
					p := wire.Payload(size)
					c, _, err := Attach(l, role, nil)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					if err := SendLoop(c, p, b.N); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

func BenchmarkRecv(b *testing.B) {
	for _, l := range libs.All() {
		for _, role := range []string{"client", "server"} {
			for _, size := range Sizes {
				b.Run(name(l.Name, role, size), func(b *testing.B) {
					p := wire.Payload(size)
					c, _, err := Attach(l, role, p)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					buf := make([]byte, size)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					if err := RecvLoop(c, buf, size, b.N); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

func BenchmarkHandshake(b *testing.B) {
	for _, l := range libs.All() {
		if l.Raw {
			continue
		}
		for _, role := range []string{"server", "client"} {
			b.Run(name(l.Name, role), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					c, _, err := Attach(l, role, nil)
					if err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
			})
		}
	}
}

// BenchmarkHandshakeWS measures ws's other server handshakes over the same
// MemConn as BenchmarkHandshake: "accept" is AttachServer without Storage
// (the loopback handshake benchmark's ws), "upgrade" is ws.Upgrade on a
// request read by libs.ReadRequest, the shim gorilla and coder get.
func BenchmarkHandshakeWS(b *testing.B) {
	l, err := libs.Get("ws")
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		fn   func(net.Conn, libs.Opts) (libs.Conn, error)
	}{{"accept", l.AcceptFunc()}, {"upgrade", upgradeServer}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := &wire.MemConn{Pre: wire.Request}
				c, err := v.fn(m, libs.Opts{})
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// upgradeServer is ws's server side through net/http's Upgrade.
func upgradeServer(u net.Conn, _ libs.Opts) (libs.Conn, error) {
	w, r, err := libs.ReadRequest(u)
	if err != nil {
		return nil, err
	}
	c, err := dws.Upgrade(w, r, dws.Binary)
	if err != nil {
		return nil, err
	}
	return closer{c}, nil
}

type closer struct{ c *dws.Conn }

func (c closer) Send([]byte) error                     { return nil }
func (c closer) Serve([]byte, func([]byte) bool) error { return nil }
func (c closer) Close() error                          { return c.c.Close() }

func BenchmarkMask(b *testing.B) {
	impls := []struct {
		name string
		fn   func([]byte, [4]byte)
	}{
		{"gobwas-Cipher", func(p []byte, k [4]byte) { ws.Cipher(p, k, 0) }},
		{"ref-word", MaskWord},
		{"ref-bytewise", MaskBytewise},
	}
	for _, im := range impls {
		for _, size := range Sizes {
			b.Run(name(im.name, size), func(b *testing.B) {
				p := wire.Payload(size)
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					im.fn(p, wire.Mask)
				}
			})
		}
	}
}
