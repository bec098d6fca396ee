package ws

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// hostileServer speaks raw HTTP/2 on 127.0.0.1: after the client's
// preface it sends SETTINGS with extended CONNECT, waits for the client's
// HEADERS on stream 1 and then runs script; it returns the URL and a
// channel that gets the error code of the client's GOAWAY (or -1).
func hostileServer(t *testing.T, script func(c net.Conn)) (string, chan int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goaway := make(chan int, 1)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			goaway <- -1
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		pre := make([]byte, len(h2Preface))
		if _, err := io.ReadFull(c, pre); err != nil {
			goaway <- -1
			return
		}
		c.Write(appendSettings(nil, h2Setting{h2SetEnableConnectProto, 1}))
		headers, read := make(chan struct{}), make(chan struct{})
		wg.Add(1)
		go func() { // read the client's frames: HEADERS, then its GOAWAY
			defer wg.Done()
			defer close(read)
			code := -1
			defer func() { goaway <- code }()
			br := bufio.NewReader(c)
			hb := make([]byte, h2HeaderLen)
			for {
				if _, err := io.ReadFull(br, hb); err != nil {
					return
				}
				h := parseH2Header(hb)
				p := make([]byte, h.length)
				if _, err := io.ReadFull(br, p); err != nil {
					return
				}
				switch h.typ {
				case h2Headers:
					close(headers)
				case h2GoAway:
					code = int(binary.BigEndian.Uint32(p[4:]))
					return
				}
			}
		}()
		select {
		case <-headers:
			script(c)
		case <-time.After(5 * time.Second):
		}
		<-read // until the client's GOAWAY or close
	}()
	return "ws://" + ln.Addr().String() + "/", goaway
}

// okHeaders is a HEADERS frame answering stream 1 with 200.
func okHeaders() []byte {
	var blk bytes.Buffer
	hpack.NewEncoder(&blk).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	return append(appendH2Header(nil, h2Headers, h2FlagEndHeaders, 1, blk.Len()), blk.Bytes()...)
}

func h2frame(typ, flags uint8, stream uint32, p []byte) []byte {
	return append(appendH2Header(nil, typ, flags, stream, len(p)), p...)
}

