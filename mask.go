package ws

import (
	"encoding/binary"
	"math/bits"
)

// maskCopy writes src XOR the masking key into dst (RFC 6455 §5.3) and
// returns the key offset for the byte after src. key is the 4-byte key
// loaded little-endian; pos (0–3) is the offset of src[0] in the key. dst
// must be at least as long as src; dst and src may be the same slice.
// Blocks of 64 bytes go through maskBlocks (SSE2 on amd64), the rest
// eight bytes at a time.
func maskCopy(dst, src []byte, key uint32, pos int) int {
	n := len(src)
	if n == 0 {
		return pos
	}
	dst = dst[:n]
	k := bits.RotateLeft32(key, -8*(pos&3))
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	if blocks := n &^ 63; blocks > 0 {
		maskBlocks(&dst[0], &src[0], blocks, k64)
		i = blocks
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ byte(k>>(8*(i&3)))
	}
	return (pos + n) & 3
}

// maskBlocksGo is the portable kernel of maskBlocks: len(src) is a
// multiple of 64, dst as long.
func maskBlocksGo(dst, src []byte, key uint64) {
	for i := 0; i+32 <= len(src); i += 32 {
		s, d := src[i:i+32], dst[i:i+32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^key)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^key)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^key)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^key)
	}
}

// mask masks or unmasks b in place; see maskCopy.
func mask(b []byte, key uint32, pos int) int { return maskCopy(b, b, key, pos) }
