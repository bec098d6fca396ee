// Package gws adapts github.com/lxzan/gws: event-driven, so Serve runs
// ReadLoop and hands each OnMessage payload to the callback; WriteMessage
// sends.
package gws

import (
	"errors"
	"net"

	"github.com/lxzan/gws"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "gws", Deflate: true, Client: client, Server: server})
}

const maxPayload = 64 << 20

var pmd = gws.PermessageDeflate{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}

var (
	plain = gws.NewUpgrader(events{}, &gws.ServerOption{
		ReadMaxPayloadSize: maxPayload, WriteMaxPayloadSize: maxPayload, NewSession: newSession})
	deflated = gws.NewUpgrader(events{}, &gws.ServerOption{
		ReadMaxPayloadSize: maxPayload, WriteMaxPayloadSize: maxPayload, NewSession: newSession,
		PermessageDeflate: pmd})
)

// handler is the per-connection state. It doubles as the connection's
// gws.SessionStorage, so the shared event handler finds it with a type
// assertion instead of a map lookup.
type handler struct {
	fn      func([]byte) bool
	stopped bool
}

func newSession() gws.SessionStorage { return &handler{} }

func (h *handler) Len() int                     { return 0 }
func (h *handler) Load(string) (any, bool)      { return nil, false }
func (h *handler) Delete(string)                {}
func (h *handler) Store(string, any)            {}
func (h *handler) Range(func(string, any) bool) {}

// events forwards OnMessage to the connection's Serve callback.
type events struct{ gws.BuiltinEventHandler }

func (events) OnMessage(s *gws.Conn, m *gws.Message) {
	h := s.Session().(*handler)
	if h.stopped || h.fn == nil {
		m.Close()
		return
	}
	if !h.fn(m.Bytes()) {
		h.stopped = true
		s.NetConn().Close()
	}
	m.Close()
}

type conn struct {
	c *gws.Conn
	h *handler
}

func client(c net.Conn, o libs.Opts) (libs.Conn, error) {
	opt := &gws.ClientOption{Addr: "ws://127.0.0.1/",
		ReadMaxPayloadSize: maxPayload, WriteMaxPayloadSize: maxPayload, NewSession: newSession}
	if o.Deflate {
		opt.PermessageDeflate = pmd
	}
	wc, _, err := gws.NewClientFromConn(events{}, opt, c)
	if err != nil {
		return nil, err
	}
	return &conn{wc, wc.Session().(*handler)}, nil
}

func server(c net.Conn, o libs.Opts) (libs.Conn, error) {
	w, r, err := libs.ReadRequest(c)
	if err != nil {
		return nil, err
	}
	u := plain
	if o.Deflate {
		u = deflated
	}
	wc, err := u.UpgradeFromConn(c, w.Reader(), r)
	if err != nil {
		return nil, err
	}
	return &conn{wc, wc.Session().(*handler)}, nil
}

func (c *conn) Send(p []byte) error { return c.c.WriteMessage(gws.OpcodeBinary, p) }

var errClosed = errors.New("gws: connection closed")

func (c *conn) Serve(_ []byte, fn func([]byte) bool) error {
	c.h.fn = fn
	c.c.ReadLoop()
	if c.h.stopped {
		return nil
	}
	return errClosed
}

func (c *conn) Close() error { return c.c.NetConn().Close() }