// TestRFC8441HostileServer: an HTTP/2 server that breaks the rules or
// floods gets a GOAWAY with the right code and the connection closed,
// with bounded memory and no panic, whether it does so before or after
// answering the WebSocket.
func TestRFC8441HostileServer(t *testing.T) {
	big := make([]byte, h2DefaultFrame)
	cases := []struct {
		name   string
		script func(c net.Conn)
		code   int
		idle   bool // the client does not read until the GOAWAY went out
	}{
		{"continuation flood", func(c net.Conn) {
			c.Write(h2frame(h2Headers, 0, 1, []byte{0x88}))
			for range 100 {
				if _, err := c.Write(h2frame(h2Continuation, 0, 1, big)); err != nil {
					return
				}
			}
		}, h2EnhanceYourCalm, false},
		{"empty continuation flood", func(c net.Conn) {
			c.Write(h2frame(h2Headers, 0, 1, []byte{0x88}))
			b := bytes.Repeat(h2frame(h2Continuation, 0, 1, nil), h2FloodLimit+10)
			c.Write(b)
		}, h2EnhanceYourCalm, false},
		{"settings flood", func(c net.Conn) {
			c.Write(bytes.Repeat(h2frame(h2Settings, 0, 0, nil), h2FloodLimit+10))
		}, h2EnhanceYourCalm, false},
		{"ping flood", func(c net.Conn) {
			c.Write(bytes.Repeat(h2frame(h2Ping, 0, 0, make([]byte, 8)), h2FloodLimit+10))
		}, h2EnhanceYourCalm, false},
		{"connection window overflow", func(c net.Conn) {
			c.Write(appendWindowUpdate(nil, 0, h2MaxWindow))
		}, h2FlowControlError, false},
		{"data on an idle stream", func(c net.Conn) {
			c.Write(h2frame(h2Data, 0, 3, []byte("x")))
		}, h2ProtocolError, false},
		{"headers on a server stream", func(c net.Conn) {
			c.Write(h2frame(h2Headers, h2FlagEndHeaders, 2, []byte{0x88}))
		}, h2ProtocolError, false},
		{"push promise", func(c net.Conn) {
			c.Write(h2frame(h2PushPromise, h2FlagEndHeaders, 1, []byte{0, 0, 0, 2, 0x82}))
		}, h2ProtocolError, false},
		{"frame over max size", func(c net.Conn) {
			c.Write(h2frame(h2Data, 0, 1, make([]byte, h2DefaultFrame+1)))
		}, h2FrameSizeError, false},
		{"bad hpack", func(c net.Conn) {
			c.Write(h2frame(h2Headers, h2FlagEndHeaders, 1, []byte{0xff, 0xff, 0xff, 0xff}))
		}, h2CompressionError, false},
		{"settings on a stream", func(c net.Conn) {
			c.Write(h2frame(h2Settings, 0, 1, nil))
		}, h2ProtocolError, false},
		{"data beyond the stream window", func(c net.Conn) {
			c.Write(okHeaders())
			for range h2StreamWindow/h2DefaultFrame + 2 {
				if _, err := c.Write(h2frame(h2Data, 0, 1, big)); err != nil {
					return
				}
			}
		}, h2FlowControlError, true},
		// RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change that
		// takes a stream's window over 2^31-1 is a connection error.
		{"initial window change overflows a stream window", func(c net.Conn) {
			c.Write(appendWindowUpdate(nil, 1, h2MaxWindow-h2DefaultWindow))
			c.Write(appendSettings(nil, h2Setting{h2SetInitialWindowSize, h2DefaultWindow + 1}))
		}, h2FlowControlError, false},
		// RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1.
		{"initial window over 2^31-1", func(c net.Conn) {
			c.Write(appendSettings(nil, h2Setting{h2SetInitialWindowSize, 1 << 31}))
		}, h2FlowControlError, false},
		// RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1.
		{"max frame size below 16384", func(c net.Conn) {
			c.Write(appendSettings(nil, h2Setting{h2SetMaxFrameSize, h2DefaultFrame - 1}))
		}, h2ProtocolError, false},
		{"max frame size over 2^24-1", func(c net.Conn) {
			c.Write(appendSettings(nil, h2Setting{h2SetMaxFrameSize, 1 << 24}))
		}, h2ProtocolError, false},
		// RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1.
		{"enable push 2", func(c net.Conn) {
			c.Write(appendSettings(nil, h2Setting{h2SetEnablePush, 2}))
		}, h2ProtocolError, false},
		// RFC 9113 §6.5: a SETTINGS payload not a multiple of 6 octets.
		{"settings length not a multiple of 6", func(c net.Conn) {
			c.Write(h2frame(h2Settings, 0, 0, make([]byte, 7)))
		}, h2FrameSizeError, false},
		// RFC 8441 §3: a sender must not send 0 after 1.
		{"enable connect protocol withdrawn", func(c net.Conn) {
			c.Write(appendSettings(nil, h2Setting{h2SetEnableConnectProto, 0}))
		}, h2ProtocolError, false},
		{"padding longer than the frame", func(c net.Conn) {
			c.Write(okHeaders())
			c.Write(h2frame(h2Data, h2FlagPadded, 1, []byte{5, 1}))
		}, h2ProtocolError, false},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			url, goaway := hostileServer(t, tc.script)
			ctx := h2ctx(t, 10*time.Second)
			c, _, err := (&Config{HTTP2: true}).Dial(ctx, url, Binary)
			var code int
			if err == nil && tc.idle {
				code = <-goaway
			}
			if err == nil {
				_, _, err = c.Recv(ctx, make([]byte, 1<<20))
				c.Close()
			}
			if err == nil || errors.Is(err, ErrTimedOut) {
				t.Fatalf("err %v, want a failed connection", err)
			}
			if !tc.idle {
				code = <-goaway
			}
			select {
			case <-ctx.Done():
				t.Fatal("no GOAWAY")
			default:
				if code != tc.code {
					t.Errorf("GOAWAY %s (%d), want %s; err %v", h2CodeName(uint32(code)), code, h2CodeName(uint32(tc.code)), err)
				}
			}
		})
	}
}

