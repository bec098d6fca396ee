//go:build !nows

package agents

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/dillgo/ws"
)

// Agents built on github.com/dillgo/ws, one per API layer. Each echoes
// every message with its type. On the peer's close (a CloseError) it
// answers with Detach echoing the peer's code and closes the returned
// conn; on any other error (the library already sent 1002/1007/1009 when
// the peer broke the protocol) it calls Close.

// echoLoop is one API layer's echo loop over an attached connection.
type echoLoop func(ctx context.Context, c *ws.Conn, buf []byte) error

type wsLayer struct {
	name  string
	flags ws.Flags // attach flags
	only  string   // OnlyType
	loop  echoLoop
	cfg   *ws.Config // nil: the defaults
}

func wsLayers() []wsLayer {
	return []wsLayer{
		{"ws-send-recv", ws.Binary, "", echoSendRecv, nil},
		{"ws-sendv-recvv", ws.Binary, "", echoSendVRecvV, nil},
		{"ws-msend-binary", ws.Binary, "binary", echoMSend, nil},
		{"ws-msend-text", ws.Text, "text", echoMSend, nil},
		{"ws-msendv-binary", ws.Binary, "binary", echoMSendV, nil},
		{"ws-stream", ws.Binary, "", echoStream, nil},
	}
}

// deflateConfig enables permessage-deflate with ws's defaults (context
// takeover both ways, a 128-byte threshold), as a browser-facing server
// would.
var deflateConfig = &ws.Config{Compression: &ws.CompressionOptions{}}

// deflateLayers are the layers that also run with compression, as
// "<name>-deflate": message-at-once and streaming.
var deflateLayers = map[string]bool{"ws-send-recv": true, "ws-stream": true}

// withDeflate returns the layers plus their compression variants.
func withDeflate(ls []wsLayer) []wsLayer {
	out := ls
	for _, l := range ls {
		if deflateLayers[l.name] {
			l.name += "-deflate"
			l.cfg = deflateConfig
			out = append(out, l)
		}
	}
	return out
}

// WsServers lists the server agents built on ws.
func WsServers() []Server {
	var out []Server
	for _, l := range withDeflate(wsLayers()) {
		l := l
		out = append(out, Server{Name: l.name, OnlyType: l.only, Deflate: l.cfg != nil, Start: func() (string, func(), error) {
			return serveTCP(func(ctx context.Context, u net.Conn) {
				c, err := l.cfg.AttachServer(ctx, u, l.flags)
				if err != nil {
					return // AttachServer answered with a 4xx and closed u
				}
				runLoop(ctx, c, l.loop)
			})
		}})
	}
	return append(out, wsHTTPServer("ws-http-upgrade", nil, false), wsHTTPServer("ws-http-upgrade-deflate", deflateConfig, false),
		wsHTTPServer("ws-http-upgrade-h2", nil, true), wsHTTPServer("ws-http-upgrade-deflate-h2", deflateConfig, true))
}

// wsHTTPServer is (*Config).Upgrade behind net/http, echoing with Send/Recv;
// with h2 the server also speaks h2c and the engine opens RFC 8441
// streams. The handler returns only once the WebSocket ended, as Upgrade
// asks of HTTP/2 handlers.
func wsHTTPServer(name string, cfg *ws.Config, h2 bool) Server {
	return Server{Name: name, Deflate: cfg != nil, HTTP2: h2, Start: func() (string, func(), error) {
		ctx, cancel := context.WithCancel(context.Background())
		addr, stop, err := serveHTTPWith(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := cfg.Upgrade(w, r, ws.Binary)
			if err != nil {
				return // Upgrade answered with an HTTP error
			}
			runLoop(ctx, c, echoSendRecv) // r.Context() ends with the handler; use our own
		}), h2)
		return addr, func() { cancel(); stop() }, err
	}}
}

// wsDialClient is (*Config).Dial, echoing with Send/Recv. With
// cfg.HTTP2 every case's WebSocket is a stream of the HTTP/2 connection
// the Config shares (ws:// with prior knowledge).
func wsDialClient(name string, cfg *ws.Config) Client {
	return Client{Name: name, Deflate: cfg != nil && cfg.Compression != nil, HTTP2: cfg != nil && cfg.HTTP2, Run: func(ctx context.Context, rawURL string) error {
		c, _, err := cfg.Dial(ctx, rawURL, ws.Binary)
		if err != nil {
			return err
		}
		return runLoop(ctx, c, echoSendRecv)
	}}
}

