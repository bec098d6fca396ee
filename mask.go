package ws

import (
	"encoding/binary"
	"math/bits"
)

// Masking kernels: maskBlocks XORs whole 64-byte blocks with the key,
// with the best kernel this machine has (AVX2, else SSE2 on amd64; the
// portable loop elsewhere or with the purego tag), chosen once at start-up
// (maskKernel, never written after initialisation).
const (
	kernelGo = iota
	kernelSSE2
	kernelAVX2
)

// maskCopy writes src XOR the masking key into dst (RFC 6455 §5.3) and
// returns the key offset for the byte after src. key is the 4-byte key
// loaded little-endian; pos (0–3) is the offset of src[0] in the key. dst
// must be at least as long as src; dst and src may be the same slice, but
// must not overlap otherwise. This is the fused mask-and-copy: one pass
// over the data, whether it is copied out of a buffer or masked in place.
func maskCopy(dst, src []byte, key uint32, pos int) int {
	return maskCopyWith(maskKernel, dst, src, key, pos)
}

// mask masks or unmasks b in place; see maskCopy.
func mask(b []byte, key uint32, pos int) int { return maskCopyWith(maskKernel, b, b, key, pos) }

// maskCopyWith is maskCopy with the given kernel for the 64-byte blocks;
// the rest goes eight bytes at a time.
func maskCopyWith(kernel int, dst, src []byte, key uint32, pos int) int {
	n := len(src)
	if n == 0 {
		return pos
	}
	dst = dst[:n]
	k := bits.RotateLeft32(key, -8*(pos&3))
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	if blocks := n &^ 63; blocks > 0 {
		maskBlocksWith(kernel, &dst[0], &src[0], blocks, k64)
		i = blocks
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	if i+4 <= n {
		binary.LittleEndian.PutUint32(dst[i:], binary.LittleEndian.Uint32(src[i:])^k)
		i += 4
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ byte(k>>(8*(i&3)))
	}
	return (pos + n) & 3
}

// maskBlocksGo is the portable kernel: len(src) is a multiple of 64, dst
// as long.
func maskBlocksGo(dst, src []byte, key uint64) {
	for i := 0; i+32 <= len(src); i += 32 {
		s, d := src[i:i+32], dst[i:i+32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^key)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^key)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^key)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^key)
	}
}