// FuzzH2Client feeds arbitrary bytes, after a valid SETTINGS, to the
// client's HTTP/2 connection with one stream open and reading: it must
// fail or go on, never panic or hang.
func FuzzH2Client(f *testing.F) {
	f.Add(okHeaders())
	f.Add(append(okHeaders(), h2frame(h2Data, h2FlagEndStream, 1, []byte{0x82, 0x02, 'h', 'i'})...))
	f.Add(h2frame(h2Headers, 0, 1, []byte{0x88}))
	f.Add(appendWindowUpdate(nil, 1, 100))
	f.Add(h2frame(h2GoAway, 0, 0, make([]byte, 8)))
	f.Add(h2frame(h2RSTStream, 0, 1, []byte{0, 0, 0, 8}))
	f.Add(appendSettings(nil, h2Setting{h2SetInitialWindowSize, 1 << 30}, h2Setting{h2SetHeaderTableSize, 0}))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { // the server: SETTINGS, then the input; reads whatever comes
			defer close(done)
			go io.Copy(io.Discard, b)
			b.Write(appendSettings(nil, h2Setting{h2SetEnableConnectProto, 1}))
			b.Write(in)
			time.Sleep(time.Millisecond)
			b.Close()
		}()
		a.SetDeadline(time.Now().Add(5 * time.Second))
		c, err := newH2Conn(a, 64<<10, nil)
		if err != nil {
			<-done
			return
		}
		a.SetDeadline(time.Time{})
		if c.reserve() {
			if st, err := c.open(connectFields(&target{resource: "/", host: "h"}, nil, "")); err == nil {
				st.SetReadDeadline(time.Now().Add(time.Second))
				buf := make([]byte, 4096)
				for {
					if _, err := st.Read(buf); err != nil {
						break
					}
				}
				st.Close()
			}
		}
		<-done
		c.fail(net.ErrClosed)
	})
}

// FuzzH2Frame checks the pure frame checks on arbitrary frames.
func FuzzH2Frame(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 8, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) >= h2HeaderLen {
			h := parseH2Header(b)
			b = b[h2HeaderLen:]
			n := min(int(h.length), len(b))
			p, err := checkFrame(h, b[:n])
			if err == nil && len(p) > n {
				t.Fatal("payload grew")
			}
			if err == nil && h.typ == h2Settings {
				for i := range len(p) / 6 {
					checkSetting(parseSetting(p, i))
				}
			}
			b = b[n:]
		}
	})
}

// h2Peer is one connection of a scripted HTTP/2 server: the script
// writes raw frames on c and reads the client's frames from frames.
type h2Peer struct {
	t      *testing.T
	c      net.Conn
	frames chan h2PeerFrame // closed when the client's side ends
}

// h2PeerFrame is one frame the client sent.
type h2PeerFrame struct {
	h h2Header
	p []byte
}