// WsClients lists the client agents built on ws.
func WsClients() []Client {
	var out []Client
	for _, l := range withDeflate(wsLayers()) {
		l := l
		out = append(out, Client{Name: l.name, OnlyType: l.only, Deflate: l.cfg != nil, Run: func(ctx context.Context, rawURL string) error {
			u, err := url.Parse(rawURL)
			if err != nil {
				return err
			}
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", u.Host)
			if err != nil {
				return err
			}
			c, err := l.cfg.AttachClient(ctx, nc, l.flags, u.RequestURI(), u.Host)
			if err != nil {
				return err // AttachClient closed nc
			}
			return runLoop(ctx, c, l.loop)
		}})
	}
	h2 := &ws.Config{HTTP2: true}
	h2deflate := &ws.Config{Compression: &ws.CompressionOptions{}, HTTP2: true}
	return append(out, wsDialClient("ws-dial", nil), wsDialClient("ws-dial-deflate", deflateConfig),
		wsDialClient("ws-dial-h2", h2), wsDialClient("ws-dial-deflate-h2", h2deflate))
}

// runLoop runs loop with a pooled buffer and ends the connection the way
// the agent contract says.
func runLoop(ctx context.Context, c *ws.Conn, loop echoLoop) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	err := loop(ctx, c, *bp)
	finish(ctx, c, err)
	return err
}

// finish ends a connection after the echo loop stopped with err.
func finish(ctx context.Context, c *ws.Conn, err error) {
	var ce ws.CloseError
	code, detach := ws.StatusCode(0), false
	switch {
	case errors.As(err, &ce):
		code, detach = ce.Code, true
	case errors.Is(err, errWrongType):
		code, detach = ws.StatusUnsupportedData, true
	}
	if !detach {
		c.Close()
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, derr := c.Detach(dctx, code, "")
	if derr != nil {
		c.Close()
		return
	}
	u.Close()
}

// errWrongType marks an ErrProto from MRecv that may be a type mismatch.
var errWrongType = errors.New("message of the other type")

func echoSendRecv(ctx context.Context, c *ws.Conn, buf []byte) error {
	for {
		n, fl, err := c.Recv(ctx, buf)
		if err != nil {
			return err
		}
		if err := c.Send(ctx, fl, buf[:n]); err != nil {
			return err
		}
	}
}

// echoSendVRecvV scatters into three uneven buffers and gathers the
// echo from the same pieces.
func echoSendVRecvV(ctx context.Context, c *ws.Conn, buf []byte) error {
	b1, b2, b3 := buf[:7], buf[7:7+4093], buf[7+4093:]
	for {
		n, fl, err := c.RecvV(ctx, b1, b2, b3)
		if err != nil {
			return err
		}
		if err := c.SendV(ctx, fl, pieces(n, b1, b2, b3)...); err != nil {
			return err
		}
	}
}

// pieces returns the prefixes of bufs that hold n bytes in total.
func pieces(n int, bufs ...[]byte) [][]byte {
	var out [][]byte
	for _, b := range bufs {
		k := min(n, len(b))
		out = append(out, b[:k])
		n -= k
	}
	return out
}

// mrecvErr turns an ErrProto from MRecv into errWrongType when the
// connection is still usable (the message of the other type stays
// queued); a protocol violation leaves it failed, and Detach then fails.
func mrecvErr(err error) error {
	if errors.Is(err, ws.ErrProto) {
		return errors.Join(errWrongType, err)
	}
	return err
}

func echoMSend(ctx context.Context, c *ws.Conn, buf []byte) error {
	for {
		n, err := c.MRecv(ctx, buf)
		if err != nil {
			return mrecvErr(err)
		}
		if err := c.MSend(ctx, buf[:n]); err != nil {
			return err
		}
	}
}

func echoMSendV(ctx context.Context, c *ws.Conn, buf []byte) error {
	b1, b2 := buf[:1000], buf[1000:]
	for {
		n, err := c.MRecvV(ctx, b1, b2)
		if err != nil {
			return mrecvErr(err)
		}
		if err := c.MSendV(ctx, pieces(n, b1, b2)...); err != nil {
			return err
		}
	}
}

// echoStream copies each message from Reader to Writer.
func echoStream(ctx context.Context, c *ws.Conn, buf []byte) error {
	chunk := buf[:32<<10]
	for {
		fl, r, err := c.Reader(ctx)
		if err != nil {
			return err
		}
		w, err := c.Writer(ctx, fl)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, r, chunk); err != nil {
			var ce ws.CloseError
			if errors.As(err, &ce) {
				// The peer closed mid-message. Detach is busy while the
				// Writer is open, so finish our message first (RFC 6455
				// §5.5.1 allows that) and then answer the close.
				w.Close()
			}
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}
