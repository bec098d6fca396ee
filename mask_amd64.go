//go:build amd64 && !purego

package ws

import "unsafe"

// maskKernel is the kernel maskCopy uses: AVX2 where the CPU and the
// operating system support it, SSE2 (baseline on amd64) otherwise.
var maskKernel = pickMaskKernel()

// maskKernels lists the kernels this machine can run, for the tests.
var maskKernels = availableKernels()

func pickMaskKernel() int {
	if hasAVX2() {
		return kernelAVX2
	}
	return kernelSSE2
}

func availableKernels() []int {
	if hasAVX2() {
		return []int{kernelGo, kernelSSE2, kernelAVX2}
	}
	return []int{kernelGo, kernelSSE2}
}

// hasAVX2 reports whether AVX2 instructions may run: the CPU has them
// (CPUID leaf 7, EBX bit 5) and the OS saves the YMM registers (OSXSAVE,
// and XCR0 has the SSE and AVX state bits).
func hasAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 || xgetbv()&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// maskBlocksWith XORs n bytes (a positive multiple of 64) of src with key
// repeated into dst, with the given kernel.
func maskBlocksWith(kernel int, dst, src *byte, n int, key uint64) {
	switch kernel {
	case kernelAVX2:
		maskAVX2(dst, src, n, key)
	case kernelSSE2:
		maskSSE2(dst, src, n, key)
	default:
		maskBlocksGo(unsafe.Slice(dst, n), unsafe.Slice(src, n), key)
	}
}

// maskSSE2 and maskAVX2 are maskBlocksWith's assembly kernels
// (mask_amd64.s).
//
//go:noescape
func maskSSE2(dst, src *byte, n int, key uint64)

//go:noescape
func maskAVX2(dst, src *byte, n int, key uint64)

// cpuid and xgetbv run the instructions of the same names.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() uint32
