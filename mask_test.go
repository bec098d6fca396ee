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
	src := make([]byte, 100+16)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	orig := bytes.Clone(src)
	for n := 0; n <= 100; n++ {
		for pos := 0; pos < 4; pos++ {
			for soff := 0; soff < 8; soff++ {
				doff := (soff*3 + 1) % 8 // a different alignment for dst
				s := src[soff : soff+n]
				want := make([]byte, n)
				wantPos := maskRef(want, s, key, pos)

				dst := bytes.Repeat([]byte{guard}, n+16)
				d := dst[doff : doff+n]
				if got := maskCopy(d, s, k, pos); got != wantPos {
					t.Fatalf("n=%d pos=%d: maskCopy returned %d, want %d", n, pos, got, wantPos)
				}
				if !bytes.Equal(d, want) {
					t.Fatalf("n=%d pos=%d soff=%d doff=%d: maskCopy\n got % x\nwant % x", n, pos, soff, doff, d, want)
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
				if got := mask(inPlace, k, pos); got != wantPos {
					t.Fatalf("n=%d pos=%d: mask returned %d, want %d", n, pos, got, wantPos)
				}
				if !bytes.Equal(inPlace, want) {
					t.Fatalf("n=%d pos=%d soff=%d: mask in place\n got % x\nwant % x", n, pos, soff, inPlace, want)
				}
				mask(inPlace, k, pos)
				if !bytes.Equal(inPlace, s) {
					t.Fatalf("n=%d pos=%d: masking twice is not the identity", n, pos)
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

func FuzzMask(f *testing.F) {
	f.Add([]byte("ABCDEFGH"), uint32(0x3d21fa37), uint8(3), uint8(0))
	f.Add([]byte("Hello"), uint32(0x3d21fa37), uint8(0), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 77), uint32(0xffffffff), uint8(33), uint8(2))
	f.Add(bytes.Repeat([]byte{0x00, 0x80}, 100), uint32(0x01020304), uint8(131), uint8(7))
	f.Add([]byte{}, uint32(1), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, p []byte, key uint32, split, pos uint8) {
		var kb [4]byte
		binary.LittleEndian.PutUint32(kb[:], key)
		start := int(pos) & 3
		want := make([]byte, len(p))
		wantPos := maskRef(want, p, kb, start)
		s := 0
		if len(p) > 0 {
			s = int(split) % (len(p) + 1)
		}

		// maskCopy in two chunks never touches src.
		orig := bytes.Clone(p)
		dst := make([]byte, len(p)+1)
		dst[len(p)] = 0xa5
		mid := maskCopy(dst[:s], p[:s], key, start)
		end := maskCopy(dst[s:], p[s:], key, mid)
		if end != wantPos || !bytes.Equal(dst[:len(p)], want) {
			t.Fatalf("maskCopy split %d pos %d: got % x (pos %d), want % x (pos %d)", s, start, dst[:len(p)], end, want, wantPos)
		}
		if dst[len(p)] != 0xa5 {
			t.Fatal("maskCopy wrote past len(src)")
		}
		if !bytes.Equal(p, orig) {
			t.Fatal("maskCopy modified src")
		}

		// mask in place in two chunks.
		b := bytes.Clone(p)
		mid = mask(b[:s], key, start)
		end = mask(b[s:], key, mid)
		if end != wantPos || !bytes.Equal(b, want) {
			t.Fatalf("mask split %d pos %d: got % x, want % x", s, start, b, want)
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

// TestMaskBlocksKernels: the assembly kernel and the portable one agree
// with each other and with a byte-wise XOR, for every block count and
// alignment; FuzzMaskBlocks does the same on arbitrary input.
func TestMaskBlocksKernels(t *testing.T) {
	for blocks := 1; blocks <= 20; blocks++ {
		for off := 0; off < 8; off++ {
			checkMaskBlocks(t, pattern(blocks*64 + off)[off:], 0x0102030405060708^uint64(blocks))
		}
	}
}

func FuzzMaskBlocks(f *testing.F) {
	f.Add(pattern(64), uint64(0xdeadbeefcafef00d))
	f.Add(pattern(200), uint64(1))
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
	asm, portable := make([]byte, len(src)), make([]byte, len(src))
	maskBlocks(&asm[0], &src[0], len(src), key)
	maskBlocksGo(portable, src, key)
	if !bytes.Equal(asm, want) || !bytes.Equal(portable, want) || !bytes.Equal(src, orig) {
		t.Fatalf("%d bytes: kernels disagree with the reference", len(src))
	}
}