// h2Peers listens on 127.0.0.1 and runs script on each of the first n
// connections, after the client's preface and our SETTINGS with
// extended CONNECT; it returns the URL.
func h2Peers(t *testing.T, n int, script func(i int, p *h2Peer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				pre := make([]byte, len(h2Preface))
				if _, err := io.ReadFull(c, pre); err != nil {
					return
				}
				c.Write(appendSettings(nil, h2Setting{h2SetEnableConnectProto, 1}))
				p := &h2Peer{t: t, c: c, frames: make(chan h2PeerFrame, 64)}
				done := make(chan struct{})
				go func() { // the client's frames, until it closes
					defer close(done)
					defer close(p.frames)
					br := bufio.NewReader(c)
					hb := make([]byte, h2HeaderLen)
					for {
						if _, err := io.ReadFull(br, hb); err != nil {
							return
						}
						h := parseH2Header(hb)
						b := make([]byte, h.length)
						if _, err := io.ReadFull(br, b); err != nil {
							return
						}
						p.frames <- h2PeerFrame{h, b}
					}
				}()
				script(i, p)
				c.Close()
				for range p.frames {
				}
				<-done
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// await returns the client's next frame of type typ on stream, skipping
// others; ok is false if the client's side ended or 5 seconds passed.
func (p *h2Peer) await(typ uint8, stream uint32) (h2PeerFrame, bool) {
	tm := time.NewTimer(5 * time.Second)
	defer tm.Stop()
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return f, false
			}
			if f.h.typ == typ && f.h.stream == stream {
				return f, true
			}
		case <-tm.C:
			return h2PeerFrame{}, false
		}
	}
}

// accept waits for the client's HEADERS on stream and answers 200.
func (p *h2Peer) accept(stream uint32) bool {
	if _, ok := p.await(h2Headers, stream); !ok {
		return false
	}
	ok := okHeaders()
	binary.BigEndian.PutUint32(ok[5:], stream)
	_, err := p.c.Write(ok)
	return err == nil
}

// code waits for the client's RST_STREAM on stream (GOAWAY for stream
// 0) and returns its error code, or -1.
func (p *h2Peer) code(stream uint32) int {
	typ, off := uint8(h2RSTStream), 0
	if stream == 0 {
		typ, off = h2GoAway, 4
	}
	f, ok := p.await(typ, stream)
	if !ok {
		return -1
	}
	return int(binary.BigEndian.Uint32(f.p[off:]))
}

// sendHi sends a binary WebSocket message "hi" on stream.
func (p *h2Peer) sendHi(stream uint32) {
	p.c.Write(h2frame(h2Data, 0, stream, []byte{0x82, 0x02, 'h', 'i'}))
}

// bigHeaderBlock returns an HPACK block of at most 16384 bytes whose
// decoded header list is far over 64 KiB: one 4000-byte field put in
// the dynamic table, then referenced again and again.
func bigHeaderBlock() []byte {
	var blk bytes.Buffer
	e := hpack.NewEncoder(&blk)
	e.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	e.WriteField(hpack.HeaderField{Name: "x", Value: strings.Repeat("v", 4000)})
	b := blk.Bytes()
	for len(b) < h2DefaultFrame {
		b = append(b, 0x80|62) // indexed: the newest dynamic table entry
	}
	return b
}

