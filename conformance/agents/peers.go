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
func GorillaServer() Server {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return Server{Name: "gorilla", Start: func() (string, func(), error) {
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
func GorillaClient() Client {
	return Client{Name: "gorilla", Run: func(ctx context.Context, url string) error {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
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
func CoderServer() Server {
	return Server{Name: "coder", Start: func() (string, func(), error) {
		return serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := coder.Accept(w, r, &coder.AcceptOptions{
				InsecureSkipVerify: true,
				CompressionMode:    coder.CompressionDisabled,
			})
			if err != nil {
				return
			}
			coderEcho(r.Context(), c)
		}))
	}}
}

// CoderClient is coder/websocket's Dial.
func CoderClient() Client {
	return Client{Name: "coder", Run: func(ctx context.Context, url string) error {
		c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: coder.CompressionDisabled})
		if err != nil {
			return err
		}
		return coderEcho(ctx, c)
	}}
}
