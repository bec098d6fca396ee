package ws

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSendRecv measures one message client→server and server→client
// over loopback TCP with Mem conns: ns/op, B/op and allocs/op per message.
func BenchmarkSendRecv(b *testing.B) {
	for _, n := range []int{16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20} {
		for _, dir := range []string{"c2s", "s2c"} {
			b.Run(fmt.Sprintf("%s/%d", dir, n), func(b *testing.B) {
				cl, sv := memPair(b)
				from, to := cl, sv
				if dir == "s2c" {
					from, to = sv, cl
				}
				ctx := context.Background()
				msg, buf := pattern(n), make([]byte, n)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for i := 0; i < b.N; i++ {
						if err := from.Send(ctx, Binary, msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, _, err := to.Recv(ctx, buf); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			})
		}
	}
}

// BenchmarkMaskCopy measures client-side masking into the write buffer.
func BenchmarkMaskCopy(b *testing.B) {
	for _, n := range []int{16, 128, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src, dst := pattern(n), make([]byte, n)
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				maskCopy(dst, src, 0x12345678, i&3)
			}
		})
	}
}
