package ws

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRFC8441Echo: 1 KiB echo round trips over one WebSocket, over
// h2c and over HTTP/1.1, against Upgrade behind net/http.
func BenchmarkRFC8441Echo(b *testing.B) {
	for _, h2 := range []bool{true, false} {
		b.Run(fmt.Sprint("http2=", h2), func(b *testing.B) {
			e := newH2Env(b, false, 0, nil, nil)
			e.cfg.HTTP2 = h2
			ctx := h2ctx(b, time.Minute)
			c, _, err := e.cfg.Dial(ctx, e.url, Binary)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := make([]byte, 1024)
			b.SetBytes(1024)
			b.ResetTimer()
			for range b.N {
				if err := roundTrip(ctx, c, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRFC8441Setup: WebSocket setups a second, as streams of one
// shared HTTP/2 connection and as new HTTP/1.1 connections (kept open,
// as the streams are, so that the shared connection stays up).
func BenchmarkRFC8441Setup(b *testing.B) {
	for _, h2 := range []bool{true, false} {
		b.Run(fmt.Sprint("http2=", h2), func(b *testing.B) {
			e := newH2Env(b, false, 1<<20, nil, nil)
			e.cfg.HTTP2 = h2
			ctx := h2ctx(b, time.Minute)
			keep, _, err := e.cfg.Dial(ctx, e.url, Binary)
			if err != nil {
				b.Fatal(err)
			}
			defer keep.Close()
			b.ResetTimer()
			for range b.N {
				c, _, err := e.cfg.Dial(ctx, e.url, Binary)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
