// Package micro holds in-memory micro-benchmarks (see micro_test.go): each
// library over a wire.MemConn, so no system call is measured.
package micro

import (
	"errors"
	"fmt"

	"github.com/dillgo/ws/bench/internal/libs"
	"github.com/dillgo/ws/bench/internal/wire"
)

// Sizes are the micro-benchmark message sizes.
var Sizes = []int{16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20}

// Attach upgrades a MemConn as role ("client" or "server"). For "recv"
// the connection then serves endless copies of the encoded payload.
func Attach(l libs.Lib, role string, recvPayload []byte) (libs.Conn, *wire.MemConn, error) {
	m := &wire.MemConn{}
	if !l.Raw {
		if role == "server" {
			m.Pre = wire.Request
		} else {
			m.Serve = true
		}
	}
	if recvPayload != nil {
		m.Loop = wire.Encode(l.Raw, role == "server", recvPayload)
	}
	var c libs.Conn
	var err error
	if role == "server" {
		c, err = l.Server(m, libs.Opts{})
	} else {
		c, err = l.Client(m, libs.Opts{})
	}
	return c, m, err
}

// SendLoop sends p n times.
func SendLoop(c libs.Conn, p []byte, n int) error {
	for i := 0; i < n; i++ {
		if err := c.Send(p); err != nil {
			return err
		}
	}
	return nil
}

// RecvLoop receives n messages of len(want) bytes.
func RecvLoop(c libs.Conn, buf []byte, want int, n int) error {
	if n == 0 {
		return nil
	}
	got := 0
	var bad error
	err := c.Serve(buf, func(msg []byte) bool {
		if len(msg) != want && bad == nil {
			bad = fmt.Errorf("message of %d bytes, want %d", len(msg), want)
		}
		got++
		return got < n
	})
	if got == n {
		err = nil
	}
	return errors.Join(err, bad)
}

// MaskBytewise is the textbook masking loop, a reference point.
func MaskBytewise(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// MaskWord masks eight bytes at a time, a reference word-at-a-time loop.
func MaskWord(p []byte, key [4]byte) {
	k32 := uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24
	k := k32 | k32<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v := uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
			uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
		v ^= k
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}