// TestRFC8441HostilePeerStreams: two WebSockets share one HTTP/2
// connection (streams 1 and 3); the server then misbehaves. A stream
// error resets only its stream and the other WebSocket still gets a
// message; a connection error fails both with a GOAWAY of the right code.
func TestRFC8441HostilePeerStreams(t *testing.T) {
	cases := []struct {
		name   string
		attack func(p *h2Peer) // after both streams are answered, unless onB
		onB    bool            // attack replaces the answer to stream 3
		victim uint32          // the stream reset, 0: the connection fails
		code   int             // its RST_STREAM or GOAWAY code
	}{
		// RFC 9113 §6.9.1: a stream window over 2^31-1 is a stream error.
		{"stream window overflow", func(p *h2Peer) {
			p.c.Write(appendWindowUpdate(nil, 1, h2MaxWindow))
		}, false, 1, h2FlowControlError},
		// RFC 9113 §6.9: an increment of 0 on a stream is a stream error.
		{"stream window update of 0", func(p *h2Peer) {
			p.c.Write(appendWindowUpdate(nil, 1, 0))
		}, false, 1, h2ProtocolError},
		// RFC 9113 §10.5.1: a response head larger than we take is
		// dropped (decoded, to keep HPACK state) and its stream reset.
		{"decoded header list over the limit", func(p *h2Peer) {
			if _, ok := p.await(h2Headers, 3); ok {
				p.c.Write(h2frame(h2Headers, h2FlagEndHeaders, 3, bigHeaderBlock()))
			}
		}, true, 3, h2Cancel},
		// RFC 9113 §10.5: frames on closed streams cost work and carry
		// nothing: past the flood limit, ENHANCE_YOUR_CALM.
		{"rst_stream flood on a closed stream", func(p *h2Peer) {
			p.c.Write(bytes.Repeat(appendRST(nil, 1, h2Cancel), h2FloodLimit+10))
		}, false, 0, h2EnhanceYourCalm},
		{"window_update flood on a closed stream", func(p *h2Peer) {
			p.c.Write(appendRST(nil, 1, h2Cancel))
			p.c.Write(bytes.Repeat(appendWindowUpdate(nil, 1, 1), h2FloodLimit+10))
		}, false, 0, h2EnhanceYourCalm},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			got := make(chan int, 1)
			url := h2Peers(t, 1, func(_ int, p *h2Peer) {
				code := -1
				defer func() { got <- code }()
				if !p.accept(1) || !tc.onB && !p.accept(3) {
					return
				}
				tc.attack(p)
				if code = p.code(tc.victim); code >= 0 && tc.victim != 0 {
					p.sendHi(4 - tc.victim) // to the other stream
					p.await(h2GoAway, 0)    // until the client leaves
				}
			})
			ctx := h2ctx(t, 10*time.Second)
			cfg := &Config{HTTP2: true}
			a, _, err := cfg.Dial(ctx, url, Binary)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, _, errB := cfg.Dial(ctx, url, Binary)
			if b != nil {
				defer b.Close()
			}
			if b != nil && a.Underlying().(*clientStream).c != b.Underlying().(*clientStream).c {
				t.Fatal("the two WebSockets do not share a connection")
			}
			// The victim fails; the survivor gets "hi".
			ws := map[uint32]*Conn{1: a, 3: b}
			buf := make([]byte, 1<<20)
			if tc.victim == 0 {
				for id, c := range ws {
					if _, _, err := c.Recv(ctx, buf); err == nil || errors.Is(err, ErrTimedOut) {
						t.Errorf("stream %d: err %v, want a failed connection", id, err)
					}
				}
			} else {
				if tc.onB {
					if errB == nil {
						t.Fatal("Dial succeeded with an oversized response head")
					}
					// As over HTTP/1.1: a refused handshake, not a reset.
					if !errors.Is(errB, ErrProto) || !errors.Is(errB, errHandshakeSize) {
						t.Errorf("Dial: %v, want ErrProto (handshake head too large)", errB)
					}
				} else if _, _, err := ws[tc.victim].Recv(ctx, buf); err == nil || errors.Is(err, ErrTimedOut) {
					t.Errorf("stream %d: err %v, want a reset", tc.victim, err)
				}
				n, _, err := ws[4-tc.victim].Recv(ctx, buf)
				if err != nil || string(buf[:n]) != "hi" {
					t.Errorf("the other stream: %q, %v; want \"hi\"", buf[:n], err)
				}
				a.Close()
				if b != nil {
					b.Close()
				}
			}
			if code := <-got; code != tc.code {
				what := "GOAWAY"
				if tc.victim != 0 {
					what = "RST_STREAM"
				}
				t.Errorf("%s %s (%d), want %s", what, h2CodeName(uint32(code)), code, h2CodeName(uint32(tc.code)))
			}
		})
	}
}

