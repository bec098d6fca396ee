//go:build amd64 && !purego

#include "textflag.h"

// func maskBlocks(dst, src *byte, n int, key uint64)
// XORs n bytes (a positive multiple of 64) of src with the 8-byte key
// repeated, into dst, 64 bytes per iteration with SSE2 (baseline on amd64).
TEXT ·maskBlocks(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ key+24(FP), AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0

loop:
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ  $64, SI
	ADDQ  $64, DI
	SUBQ  $64, CX
	JNZ   loop
	RET
