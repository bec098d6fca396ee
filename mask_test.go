package ws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// maskRef is the byte-wise masking of RFC 6455 §5.3: byte i is XORed with
// key byte (pos+i) mod 4, key bytes in wire order.
func maskRef(dst, src []byte, key [4]byte, pos int) int {
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)%4]
	}
	return (pos + len(src)) % 4
}

func TestMask_RFC6455_5_3(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	k := binary.LittleEndian.Uint32(key[:])
	// Room for every length at every alignment, with guard bytes around.
	const guard = 0x5a
	const maxLen = 520 // past every mix of the AVX2 kernel's 256-, 128- and 64-byte steps
	src := make([]byte, maxLen+16)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	orig := bytes.Clone(src)
	for _, kern := range maskKernels {
		for n := 0; n <= maxLen; n++ {
			for pos := 0; pos < 4; pos++ {
				for soff := 0; soff < 8; soff++ {
					doff := (soff*3 + 1) % 8 // a different alignment for dst
					s := src[soff : soff+n]
					want := make([]byte, n)
					wantPos := maskRef(want, s, key, pos)

					dst := bytes.Repeat([]byte{guard}, n+16)
					d := dst[doff : doff+n]
					if got := maskCopyWith(kern, d, s, k, pos); got != wantPos {
						t.Fatalf("kernel %d n=%d pos=%d: maskCopy returned %d, want %d", kern, n, pos, got, wantPos)
					}
					if !bytes.Equal(d, want) {
						t.Fatalf("kernel %d n=%d pos=%d soff=%d doff=%d: maskCopy\n got % x\nwant % x", kern, n, pos, soff, doff, d, want)
					}
					for i, b := range dst {
						if (i < doff || i >= doff+n) && b != guard {
							t.Fatalf("n=%d pos=%d: maskCopy wrote outside dst[:%d] at %d", n, pos, n, i-doff)
						}
					}
					if !bytes.Equal(src, orig) {
						t.Fatalf("n=%d pos=%d: maskCopy modified src", n, pos)
					}

					// In place, and back again.
					inPlace := append(make([]byte, soff), s...)[soff:]
					if got := maskCopyWith(kern, inPlace, inPlace, k, pos); got != wantPos {
						t.Fatalf("kernel %d n=%d pos=%d: mask returned %d, want %d", kern, n, pos, got, wantPos)
					}
					if !bytes.Equal(inPlace, want) {
						t.Fatalf("kernel %d n=%d pos=%d soff=%d: mask in place\n got % x\nwant % x", kern, n, pos, soff, inPlace, want)
					}
					maskCopyWith(kern, inPlace, inPlace, k, pos)
					if !bytes.Equal(inPlace, s) {
						t.Fatalf("kernel %d n=%d pos=%d: masking twice is not the identity", kern, n, pos)
					}
				}
			}
		}
	}
}

// TestMaskExample_RFC6455_5_7 checks the RFC's masked "Hello".
func TestMaskExample_RFC6455_5_7(t *testing.T) {
	frame := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	h, n, err := parseHeader(frame)
	if err != nil || n != 6 || !h.masked || h.length != 5 {
		t.Fatalf("parseHeader = %+v, %d, %v", h, n, err)
	}
	p := bytes.Clone(frame[n:])
	if pos := mask(p, h.key, 0); pos != 1 {
		t.Errorf("pos = %d, want 1", pos)
	}
	if string(p) != "Hello" {
		t.Errorf("unmasked %q, want Hello", p)
	}
}

// TestMaskChunks_RFC6455_5_3 masks a payload in chunks of every size,
// carrying the key offset, as the send and receive paths do.
func TestMaskChunks_RFC6455_5_3(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	k := binary.LittleEndian.Uint32(key[:])
	src := maskData(257)
	want := make([]byte, len(src))
	maskRef(want, src, key, 0)
	for chunk := 1; chunk <= 40; chunk++ {
		got := make([]byte, len(src))
		pos := 0
		for i := 0; i < len(src); i += chunk {
			j := min(i+chunk, len(src))
			pos = maskCopy(got[i:], src[i:j], k, pos)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunk %d: mismatch", chunk)
		}
	}
}

