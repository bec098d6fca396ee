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
