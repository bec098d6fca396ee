package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dillgo/ws"
)

// wsLib is our library behind the endpoint interface: AttachClient and
// AttachServer over raw TCP, with serverProtocols on the server side.
var wsLib = wsAttachLib("ws", nil)

// wsAttachLib is wsLib with Config.Compression set to comp on both sides.
func wsAttachLib(name string, comp *ws.CompressionOptions) library {
	return library{
		name: name,
		dial: func(ctx context.Context, addr, path string, protocols []string) (endpoint, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			u := &countingConn{Conn: nc}
			c, err := (&ws.Config{Subprotocols: protocols, Compression: comp}).AttachClient(ctx, u, 0, path, addr)
			if err != nil {
				return nil, err
			}
			return &wsEndpoint{c: c, wire: u}, nil
		},
		listen: func(t *testing.T, d *dispatcher) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := &ws.Config{Subprotocols: serverProtocols, Compression: comp}
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
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					u := &countingConn{Conn: nc}
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
						d.deliver(c.Resource(), &wsEndpoint{c: c, wire: u})
					}()
				}
			}()
			return ln.Addr().String()
		},
		contract: wsContract,
	}
}

var wsContract = &contract{
	isProto:    func(err error) bool { return errors.Is(err, ws.ErrProto) },
	isMsgSize:  func(err error) bool { return errors.Is(err, ws.ErrMsgSize) },
	isTimedOut: func(err error) bool { return errors.Is(err, ws.ErrTimedOut) },
	isCanceled: func(err error) bool { return errors.Is(err, ws.ErrCanceled) },
}

type wsEndpoint struct {
	c    *ws.Conn
	wire *countingConn // the bytestream under c, counting its bytes
}

// countingConn counts the bytes that cross a connection, so that the
// deflate scenarios can tell messages were compressed on the wire.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// wireBytes returns the bytes read and written so far on the endpoint's
// bytestream (ok false if unknown).
func (e *wsEndpoint) wireBytes() (read, written int64, ok bool) {
	if e.wire == nil {
		return 0, 0, false
	}
	return e.wire.read.Load(), e.wire.written.Load(), true
}

// countingListener hands out countingConns, for net/http servers.
type countingListener struct{ net.Listener }

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c}, nil
}

type wireKey struct{}

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
func (e *wsEndpoint) Extensions() string  { return e.c.Extensions() }
func (e *wsEndpoint) Close() error        { return e.c.Close() }

// wsHTTPLib is our library through its net/http entry points: Dial on the
// client side, Upgrade in an http.Server handler on the server side.
var wsHTTPLib = wsHTTPLibrary("ws (Dial/Upgrade)", nil)

// wsHTTPLibrary is wsHTTPLib with Config.Compression set to comp on both
// sides.
func wsHTTPLibrary(name string, comp *ws.CompressionOptions) library {
	return library{
		name: name,
		dial: func(ctx context.Context, addr, path string, protocols []string) (endpoint, error) {
			var wire *countingConn
			cfg := &ws.Config{Subprotocols: protocols, Compression: comp,
				NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					var d net.Dialer
					nc, err := d.DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					wire = &countingConn{Conn: nc}
					return wire, nil
				}}
			c, resp, err := cfg.Dial(ctx, "ws://"+addr+path, 0)
			if err != nil {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
				}
				return nil, err
			}
			return &wsEndpoint{c: c, wire: wire}, nil
		},
		listen: func(t *testing.T, d *dispatcher) string {
			cfg := &ws.Config{Subprotocols: serverProtocols, Compression: comp}
			if d.anyOrigin {
				cfg.CheckOrigin = func(*http.Request) bool { return true }
			}
			srv := &http.Server{ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, wireKey{}, c)
			}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if d.page != nil && r.Header.Get("Upgrade") == "" {
					d.page.ServeHTTP(w, r)
					return
				}
				c, err := cfg.Upgrade(w, r, 0)
				if err != nil {
					d.fail(fmt.Errorf("Upgrade: %w", err))
					return
				}
				wire, _ := r.Context().Value(wireKey{}).(*countingConn)
				d.deliver(c.Resource(), &wsEndpoint{c: c, wire: wire})
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(countingListener{ln})
			t.Cleanup(func() { srv.Close() })
			return ln.Addr().String()
		},
		contract:    wsContract,
		servesPages: true,
	}
}

// TestNode runs every scenario between ws and Node's ws, each side as
// server and as client, through Attach* on raw TCP and through
// Dial/Upgrade.
func TestNode(t *testing.T) {
	defer withRow(reportRow(t, "Node ws", "every scenario, each side server and client, Attach* and Dial/Upgrade", "HTTP/1.1"))()
	t.Run("attach", func(t *testing.T) { runPeerSuite(t, wsLib, nodePeer) })
	t.Run("http", func(t *testing.T) { runPeerSuite(t, wsHTTPLib, nodePeer) })
}

// TestPython runs every scenario between ws and Python's websockets, each
// side as server and as client, through Attach* on raw TCP and through
// Dial/Upgrade.
func TestPython(t *testing.T) {
	defer withRow(reportRow(t, "Python websockets", "every scenario, each side server and client, Attach* and Dial/Upgrade", "HTTP/1.1"))()
	t.Run("attach", func(t *testing.T) { runPeerSuite(t, wsLib, pythonPeer) })
	t.Run("http", func(t *testing.T) { runPeerSuite(t, wsHTTPLib, pythonPeer) })
}

// TestChromium has headless Chromium run testdata/page.html against our
// server: AttachServer on its own port (the page comes from another
// origin), and Upgrade in the http.Server that serves the page (same
// origin, default origin policy).
func TestChromium(t *testing.T) {
	defer withRow(reportRow(t, "Chromium", "page.html against AttachServer and Upgrade", "HTTP/1.1"))()
	t.Run("attach", func(t *testing.T) { runChromium(t, wsLib, false) })
	t.Run("http", func(t *testing.T) { runChromium(t, wsHTTPLib, false) })
}
