package agents

import (
	"context"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

// Calibration agents: echo agents built the way each library's own
// Autobahn harness builds them.

// gorillaEcho mirrors gorilla's examples/autobahn "/m" handler: read whole
// messages, validate text in the application (gorilla itself does not
// validate UTF-8) and close with 1007 when invalid.
func gorillaEcho(c *websocket.Conn) error {
	defer c.Close()
	for {
		mt, b, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if mt == websocket.TextMessage && !utf8.Valid(b) {
			c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""),
				time.Now().Add(time.Second))
			return nil
		}
		if err := c.WriteMessage(mt, b); err != nil {
			return err
		}
	}
}

// GorillaServer is gorilla/websocket's Upgrader behind net/http.
func GorillaServer() Server { return gorillaServer("gorilla", false) }

// GorillaDeflateServer is GorillaServer with EnableCompression, as
// gorilla's own Autobahn server runs (permessage-deflate without context
// takeover, the only mode gorilla implements).
func GorillaDeflateServer() Server { return gorillaServer("gorilla-deflate", true) }

func gorillaServer(name string, deflate bool) Server {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: deflate}
	return Server{Name: name, Deflate: deflate, Start: func() (string, func(), error) {
		return serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return // Upgrade already answered with an HTTP error
			}
			gorillaEcho(c)
		}))
	}}
}

// GorillaClient is gorilla/websocket's Dialer.
func GorillaClient() Client { return gorillaClient("gorilla", false) }

// GorillaDeflateClient is GorillaClient with EnableCompression.
func GorillaDeflateClient() Client { return gorillaClient("gorilla-deflate", true) }

func gorillaClient(name string, deflate bool) Client {
	d := *websocket.DefaultDialer
	d.EnableCompression = deflate
	return Client{Name: name, Deflate: deflate, Run: func(ctx context.Context, url string) error {
		c, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return err
		}
		return gorillaEcho(c)
	}}
}

// coderEcho mirrors coder/websocket's own Autobahn echo loop: stream each
// message from Reader to Writer.
func coderEcho(ctx context.Context, c *coder.Conn) error {
	defer c.CloseNow()
	c.SetReadLimit(1 << 30)
	b := make([]byte, 32<<10)
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return err
		}
		w, err := c.Writer(ctx, typ)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, r, b); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// CoderServer is coder/websocket's Accept behind net/http.
func CoderServer() Server { return coderServer("coder", coder.CompressionDisabled) }

// CoderDeflateServer is CoderServer with CompressionContextTakeover (it
// falls back to no context takeover when the client asks for it).
func CoderDeflateServer() Server {
	return coderServer("coder-deflate", coder.CompressionContextTakeover)
}

func coderServer(name string, mode coder.CompressionMode) Server {
	return Server{Name: name, Deflate: mode != coder.CompressionDisabled, Start: func() (string, func(), error) {
		return serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := coder.Accept(w, r, &coder.AcceptOptions{
				InsecureSkipVerify: true,
				CompressionMode:    mode,
			})
			if err != nil {
				return
			}
			coderEcho(r.Context(), c)
		}))
	}}
}

// CoderClient is coder/websocket's Dial.
func CoderClient() Client { return coderClient("coder", coder.CompressionDisabled) }

// CoderDeflateClient is CoderClient with CompressionContextTakeover.
func CoderDeflateClient() Client {
	return coderClient("coder-deflate", coder.CompressionContextTakeover)
}

func coderClient(name string, mode coder.CompressionMode) Client {
	return Client{Name: name, Deflate: mode != coder.CompressionDisabled, Run: func(ctx context.Context, url string) error {
		c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: mode})
		if err != nil {
			return err
		}
		return coderEcho(ctx, c)
	}}
}
