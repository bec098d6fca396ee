package micro

import (
	"encoding/binary"
	"fmt"
	"testing"
	_ "unsafe" // go:linkname

	"github.com/gobwas/ws"

	_ "github.com/dillgo/ws" // wsMaskCopy's body
	"github.com/dillgo/ws/bench/internal/wire"
)

// wsMaskCopy is ws's masking (the kernel it chose at start-up), reached
// past the API for this comparison only: ws exports no masking function.
//
//go:linkname wsMaskCopy github.com/dillgo/ws.maskCopy
func wsMaskCopy(dst, src []byte, key uint32, pos int) int

// TestMaskMatchesGobwas: ws's masking and gobwas' ws.Cipher agree, so
// BenchmarkMaskVsMemcpy compares equal work.
func TestMaskMatchesGobwas(t *testing.T) {
	key := binary.LittleEndian.Uint32(wire.Mask[:])
	for _, n := range []int{0, 1, 15, 16, 63, 64, 129, 1000, 70000} {
		for pos := 0; pos < 4; pos++ {
			p := wire.Payload(n)
			a, b := make([]byte, n), append([]byte(nil), p...)
			wsMaskCopy(a, p, key, pos)
			ws.Cipher(b, wire.Mask, pos)
			if string(a) != string(b) {
				t.Fatalf("n=%d pos=%d: ws and gobwas disagree", n, pos)
			}
		}
	}
}

// BenchmarkMaskVsMemcpy measures, in one run, copy() (memcpy), ws masking
// in place and copying (the fused mask-and-copy out of a read buffer),
// and gobwas' ws.Cipher (in place, its only form), at each size. Compare
// MB/s: the targets are ws >= 0.9x memcpy at 64 KiB and ws >= gobwas at
// every size.
func BenchmarkMaskVsMemcpy(b *testing.B) {
	key := binary.LittleEndian.Uint32(wire.Mask[:])
	for _, n := range []int{16, 64, 128, 1 << 10, 4 << 10, 16 << 10, 64 << 10} {
		src, dst := wire.Payload(n), make([]byte, n)
		b.Run(fmt.Sprintf("%d/memcpy", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				copy(dst, src)
			}
		})
		b.Run(fmt.Sprintf("%d/ws-inplace", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				wsMaskCopy(dst, dst, key, i&3)
			}
		})
		b.Run(fmt.Sprintf("%d/ws-copy", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				wsMaskCopy(dst, src, key, i&3)
			}
		})
		b.Run(fmt.Sprintf("%d/gobwas-Cipher", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				ws.Cipher(dst, wire.Mask, i&3)
			}
		})
	}
}
