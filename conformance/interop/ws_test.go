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
	contract: wsContract,
}

var wsContract = &contract{
	isProto:    func(err error) bool { return errors.Is(err, ws.ErrProto) },
	isMsgSize:  func(err error) bool { return errors.Is(err, ws.ErrMsgSize) },
	isTimedOut: func(err error) bool { return errors.Is(err, ws.ErrTimedOut) },
	isCanceled: func(err error) bool { return errors.Is(err, ws.ErrCanceled) },
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

// wsHTTPLib is our library through its net/http entry points: Dial on the
// client side, Upgrade in an http.Server handler on the server side.
var wsHTTPLib = library{
	name: "ws (Dial/Upgrade)",
	dial: func(ctx context.Context, addr, path string, protocols []string) (endpoint, error) {
		c, resp, err := (&ws.Config{Subprotocols: protocols}).Dial(ctx, "ws://"+addr+path, 0)
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
			}
			return nil, err
		}
		return &wsEndpoint{c: c}, nil
	},
	listen: func(t *testing.T, d *dispatcher) string {
		cfg := &ws.Config{Subprotocols: serverProtocols}
		if d.anyOrigin {
			cfg.CheckOrigin = func(*http.Request) bool { return true }
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d.page != nil && r.Header.Get("Upgrade") == "" {
				d.page.ServeHTTP(w, r)
				return
			}
			c, err := cfg.Upgrade(w, r, 0)
			if err != nil {
				d.fail(fmt.Errorf("Upgrade: %w", err))
				return
			}
			d.deliver(c.Resource(), &wsEndpoint{c: c})
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	},
	contract:    wsContract,
	servesPages: true,
}

// TestNode runs every scenario between ws and Node's ws, each side as
// server and as client, through Attach* on raw TCP and through
// Dial/Upgrade.
func TestNode(t *testing.T) {
	t.Run("attach", func(t *testing.T) { runPeerSuite(t, wsLib, nodePeer) })
	t.Run("http", func(t *testing.T) { runPeerSuite(t, wsHTTPLib, nodePeer) })
}

// TestPython runs every scenario between ws and Python's websockets, each
// side as server and as client, through Attach* on raw TCP and through
// Dial/Upgrade.
func TestPython(t *testing.T) {
	t.Run("attach", func(t *testing.T) { runPeerSuite(t, wsLib, pythonPeer) })
	t.Run("http", func(t *testing.T) { runPeerSuite(t, wsHTTPLib, pythonPeer) })
}

// TestChromium has headless Chromium run testdata/page.html against our
// server: AttachServer on its own port (the page comes from another
// origin), and Upgrade in the http.Server that serves the page (same
// origin, default origin policy).
func TestChromium(t *testing.T) {
	t.Run("attach", func(t *testing.T) { runChromium(t, wsLib) })
	t.Run("http", func(t *testing.T) { runChromium(t, wsHTTPLib) })
}
