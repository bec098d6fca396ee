package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

func vals(s ...string) [][]byte {
	var out [][]byte
	for _, v := range s {
		out = append(out, []byte(v))
	}
	return out
}

// TestAcceptDeflate_RFC7692_7 checks the server's choice among offers.
func TestAcceptDeflate_RFC7692_7(t *testing.T) {
	tests := []struct {
		name   string
		opts   CompressionOptions
		offers []string
		want   string // response, "" = declined
	}{
		{"plain offer", CompressionOptions{}, []string{"permessage-deflate"}, "permessage-deflate"},
		{"browser offer", CompressionOptions{}, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"client asks server no takeover", CompressionOptions{}, []string{"permessage-deflate; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover"},
		{"server wants client no takeover", CompressionOptions{ClientNoContextTakeover: true}, []string{"permessage-deflate"}, "permessage-deflate; client_no_context_takeover"},
		{"server window asked", CompressionOptions{}, []string{"permessage-deflate; server_max_window_bits=10"}, "permessage-deflate; server_max_window_bits=10"},
		{"server window quoted", CompressionOptions{}, []string{`permessage-deflate; server_max_window_bits="9"`}, "permessage-deflate; server_max_window_bits=9"},
		{"server limits itself", CompressionOptions{ServerMaxWindowBits: 12}, []string{"permessage-deflate"}, "permessage-deflate; server_max_window_bits=12"},
		{"server limits client when offered", CompressionOptions{ClientMaxWindowBits: 11}, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate; client_max_window_bits=11"},
		{"client's own limit", CompressionOptions{}, []string{"permessage-deflate; client_max_window_bits=9"}, "permessage-deflate; client_max_window_bits=9"},
		{"unknown parameter declines that offer", CompressionOptions{}, []string{"permessage-deflate; foo, permessage-deflate"}, "permessage-deflate"},
		{"duplicate parameter declined", CompressionOptions{}, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"window 7 declined", CompressionOptions{}, []string{"permessage-deflate; server_max_window_bits=7"}, ""},
		{"window 16 declined", CompressionOptions{}, []string{"permessage-deflate; client_max_window_bits=16"}, ""},
		{"server_max_window_bits without value declined", CompressionOptions{}, []string{"permessage-deflate; server_max_window_bits"}, ""},
		{"value on a flag declined", CompressionOptions{}, []string{"permessage-deflate; server_no_context_takeover=1"}, ""},
		{"other extension ignored", CompressionOptions{}, []string{"x-webkit-deflate-frame", "permessage-deflate"}, "permessage-deflate"},
		{"no offer", CompressionOptions{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := acceptDeflate(&tt.opts, vals(tt.offers...))
			got := ""
			if p != nil {
				got = p.response
			}
			if got != tt.want {
				t.Fatalf("response %q, want %q", got, tt.want)
			}
		})
	}
	if acceptDeflate(nil, vals("permessage-deflate")) != nil {
		t.Fatal("accepted without Compression")
	}
}

// TestAcceptedDeflate_RFC7692_5 checks the client's check of the answer.
func TestAcceptedDeflate_RFC7692_5(t *testing.T) {
	tests := []struct {
		name string
		opts *CompressionOptions
		resp string
		ok   bool
		p    deflateParams
	}{
		{"plain", &CompressionOptions{}, "permessage-deflate", true, deflateParams{serverBits: 15, clientBits: 15}},
		{"takeovers off", &CompressionOptions{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, deflateParams{true, true, 15, 15, ""}},
		{"windows", &CompressionOptions{}, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10", true, deflateParams{serverBits: 9, clientBits: 10}},
		{"not offered", nil, "permessage-deflate", false, deflateParams{}},
		{"unknown extension", &CompressionOptions{}, "x-foo", false, deflateParams{}},
		{"two extensions", &CompressionOptions{}, "permessage-deflate, permessage-deflate", false, deflateParams{}},
		{"unknown parameter", &CompressionOptions{}, "permessage-deflate; foo=1", false, deflateParams{}},
		{"server window above offer", &CompressionOptions{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=11", false, deflateParams{}},
		{"client window above offer", &CompressionOptions{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", false, deflateParams{}},
		{"client window without value", &CompressionOptions{}, "permessage-deflate; client_max_window_bits", false, deflateParams{}},
		{"requested no takeover ignored", &CompressionOptions{ServerNoContextTakeover: true}, "permessage-deflate", false, deflateParams{}},
		{"client no takeover of its own", &CompressionOptions{ClientNoContextTakeover: true}, "permessage-deflate", true, deflateParams{clientNoTakeover: true, serverBits: 15, clientBits: 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := acceptedDeflate(tt.opts, vals(tt.resp))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok {
				p.response = ""
				if *p != tt.p {
					t.Fatalf("params %+v, want %+v", *p, tt.p)
				}
			}
		})
	}
}

// TestOfferRoundTrip: what our client offers, our server accepts, and
// our client accepts the answer, for every option combination.
func TestOfferRoundTrip_RFC7692_7(t *testing.T) {
	for _, o := range deflateOptions() {
		p := acceptDeflate(&o, vals(o.offer()))
		if p == nil {
			t.Fatalf("%+v: offer %q declined", o, o.offer())
		}
		q, err := acceptedDeflate(&o, vals(p.response))
		if err != nil {
			t.Fatalf("%+v: answer %q refused: %v", o, p.response, err)
		}
		if q.serverBits != p.serverBits || q.clientBits != p.clientBits ||
			q.serverNoTakeover != p.serverNoTakeover || q.clientNoTakeover != p.clientNoTakeover {
			t.Fatalf("%+v: server agreed %+v, client %+v", o, *p, *q)
		}
	}
}

func deflateOptions() []CompressionOptions {
	var out []CompressionOptions
	for _, takeover := range []bool{false, true} {
		for bits := 8; bits <= 15; bits++ {
			out = append(out, CompressionOptions{
				Threshold:               -1,
				ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover,
				ServerMaxWindowBits: bits, ClientMaxWindowBits: bits,
			})
		}
	}
	return append(out, CompressionOptions{Level: 9}, CompressionOptions{Level: -2}, CompressionOptions{Threshold: 1000})
}

// deflatePair attaches a client and a server through the handshake with
// the same compression options.
func deflatePair(t testing.TB, o CompressionOptions, flags Flags) (cl, sv *Conn) {
	t.Helper()
	a, b := tcpPair(t)
	cfg := &Config{Compression: &o}
	done := async(t, func() (err error) { sv, err = cfg.AttachServer(context.Background(), b, flags); return })
	cl, err := cfg.AttachClient(context.Background(), a, flags, "/", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	done()
	if sv == nil {
		t.FailNow()
	}
	if cl.Extensions() == "" || cl.Extensions() != sv.Extensions() && flags&NoHTTP == 0 {
		t.Fatalf("extensions %q / %q", cl.Extensions(), sv.Extensions())
	}
	return cl, sv
}

func jsonish(n int, seed int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%d","tags":["a","b","κόσμε"],"ok":true},`, i+seed, (i*7+seed)%13)
	}
	return []byte(b.String()[:n])
}

// TestDeflateRoundTrip_RFC7692_7_2 sends compressible and incompressible
// messages both ways at every window size, with and without context
// takeover, through every API layer, with and without the handshake.
func TestDeflateRoundTrip_RFC7692_7_2(t *testing.T) {
	ctx := context.Background()
	for _, o := range deflateOptions() {
		for _, flags := range []Flags{0, NoHTTP} {
			name := fmt.Sprintf("%+v/%v", o, flags)
			cl, sv := deflatePair(t, o, flags)
			buf := make([]byte, 300000)
			for round := 0; round < 3; round++ {
				for _, msg := range [][]byte{nil, []byte("x"), jsonish(100, round), jsonish(20000, round), jsonish(200000, round), pattern(70000)} {
					for _, dir := range [][2]*Conn{{cl, sv}, {sv, cl}} {
						from, to := dir[0], dir[1]
						wait := async(t, func() error { return from.Send(ctx, Text, msg) })
						n, f, err := to.Recv(ctx, buf)
						wait()
						if err != nil || f != Text || !bytes.Equal(buf[:n], msg) {
							t.Fatalf("%s: %d bytes: got %d, %v", name, len(msg), n, err)
						}
						half := len(msg) / 2
						wait = async(t, func() error { return from.SendV(ctx, Binary, msg[:half], msg[half:]) })
						n, _, err = to.RecvV(ctx, buf[:7], buf[7:])
						wait()
						if err != nil || !bytes.Equal(buf[:n], msg) {
							t.Fatalf("%s: vectored %d bytes: got %d, %v", name, len(msg), n, err)
						}
						wait = async(t, func() error {
							w, err := from.Writer(ctx, Binary)
							if err != nil {
								return err
							}
							for i := 0; i < len(msg); i += 5000 {
								w.Write(msg[i:min(i+5000, len(msg))])
							}
							return w.Close()
						})
						_, r, err := to.Reader(ctx)
						if err != nil {
							t.Fatal(err)
						}
						got, err := io.ReadAll(r)
						wait()
						if err != nil || !bytes.Equal(got, msg) {
							t.Fatalf("%s: streamed %d bytes: got %d, %v", name, len(msg), len(got), err)
						}
					}
				}
			}
		}
	}
}

// TestDeflateOnTheWire checks with a raw peer that messages over the
// threshold go out compressed with RSV1 on the first frame only, smaller
// ones plain, and that a peer's compressed message is read.
func TestDeflateOnTheWire_RFC7692_6(t *testing.T) {
	ctx := context.Background()
	c, p := newRawDeflate(t, CompressionOptions{Threshold: 64})
	c.Send(ctx, Text, []byte("short"))
	if h, b := p.read(); h.rsv != 0 || string(b) != "short" {
		t.Fatalf("rsv %x %q", h.rsv, b)
	}
	msg := jsonish(10000, 1)
	c.Send(ctx, Text, msg)
	h, b := p.read()
	if h.rsv != bitRsv1 || len(b) >= len(msg)/2 {
		t.Fatalf("rsv %x, %d bytes for %d", h.rsv, len(b), len(msg))
	}
	if got := inflateAll(t, b); !bytes.Equal(got, msg) {
		t.Fatal("payload differs")
	}
	// The peer compresses too, fragmenting the message.
	z := deflateRaw(t, msg)
	p.write(frame(true, false, bitRsv1, opText, z[:10]), frame(true, true, 0, opPing, []byte("mid")), frame(true, true, 0, opCont, z[10:]))
	buf := make([]byte, 20000)
	n, _, err := c.Recv(ctx, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatal(n, err)
	}
}

// TestDeflateViolations_RFC7692_6_1: RSV1 on a continuation frame, RSV1
// on a control frame, and corrupt data fail the connection.
func TestDeflateViolations_RFC7692_6_1(t *testing.T) {
	tests := []struct {
		name   string
		frames func() [][]byte
		code   StatusCode
	}{
		{"RSV1 on continuation", func() [][]byte {
			return [][]byte{frame(true, false, 0, opText, []byte("a")), frame(true, true, bitRsv1, opCont, []byte("b"))}
		}, 1002},
		{"RSV1 on ping", func() [][]byte { return [][]byte{frame(true, true, bitRsv1, opPing, nil)} }, 1002},
		{"corrupt data", func() [][]byte { return [][]byte{frame(true, true, bitRsv1, opBinary, []byte{0xff, 0xff, 0xff})} }, 1007},
		{"invalid UTF-8 inside", func() [][]byte {
			return [][]byte{frame(true, true, bitRsv1, opText, deflateRaw(t, []byte("ok\xc0\xaf")))}
		}, 1007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := newRawDeflate(t, CompressionOptions{})
			p.write(tt.frames()...)
			_, _, err := c.Recv(withTimeout(t, 10e9), make([]byte, 100))
			errIs(t, err, ErrProto)
			if code, _ := p.readClose(); code != tt.code {
				t.Fatalf("close %d, want %d", code, tt.code)
			}
		})
	}
}

// TestDeflateBomb: decompression is bounded by the caller's buffer and by
// MaxMessageSize, never by what the data expands to.
func TestDeflateBomb(t *testing.T) {
	bomb := deflateRaw(t, make([]byte, 50<<20)) // 50 MiB of zeros, ~50 KiB compressed
	c, p := newRawDeflateCfg(t, &Config{MaxMessageSize: 1 << 20, Compression: &CompressionOptions{}})
	p.write(frame(true, true, bitRsv1, opBinary, bomb))
	_, _, err := c.Recv(context.Background(), make([]byte, 1000))
	errIs(t, err, ErrMsgSize)
	if code, _ := p.readClose(); code != StatusMessageTooBig {
		t.Fatal(code)
	}
	c, p = newRawDeflateCfg(t, &Config{MaxMessageSize: 1 << 20, Compression: &CompressionOptions{}})
	p.write(frame(true, true, bitRsv1, opBinary, bomb))
	_, r, err := c.Reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	errIs(t, err, ErrMsgSize)
	if n > 1<<20+64<<10 {
		t.Fatalf("read %d bytes past the limit", n)
	}
}

// FuzzInflate feeds arbitrary data as a compressed message: an error or a
// message, never a panic or unbounded output.
func FuzzInflate(f *testing.F) {
	f.Add(deflateRaw(f, []byte("hello, hello, hello")), true)
	f.Add(deflateRaw(f, make([]byte, 100000)), false)
	f.Add([]byte{0xff, 0x00}, true)
	f.Fuzz(func(t *testing.T, data []byte, text bool) {
		c, p := newRawDeflateCfg(t, &Config{MaxMessageSize: 1 << 16, Compression: &CompressionOptions{}})
		op := byte(opBinary)
		if text {
			op = opText
		}
		go io.Copy(io.Discard, p.c)
		p.write(frame(true, true, bitRsv1, op, data), frame(true, true, 0, opText, []byte("next")))
		buf := make([]byte, 1<<10)
		ctx := withTimeout(t, 10e9)
		_, _, err := c.Recv(ctx, buf)
		if errors.Is(err, ErrTimedOut) {
			t.Fatal("hung")
		}
		if err == nil || errors.Is(err, ErrMsgSize) && !errors.Is(err, ErrConnReset) {
			if _, _, err := c.Recv(ctx, buf); err != nil && !errors.Is(err, ErrMsgSize) && !errors.Is(err, ErrProto) {
				t.Fatal("stream out of sync after a compressed message:", err)
			}
		}
	})
}

func newRawDeflate(t testing.TB, o CompressionOptions) (*Conn, *rawPeer) {
	return newRawDeflateCfg(t, &Config{Compression: &o})
}

// newRawDeflateCfg attaches a NoHTTP server with compression to a raw
// client peer.
func newRawDeflateCfg(t testing.TB, cfg *Config) (*Conn, *rawPeer) {
	t.Helper()
	a, b := tcpPair(t)
	c, err := cfg.AttachServer(context.Background(), a, NoHTTP)
	if err != nil {
		t.Fatal(err)
	}
	return c, &rawPeer{t: t, c: b, r: newReader(b), client: true}
}

// deflateRaw compresses p as one message without context (RFC 7692 §7.2.1).
func deflateRaw(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 1)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func inflateAll(t testing.TB, z []byte) []byte {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), strings.NewReader(syncMarker+endBlock)))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeflateOnlyWhenOffered: a server configured for compression does
// not compress for a client that did not offer it, through Upgrade-style
// attaching (attachUpgraded) as through AttachServer.
func TestDeflateOnlyWhenOffered(t *testing.T) {
	ctx := context.Background()
	for _, upgraded := range []bool{false, true} {
		a, b := tcpPair(t)
		cfg := &Config{Compression: &CompressionOptions{Threshold: -1}}
		var sv *Conn
		var err error
		if upgraded {
			sv, err = cfg.attachUpgraded("test", b, 0, new(Storage), false, nil, connMeta{})
		} else {
			wait := async(t, func() (err error) { sv, err = cfg.AttachServer(ctx, b, 0); return })
			cl, err := AttachClient(ctx, a, 0, "/", "localhost")
			if err != nil {
				t.Fatal(err)
			}
			wait()
			_ = cl
		}
		if err != nil {
			t.Fatal(err)
		}
		if sv.Extensions() != "" || sv.out.zw != nil {
			t.Fatalf("upgraded=%v: compression on without an offer: %q", upgraded, sv.Extensions())
		}
	}
}

// TestDeflateExactBuffer: a buffer exactly the size of the decompressed
// message takes it, and the next messages still arrive (the end of a
// compressed message is told by the decompressor).
func TestDeflateExactBuffer(t *testing.T) {
	ctx := context.Background()
	cl, sv := deflatePair(t, CompressionOptions{}, 0)
	for i := 0; i < 5; i++ {
		msg := jsonish(1024, i)
		wait := async(t, func() error { return cl.Send(ctx, Binary, msg) })
		buf := make([]byte, len(msg))
		n, _, err := sv.Recv(ctx, buf)
		wait()
		if err != nil || n != len(msg) || !bytes.Equal(buf, msg) {
			t.Fatalf("message %d: %d bytes, %v", i, n, err)
		}
		// One byte short: ErrMsgSize, and the stream stays in sync.
		wait = async(t, func() error { return cl.Send(ctx, Binary, msg) })
		_, _, err = sv.Recv(ctx, buf[:len(msg)-1])
		wait()
		errIs(t, err, ErrMsgSize)
	}
}
