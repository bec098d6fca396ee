//go:build !amd64 || purego

package ws

import "unsafe"

// maskBlocks XORs n bytes (a positive multiple of 64) of src with key
// repeated into dst; the portable version of mask_amd64.s.
func maskBlocks(dst, src *byte, n int, key uint64) {
	maskBlocksGo(unsafe.Slice(dst, n), unsafe.Slice(src, n), key)
}
