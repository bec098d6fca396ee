//go:build !amd64 || purego

package ws

import "unsafe"

// maskKernel is the kernel maskCopy uses: the portable one.
const maskKernel = kernelGo

// maskKernels lists the kernels this machine can run, for the tests.
var maskKernels = []int{kernelGo}

// maskBlocksWith XORs n bytes (a positive multiple of 64) of src with key
// repeated into dst; the portable version of mask_amd64.s.
func maskBlocksWith(kernel int, dst, src *byte, n int, key uint64) {
	maskBlocksGo(unsafe.Slice(dst, n), unsafe.Slice(src, n), key)
}
