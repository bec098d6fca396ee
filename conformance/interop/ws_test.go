package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/dillgo/ws"
)

// wsLib is our library behind the endpoint interface: AttachClient and
// AttachServer over raw TCP, with serverProtocols on the server side.
var wsLib = library{
	name: "ws",
	dial: func(ctx context.Context, addr, path string, protocols []string) (endpoint, error) {
		var d net.Dialer
		u, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		c, err := (&ws.Config{Subprotocols: protocols}).AttachClient(ctx, u, 0, path, addr)
		if err != nil {
			return nil, err
		}
		return &wsEndpoint{c: c}, nil
	},
	listen: func(t *testing.T, d *dispatcher) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := &ws.Config{Subprotocols: serverProtocols}
		if d.anyOrigin {
			cfg.CheckOrigin = func(*http.Request) bool { return true }
		}
		var wg sync.WaitGroup
		t.Cleanup(func() {
			ln.Close()
			wg.Wait()
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
					defer cancel()
					c, err := cfg.AttachServer(ctx, u, 0)
					if err != nil {
						d.fail(fmt.Errorf("AttachServer: %w", err))
						return
					}
					d.deliver(c.Resource(), &wsEndpoint{c: c})
				}()
			}
		}()
		return ln.Addr().String()
	},
	isProto: func(err error) bool { return errors.Is(err, ws.ErrProto) },
}

type wsEndpoint struct{ c *ws.Conn }

func flagsOf(text bool) ws.Flags {
	if text {
		return ws.Text
	}
	return ws.Binary
}

func (e *wsEndpoint) Send(ctx context.Context, text bool, p []byte) error {
	return e.c.Send(ctx, flagsOf(text), p)
}

func (e *wsEndpoint) Recv(ctx context.Context, p []byte) (int, bool, error) {
	n, flags, err := e.c.Recv(ctx, p)
	var ce ws.CloseError
	if errors.As(err, &ce) {
		if !errors.Is(err, ws.ErrPipe) {
			return 0, false, fmt.Errorf("Recv returned %v: a CloseError that is not ErrPipe", err)
		}
		return 0, false, peerClose{code: int(ce.Code), reason: ce.Reason}
	}
	return n, flags&ws.Text != 0, err
}

func (e *wsEndpoint) SendParts(ctx context.Context, text bool, parts [][]byte) error {
	w, err := e.c.Writer(ctx, flagsOf(text))
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return w.Close()
}

func (e *wsEndpoint) RecvStream(ctx context.Context, chunk int) ([]byte, bool, error) {
	flags, r, err := e.c.Reader(ctx)
	if err != nil {
		return nil, false, err
	}
	data, err := readChunks(r, chunk)
	return data, flags&ws.Text != 0, err
}

func (e *wsEndpoint) Done(ctx context.Context, code int, reason string) error {
	return e.c.Done(ctx, ws.StatusCode(code), reason)
}

// Detach starts the close handshake or answers the peer's with code and
// reason, then closes the conn Detach hands back.
func (e *wsEndpoint) Detach(ctx context.Context, code int, reason string) error {
	u, err := e.c.Detach(ctx, ws.StatusCode(code), reason)
	if err != nil {
		return err
	}
	if u == nil {
		return errors.New("Detach returned a nil net.Conn and no error")
	}
	return u.Close()
}

func (e *wsEndpoint) Subprotocol() string { return e.c.Subprotocol() }
func (e *wsEndpoint) Close() error        { return e.c.Close() }

// TestNode runs every scenario between ws and Node's ws, each side as
// server and as client.
func TestNode(t *testing.T) { runPeerSuite(t, wsLib, nodePeer) }

// TestPython runs every scenario between ws and Python's websockets, each
// side as server and as client.
func TestPython(t *testing.T) { runPeerSuite(t, wsLib, pythonPeer) }

// TestChromium has headless Chromium run testdata/page.html against our
// server.
func TestChromium(t *testing.T) { runChromium(t, wsLib) }
