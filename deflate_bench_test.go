package ws

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchJSONDocs returns 64 distinct JSON documents of n bytes, the shape
// of the bench harness's deflate workload.
func benchJSONDocs(n int) [][]byte {
	tags := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"}
	words := []string{"widget", "gadget", "sprocket", "gizmo", "doohickey", "bracket", "flange", "valve", "rotor", "spindle", "coupler", "bearing"}
	docs := make([][]byte, 64)
	for d := range docs {
		seed := uint64(d) + 1
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"batch":%d,"ts":%d,"items":[`, seed, 1700000000000+r.Int64N(1e9))
		for i := 0; b.Len() < n-160; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,"name":"%s-%d","price":%d.%02d,"qty":%d,"tags":["%s","%s"],"active":%t}`,
				r.Int64N(1e9), words[r.IntN(len(words))], r.IntN(100000), r.IntN(5000), r.IntN(100),
				r.IntN(1000), tags[r.IntN(len(tags))], tags[r.IntN(len(tags))], r.IntN(2) == 0)
		}
		b.WriteString(`]}`)
		for b.Len() < n {
			b.WriteByte(' ')
		}
		docs[d] = b.Bytes()[:n]
	}
	return docs
}

// BenchmarkDeflateCodec measures the permessage-deflate codec alone on
// 16 KiB JSON messages: compress (a server's echo) and inflate (a
// client's message), with and without context takeover. It reports the
// compressed size per payload byte.
func BenchmarkDeflateCodec(b *testing.B) {
	docs := benchJSONDocs(16 << 10)
	for _, takeover := range []bool{true, false} {
		p := &deflateParams{serverBits: 15, clientBits: 15, serverNoTakeover: !takeover, clientNoTakeover: !takeover}
		name := "takeover"
		if !takeover {
			name = "none"
		}
		b.Run("compress/"+name, func(b *testing.B) {
			zw, _ := newCodec(p, &CompressionOptions{}, false)
			var out int
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				out += len(zw.compress([][]byte{docs[i%len(docs)]}, true))
			}
			b.ReportMetric(float64(out)/float64(b.N)/(16<<10), "ratio")
		})
		b.Run("inflate/"+name, func(b *testing.B) {
			zw, _ := newCodec(p, &CompressionOptions{}, true)
			_, zr := newCodec(p, &CompressionOptions{}, false)
			msgs := make([][]byte, 4*len(docs))
			for i := range msgs {
				msgs[i] = bytes.Clone(zw.compress([][]byte{docs[i%len(docs)]}, true))
			}
			dst := make([]byte, 32<<10)
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := msgs[i%len(msgs)]
				if i%len(msgs) == 0 && i > 0 && takeover {
					// The window no longer matches the sender's: restart.
					zr.win = zr.win[:0]
				}
				src := bytes.NewReader(m)
				n := 0
				for {
					k, err := zr.read(src, dst[n:])
					n += k
					if err == errDeflateEnd {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if n != 16<<10 {
					b.Fatal(n)
				}
			}
		})
	}
}

// BenchmarkDeflateEcho is the bench harness's deflate scenario in one
// process: a client sends 16 KiB JSON messages with context takeover
// over loopback TCP and a server echoes them; ns/op covers both sides,
// so profile the server's share (recv, inflate, compress, send) with
// -cpuprofile.
func BenchmarkDeflateEcho(b *testing.B) {
	docs := benchJSONDocs(16 << 10)
	cl, sv := deflatePair(b, CompressionOptions{}, Text)
	defer cl.Close()
	defer sv.Close()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, f, err := sv.Recv(ctx, buf)
			if err == nil {
				err = sv.Send(ctx, f, buf[:n])
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	b.SetBytes(16 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := docs[i%len(docs)]
		if err := cl.Send(ctx, Text, d); err != nil {
			b.Fatal(err)
		}
		n, _, err := cl.Recv(ctx, buf)
		if err != nil || n != len(d) {
			b.Fatal(n, err)
		}
	}
	b.StopTimer()
	cl.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.Fatal("server did not stop")
	}
}
