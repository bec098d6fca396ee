//go:build amd64 && !purego

package ws

// maskBlocks XORs n bytes (a positive multiple of 64) of src with key
// repeated into dst, in assembly (mask_amd64.s).
//
//go:noescape
func maskBlocks(dst, src *byte, n int, key uint64)