// TestRFC8441GoAwayBelowOpenStreams: a GOAWAY whose last stream id is
// below an open stream (RFC 9113 §6.8) fails that stream with an error
// saying it was not processed, so that it may be retried; the streams at
// or below the id go on, and a new Dial opens a new connection.
func TestRFC8441GoAwayBelowOpenStreams(t *testing.T) {
	url := h2Peers(t, 2, func(i int, p *h2Peer) {
		if i == 1 { // the new connection
			if p.accept(1) {
				p.sendHi(1)
				p.await(h2GoAway, 0)
			}
			return
		}
		if !p.accept(1) || !p.accept(3) {
			return
		}
		p.c.Write(appendGoAway(nil, 1, h2NoError))
		p.sendHi(1)
		p.await(h2GoAway, 0)
	})
	ctx := h2ctx(t, 10*time.Second)
	cfg := &Config{HTTP2: true}
	a, _, err := cfg.Dial(ctx, url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := cfg.Dial(ctx, url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	buf := make([]byte, 64)
	_, _, err = b.Recv(ctx, buf)
	if he := (*h2Error)(nil); !errors.As(err, &he) || he.stream != 3 || !he.unprocessed() {
		t.Errorf("stream 3: err %v, want one saying it was not processed", err)
	}
	if n, _, err := a.Recv(ctx, buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("stream 1: %q, %v; want \"hi\"", buf[:n], err)
	}
	c, _, err := cfg.Dial(ctx, url, Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Underlying().(*clientStream).c == a.Underlying().(*clientStream).c {
		t.Error("a Dial after GOAWAY used the connection going away")
	}
	if n, _, err := c.Recv(ctx, buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("new connection: %q, %v; want \"hi\"", buf[:n], err)
	}
}

// TestRFC8441GoAwayRetry: a CONNECT that a GOAWAY leaves unprocessed
// (its stream above the last stream id, RFC 9113 §6.8) is tried once
// more on a new connection, and Dial succeeds there; a second refusal
// is Dial's error, with no third connection.
func TestRFC8441GoAwayRetry(t *testing.T) {
	for _, twice := range []bool{false, true} {
		name := "once"
		if twice {
			name = "twice"
		}
		t.Run(name, func(t *testing.T) {
			var conns atomic.Int32
			url := h2Peers(t, 3, func(i int, p *h2Peer) {
				conns.Add(1)
				switch {
				case i == 0: // stream 1 answered, stream 3 left unprocessed
					if !p.accept(1) {
						return
					}
					if _, ok := p.await(h2Headers, 3); !ok {
						return
					}
					p.c.Write(appendGoAway(nil, 1, h2NoError))
					p.sendHi(1)
				case i == 1 && twice:
					if _, ok := p.await(h2Headers, 1); !ok {
						return
					}
					p.c.Write(appendGoAway(nil, 0, h2NoError))
				default: // the retry's connection
					if !p.accept(1) {
						return
					}
					p.sendHi(1)
				}
				p.await(h2GoAway, 0)
			})
			ctx := h2ctx(t, 10*time.Second)
			cfg := &Config{HTTP2: true}
			a, _, err := cfg.Dial(ctx, url, Binary)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, _, err := cfg.Dial(ctx, url, Binary)
			buf := make([]byte, 64)
			if twice {
				if he := (*h2Error)(nil); !errors.As(err, &he) || !he.unprocessed() || !errors.Is(err, ErrConnReset) {
					t.Fatalf("Dial refused twice: %v, want ErrConnReset saying the stream was not processed", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Dial after GOAWAY: %v, want a retry on a new connection", err)
				}
				defer b.Close()
				if b.Underlying().(*clientStream).c == a.Underlying().(*clientStream).c {
					t.Error("the retry used the connection going away")
				}
				if n, _, err := b.Recv(ctx, buf); err != nil || string(buf[:n]) != "hi" {
					t.Errorf("retried WebSocket: %q, %v; want \"hi\"", buf[:n], err)
				}
			}
			if n, _, err := a.Recv(ctx, buf); err != nil || string(buf[:n]) != "hi" {
				t.Errorf("stream 1: %q, %v; want \"hi\"", buf[:n], err)
			}
			want := int32(2)
			if got := conns.Load(); got != want {
				t.Errorf("%d connections, want %d", got, want)
			}
		})
	}
}
