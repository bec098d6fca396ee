package ws

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// invalidCompression lists options that no entry point may accept: before
// the fix a Level of 10 was accepted and panicked on the first Send (index
// out of range in writerPools), and out-of-range window sizes were taken
// silently as 15.
var invalidCompression = []struct {
	name string
	o    CompressionOptions
}{
	{"level 10", CompressionOptions{Level: 10}},
	{"level -3", CompressionOptions{Level: -3}},
	{"level huge", CompressionOptions{Level: 1 << 20}},
	{"server window 7", CompressionOptions{ServerMaxWindowBits: 7}},
	{"server window 16", CompressionOptions{ServerMaxWindowBits: 16}},
	{"client window -1", CompressionOptions{ClientMaxWindowBits: -1}},
	{"client window 1", CompressionOptions{ClientMaxWindowBits: 1}},
}

// TestCompressionOptionsInvalid: each invalid option is ErrInvalid from
// AttachClient, AttachServer (with and without the handshake, plain and
// Mem), Upgrade and Dial, before any I/O; attach closes u as usual; the
// caller's options are untouched; nothing panics.
func TestCompressionOptionsInvalid(t *testing.T) {
	for _, tc := range invalidCompression {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			cfg := &Config{Compression: &o}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			attaches := []struct {
				name   string
				attach func(u net.Conn) (*Conn, error)
			}{
				{"AttachClient", func(u net.Conn) (*Conn, error) { return cfg.AttachClient(ctx, u, Text, "/", "h") }},
				{"AttachClient NoHTTP", func(u net.Conn) (*Conn, error) { return cfg.AttachClient(ctx, u, NoHTTP, "/", "h") }},
				{"AttachClientMem", func(u net.Conn) (*Conn, error) {
					return cfg.AttachClientMem(ctx, u, 0, "/", "h", new(Storage))
				}},
				{"AttachServer", func(u net.Conn) (*Conn, error) { return cfg.AttachServer(ctx, u, 0) }},
				{"AttachServer NoHTTP", func(u net.Conn) (*Conn, error) { return cfg.AttachServer(ctx, u, NoHTTP) }},
				{"AttachServerMem", func(u net.Conn) (*Conn, error) { return cfg.AttachServerMem(ctx, u, 0, new(Storage)) }},
			}
			for _, a := range attaches {
				u, peer := tcpPair(t)
				c, err := a.attach(u)
				if c != nil || !errors.Is(err, ErrInvalid) {
					if c != nil {
						c.Close()
					}
					t.Fatalf("%s: %v, want ErrInvalid", a.name, err)
				}
				// u was closed, and nothing was written on it.
				peer.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Fatalf("%s: peer read %d, %v; want EOF (u closed, nothing sent)", a.name, n, err)
				}
			}

			upgradeErr := make(chan error, 1)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := cfg.Upgrade(w, r, Text)
				if c != nil {
					c.Close()
				}
				upgradeErr <- err
			}))
			defer ts.Close()
			if status := rawUpgradeStatus(t, ctx, ts.Listener.Addr().String()); status != http.StatusInternalServerError {
				t.Fatalf("Upgrade answered %d, want 500", status)
			}
			if err := <-upgradeErr; !errors.Is(err, ErrInvalid) {
				t.Fatalf("Upgrade: %v, want ErrInvalid", err)
			}

			var dials atomic.Int32
			dcfg := *cfg
			dcfg.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			c, resp, err := dcfg.Dial(ctx, "ws://"+ts.Listener.Addr().String()+"/", 0)
			if c != nil || resp != nil || !errors.Is(err, ErrInvalid) || dials.Load() != 0 {
				t.Fatalf("Dial: %v (response %v, %d dials), want ErrInvalid before connecting", err, resp, dials.Load())
			}
			if o != tc.o {
				t.Fatalf("options modified: %+v", o)
			}
		})
	}
}

// TestCompressionOptionsLimits: the extreme valid values are accepted and
// a message goes through each way compressed.
func TestCompressionOptionsLimits(t *testing.T) {
	for _, o := range []CompressionOptions{
		{Level: -2, Threshold: -1},
		{Level: -1, Threshold: -1},
		{Level: 9, Threshold: -1, ServerMaxWindowBits: 8, ClientMaxWindowBits: 8},
		{Level: 1, Threshold: -1, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
	} {
		cfg := &Config{Compression: &o}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a, b := tcpPair(t)
		srv := make(chan error, 1)
		var sc *Conn
		go func() {
			var err error
			sc, err = cfg.AttachServer(ctx, b, 0)
			srv <- err
		}()
		cc, err := cfg.AttachClient(ctx, a, 0, "/", "localhost")
		if serr := <-srv; err != nil || serr != nil {
			cancel()
			t.Fatalf("%+v: attach %v / %v", o, err, serr)
		}
		if cc.Extensions() == "" {
			t.Errorf("%+v: permessage-deflate not agreed", o)
		}
		msg := []byte(strings.Repeat("compress me ", 50))
		for _, dir := range [][2]*Conn{{cc, sc}, {sc, cc}} {
			sent := make(chan error, 1)
			go func() { sent <- dir[0].Send(ctx, Binary, msg) }()
			buf := make([]byte, 1024)
			n, _, err := dir[1].Recv(ctx, buf)
			if serr := <-sent; err != nil || serr != nil || string(buf[:n]) != string(msg) {
				t.Errorf("%+v: got %d bytes, %v / %v", o, n, err, serr)
			}
		}
		cc.Close()
		sc.Close()
		cancel()
	}
}

// rawUpgradeStatus sends a valid upgrade request to addr and returns the
// status of the answer.
func rawUpgradeStatus(t *testing.T, ctx context.Context, addr string) int {
	t.Helper()
	var d net.Dialer
	u, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	dl, _ := ctx.Deadline()
	u.SetDeadline(dl)
	io.WriteString(u, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(u), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