// FuzzMask compares every kernel (portable, SSE2, AVX2, as this machine
// has them), copying and in place, split in two chunks at any point, at
// any alignment of src and dst and any key position, with the byte-wise
// reference. Its seed corpus runs as a normal test.
func FuzzMask(f *testing.F) {
	f.Add([]byte("ABCDEFGH"), uint32(0x3d21fa37), uint8(3), uint8(0), uint8(0))
	f.Add([]byte("Hello"), uint32(0x3d21fa37), uint8(0), uint8(0), uint8(5))
	f.Add(bytes.Repeat([]byte{0xff}, 77), uint32(0xffffffff), uint8(33), uint8(2), uint8(9))
	f.Add(bytes.Repeat([]byte{0x00, 0x80}, 100), uint32(0x01020304), uint8(131), uint8(7), uint8(3))
	f.Add(bytes.Repeat([]byte{0x5a, 0x01, 0x77}, 200), uint32(0xa1b2c3d4), uint8(255), uint8(1), uint8(14))
	f.Add(maskData(4096+67), uint32(0x80402010), uint8(64), uint8(3), uint8(7))
	f.Add([]byte{}, uint32(1), uint8(0), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, key uint32, split, pos, align uint8) {
		var kb [4]byte
		binary.LittleEndian.PutUint32(kb[:], key)
		start := int(pos) & 3
		want := make([]byte, len(p))
		wantPos := maskRef(want, p, kb, start)
		s := 0
		if len(p) > 0 {
			s = int(split) % (len(p) + 1)
		}
		soff, doff := int(align)&7, int(align>>3)&7
		src := append(make([]byte, soff), p...)[soff:]
		for _, kern := range maskKernels {
			// maskCopy in two chunks never touches src nor writes
			// outside dst.
			buf := bytes.Repeat([]byte{0xa5}, doff+len(p)+8)
			dst := buf[doff : doff+len(p)]
			mid := maskCopyWith(kern, dst[:s], src[:s], key, start)
			end := maskCopyWith(kern, dst[s:], src[s:], key, mid)
			if end != wantPos || !bytes.Equal(dst, want) {
				t.Fatalf("kernel %d split %d pos %d: got % x (pos %d), want % x (pos %d)", kern, s, start, dst, end, want, wantPos)
			}
			for i, b := range buf {
				if (i < doff || i >= doff+len(p)) && b != 0xa5 {
					t.Fatalf("kernel %d: maskCopy wrote outside dst at %d", kern, i-doff)
				}
			}
			if !bytes.Equal(src, p) {
				t.Fatalf("kernel %d: maskCopy modified src", kern)
			}

			// In place in two chunks.
			b := append(make([]byte, doff), p...)[doff:]
			mid = maskCopyWith(kern, b[:s], b[:s], key, start)
			end = maskCopyWith(kern, b[s:], b[s:], key, mid)
			if end != wantPos || !bytes.Equal(b, want) {
				t.Fatalf("kernel %d in place split %d pos %d: got % x, want % x", kern, s, start, b, want)
			}
		}
		// And the kernel chosen at start-up, through maskCopy and mask.
		dst := make([]byte, len(p))
		if maskCopy(dst, src, key, start) != wantPos || !bytes.Equal(dst, want) {
			t.Fatal("maskCopy disagrees with the reference")
		}
		if mask(dst, key, start) != wantPos || !bytes.Equal(dst, p) {
			t.Fatal("mask does not undo maskCopy")
		}
	})
}

var sinkPos int

func BenchmarkMask(b *testing.B) {
	for _, n := range []int{16, 128, 1024, 16384, 65536, 1048576} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src := maskData(n)
			dst := make([]byte, n)
			b.SetBytes(int64(n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sinkPos = maskCopy(dst, src, 0x3d21fa37, i&3)
			}
		})
	}
}

// maskData returns n bytes of varied data.
func maskData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8)
	}
	return b
}

// TestMaskBlocksKernels: every kernel agrees with a byte-wise XOR, for
// every block count and alignment; FuzzMaskBlocks does the same on
// arbitrary input.
func TestMaskBlocksKernels(t *testing.T) {
	if len(maskKernels) == 0 || maskKernels[0] != kernelGo {
		t.Fatalf("kernels %v: the portable one must come first", maskKernels)
	}
	t.Logf("kernels %v, chosen %d", maskKernels, maskKernel)
	for blocks := 1; blocks <= 20; blocks++ {
		for off := 0; off < 8; off++ {
			checkMaskBlocks(t, pattern(blocks*64 + off)[off:], 0x0102030405060708^uint64(blocks))
		}
	}
}

func FuzzMaskBlocks(f *testing.F) {
	f.Add(pattern(64), uint64(0xdeadbeefcafef00d))
	f.Add(pattern(200), uint64(1))
	f.Add(pattern(448), uint64(0x8000000000000001))
	f.Fuzz(func(t *testing.T, src []byte, key uint64) {
		if len(src) >= 64 {
			checkMaskBlocks(t, src[:len(src)&^63], key)
		}
	})
}

func checkMaskBlocks(t *testing.T, src []byte, key uint64) {
	t.Helper()
	want := make([]byte, len(src))
	for i := range src {
		want[i] = src[i] ^ byte(key>>(8*(i&7)))
	}
	orig := append([]byte(nil), src...)
	for _, kern := range maskKernels {
		got := make([]byte, len(src))
		maskBlocksWith(kern, &got[0], &src[0], len(src), key)
		if !bytes.Equal(got, want) || !bytes.Equal(src, orig) {
			t.Fatalf("kernel %d, %d bytes: disagrees with the reference", kern, len(src))
		}
	}
}

// BenchmarkMaskKernels measures each kernel, copying and in place, against
// copy() (memcpy) of the same length, in one run.
func BenchmarkMaskKernels(b *testing.B) {
	for _, n := range []int{16, 64, 128, 1024, 16384, 65536} {
		src, dst := maskData(n), make([]byte, n)
		b.Run(fmt.Sprintf("memcpy/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				copy(dst, src)
			}
		})
		for _, kern := range maskKernels {
			b.Run(fmt.Sprintf("copy-k%d/%d", kern, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for i := 0; i < b.N; i++ {
					sinkPos = maskCopyWith(kern, dst, src, 0x3d21fa37, i&3)
				}
			})
			b.Run(fmt.Sprintf("inplace-k%d/%d", kern, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for i := 0; i < b.N; i++ {
					sinkPos = maskCopyWith(kern, dst, dst, 0x3d21fa37, i&3)
				}
			})
		}
	}
}
