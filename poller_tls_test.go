package ws_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// clientFrame is a masked (key 0) binary frame of fewer than 126 bytes.
func clientFrame(p []byte) []byte {
	return append([]byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
}

// TestPollerTLS: a *tls.Conn whose handshake is done is watched on its
// socket; one whose handshake has not run yet gets the fallback (whose
// read runs it). Several messages in one TLS record (so that crypto/tls
// keeps decrypted bytes the socket no longer shows) and a message
// trickling in over many records are all echoed.
func TestPollerTLS(t *testing.T) {
	t.Run("handshaken", func(t *testing.T) { pollerTLS(t, true) })
	t.Run("lazy", func(t *testing.T) { pollerTLS(t, false) })
}

// watchTLSEcho listens on loopback; the connection it accepts becomes a
// *tls.Conn (handshaken first if handshake is set), attached with NoHTTP
// and watched by p, which echoes each message (receiving into a buffer of
// bufSize). It returns the address and a channel with Watch's error.
func watchTLSEcho(t *testing.T, p *ws.Poller, srvCfg *tls.Config, handshake bool, bufSize int) (string, <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	watched := make(chan error, 1)
	go func() {
		u, err := ln.Accept()
		if err != nil {
			watched <- err
			return
		}
		tc := tls.Server(u, srvCfg)
		if handshake {
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				watched <- err
				return
			}
			tc.SetDeadline(time.Time{})
		}
		c, err := ws.AttachServer(context.Background(), tc, ws.Binary|ws.NoHTTP)
		if err == nil {
			err = p.Watch(c, func(c *ws.Conn) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				buf := make([]byte, bufSize)
				n, f, err := c.Recv(ctx, buf)
				if err != nil {
					c.Close()
					return
				}
				c.Send(ctx, f, buf[:n])
			})
		}
		watched <- err
	}()
	return ln.Addr().String(), watched
}

func pollerTLS(t *testing.T, handshake bool) {
	srvCfg, cliCfg := igTLSConfigs(t)
	p, err := ws.NewPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr, watched := watchTLSEcho(t, p, srvCfg, handshake, 1024)
	raw, err := tls.Dial("tcp", addr, cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := <-watched; err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	var batch []byte
	var want [][]byte
	for i := 0; i < 20; i++ {
		m := bytes.Repeat([]byte(fmt.Sprint(i%10)), 100)
		want = append(want, m)
		batch = append(batch, clientFrame(m)...)
	}
	if _, err := raw.Write(batch); err != nil { // one record
		t.Fatal(err)
	}
	slow := clientFrame(bytes.Repeat([]byte("s"), 120))
	want = append(want, slow[6:])
	go func() {
		for i := range slow { // one record per byte
			raw.Write(slow[i : i+1])
			time.Sleep(time.Millisecond)
		}
	}()
	for i, m := range want {
		var h [2]byte
		if _, err := ioReadFull(raw, h[:]); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		got := make([]byte, h[1]&0x7f)
		if _, err := ioReadFull(raw, got); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPollerTLSOneAtATime: messages of 16 B to 64 KiB sent one at a time,
// each after the previous echo, to a watched *tls.Conn. A read returns
// what fits of the record crypto/tls decrypted and keeps the rest where
// the socket no longer shows it; the poller must take it before parking
// (a 1 KiB message after a 16-byte one used to wait forever).
func TestPollerTLSOneAtATime(t *testing.T) {
	srvCfg, cliCfg := igTLSConfigs(t)
	p, err := ws.NewPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr, watched := watchTLSEcho(t, p, srvCfg, true, 70000)
	raw, err := tls.Dial("tcp", addr, cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-watched; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ws.AttachClient(ctx, raw, ws.Binary|ws.NoHTTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 70000)
	for round := 0; round < 2; round++ {
		for _, size := range []int{16, 1024, 16 << 10, 64 << 10, 16, 125, 126, 4000} {
			m := bytes.Repeat([]byte{byte('a' + size%26)}, size)
			if err := c.Send(ctx, ws.Binary, m); err != nil {
				t.Fatalf("send %d: %v", size, err)
			}
			n, _, err := c.Recv(ctx, buf)
			if err != nil || !bytes.Equal(buf[:n], m) {
				t.Fatalf("echo of %d bytes: %d bytes, %v", size, n, err)
			}
		}
	}
}
