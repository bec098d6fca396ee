//go:build amd64 && !purego

#include "textflag.h"

// func maskSSE2(dst, src *byte, n int, key uint64)
// XORs n bytes (a positive multiple of 64) of src with the 8-byte key
// repeated, into dst, 64 bytes per iteration with SSE2 (baseline on amd64).
TEXT ·maskSSE2(SB), NOSPLIT, $0-32
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

// func maskAVX2(dst, src *byte, n int, key uint64)
// maskSSE2 with AVX2: 256 bytes per iteration, then 128 and 64 bytes as
// what is left requires. BX indexes both src and dst.
TEXT ·maskAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ key+24(FP), AX
	MOVQ AX, X0
	VPBROADCASTQ X0, Y0
	XORQ BX, BX
	MOVQ CX, DX
	ANDQ $~255, DX
	JZ   tail128

loop256:
	VPXOR   0(SI)(BX*1), Y0, Y1
	VPXOR   32(SI)(BX*1), Y0, Y2
	VPXOR   64(SI)(BX*1), Y0, Y3
	VPXOR   96(SI)(BX*1), Y0, Y4
	VPXOR   128(SI)(BX*1), Y0, Y5
	VPXOR   160(SI)(BX*1), Y0, Y6
	VPXOR   192(SI)(BX*1), Y0, Y7
	VPXOR   224(SI)(BX*1), Y0, Y8
	VMOVDQU Y1, 0(DI)(BX*1)
	VMOVDQU Y2, 32(DI)(BX*1)
	VMOVDQU Y3, 64(DI)(BX*1)
	VMOVDQU Y4, 96(DI)(BX*1)
	VMOVDQU Y5, 128(DI)(BX*1)
	VMOVDQU Y6, 160(DI)(BX*1)
	VMOVDQU Y7, 192(DI)(BX*1)
	VMOVDQU Y8, 224(DI)(BX*1)
	ADDQ    $256, BX
	CMPQ    BX, DX
	JB      loop256

tail128:
	TESTQ   $128, CX
	JZ      tail64
	VPXOR   0(SI)(BX*1), Y0, Y1
	VPXOR   32(SI)(BX*1), Y0, Y2
	VPXOR   64(SI)(BX*1), Y0, Y3
	VPXOR   96(SI)(BX*1), Y0, Y4
	VMOVDQU Y1, 0(DI)(BX*1)
	VMOVDQU Y2, 32(DI)(BX*1)
	VMOVDQU Y3, 64(DI)(BX*1)
	VMOVDQU Y4, 96(DI)(BX*1)
	ADDQ    $128, BX

tail64:
	TESTQ   $64, CX
	JZ      done
	VPXOR   0(SI)(BX*1), Y0, Y1
	VPXOR   32(SI)(BX*1), Y0, Y2
	VMOVDQU Y1, 0(DI)(BX*1)
	VMOVDQU Y2, 32(DI)(BX*1)

done:
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() uint32
TEXT ·xgetbv(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, ret+0(FP)
	RET
