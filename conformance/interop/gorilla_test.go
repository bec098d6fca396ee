package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaLib is gorilla/websocket behind the endpoint interface: the
// reference that proves the peers and the scenarios right.
var gorillaLib = library{
	name: "gorilla",
	dial: func(ctx context.Context, addr, path string, protocols []string) (endpoint, error) {
		d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: connectTimeout}
		c, resp, err := d.DialContext(ctx, "ws://"+addr+path, nil)
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
			}
			return nil, err
		}
		return &gorillaEndpoint{c: c}, nil
	},
	listen: func(t *testing.T, d *dispatcher) string {
		up := websocket.Upgrader{Subprotocols: serverProtocols} // same origin only by default
		if d.anyOrigin {
			up.CheckOrigin = func(*http.Request) bool { return true }
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				d.fail(err)
				return
			}
			d.deliver(r.URL.RequestURI(), &gorillaEndpoint{c: c})
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	},
}

type gorillaEndpoint struct {
	c          *websocket.Conn
	peerClosed bool // gorilla's close handler has answered the peer's close
}

func deadline(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline()
	return dl
}

func (g *gorillaEndpoint) Send(ctx context.Context, text bool, p []byte) error {
	g.c.SetWriteDeadline(deadline(ctx))
	mt := websocket.BinaryMessage
	if text {
		mt = websocket.TextMessage
	}
	return g.c.WriteMessage(mt, p)
}

func (g *gorillaEndpoint) Recv(ctx context.Context, p []byte) (int, bool, error) {
	g.c.SetReadDeadline(deadline(ctx))
	mt, data, err := g.c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		g.peerClosed = true
		code := ce.Code
		if code == websocket.CloseNoStatusReceived {
			code = 0
		}
		return 0, false, peerClose{code: code, reason: ce.Text}
	}
	if err != nil {
		return 0, false, err
	}
	if len(data) > len(p) {
		return 0, false, fmt.Errorf("message of %d bytes does not fit in %d", len(data), len(p))
	}
	return copy(p, data), mt == websocket.TextMessage, nil
}

func (g *gorillaEndpoint) SendParts(ctx context.Context, text bool, parts [][]byte) error {
	g.c.SetWriteDeadline(deadline(ctx))
	mt := websocket.BinaryMessage
	if text {
		mt = websocket.TextMessage
	}
	w, err := g.c.NextWriter(mt)
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

func (g *gorillaEndpoint) RecvStream(ctx context.Context, chunk int) ([]byte, bool, error) {
	g.c.SetReadDeadline(deadline(ctx))
	mt, r, err := g.c.NextReader()
	if err != nil {
		return nil, false, err
	}
	data, err := readChunks(r, chunk)
	return data, mt == websocket.TextMessage, err
}

func (g *gorillaEndpoint) Done(ctx context.Context, code int, reason string) error {
	return g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline(ctx))
}

func (g *gorillaEndpoint) Detach(ctx context.Context, code int, reason string) error {
	defer g.c.Close()
	if g.peerClosed {
		return nil // gorilla answered with the peer's code already
	}
	msg := websocket.FormatCloseMessage(code, reason)
	if code == 0 {
		msg = nil // no status
	}
	if err := g.c.WriteControl(websocket.CloseMessage, msg, deadline(ctx)); err != nil {
		return err
	}
	g.c.SetReadDeadline(deadline(ctx))
	for {
		if _, _, err := g.c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return nil
			}
			return err
		}
	}
}

func (g *gorillaEndpoint) Subprotocol() string { return g.c.Subprotocol() }
func (g *gorillaEndpoint) Close() error        { return g.c.Close() }

// TestReferenceGorilla runs the peer suites with gorilla on our side. It
// proves the peers, the harness and the scenarios right (it takes seconds):
// a scenario that passes here and fails in TestNode or TestPython is a bug
// in ws.
func TestReferenceGorilla(t *testing.T) {
	defer withRow(reportRow(t, "gorilla on our side (calibration)", "the peer suites with Node, Python, Chromium", "HTTP/1.1"))()
	t.Run("node", func(t *testing.T) { runPeerSuite(t, gorillaLib, nodePeer) })
	t.Run("python", func(t *testing.T) { runPeerSuite(t, gorillaLib, pythonPeer) })
	t.Run("chromium", func(t *testing.T) { runChromium(t, gorillaLib, false) })
}
