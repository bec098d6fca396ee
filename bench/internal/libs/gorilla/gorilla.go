// Package gorilla adapts github.com/gorilla/websocket: NextReader read into
// the caller's buffer, WriteMessage to send.
package gorilla

import (
	"net"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "gorilla", Deflate: true, Client: client, Server: server})
}

type conn struct{ c *websocket.Conn }

func client(c net.Conn, o libs.Opts) (libs.Conn, error) {
	d := websocket.Dialer{
		NetDial:           func(string, string) (net.Conn, error) { return c, nil },
		EnableCompression: o.Deflate,
	}
	wc, _, err := d.Dial("ws://127.0.0.1/", nil)
	if err != nil {
		return nil, err
	}
	return &conn{wc}, nil
}

func server(c net.Conn, o libs.Opts) (libs.Conn, error) {
	w, r, err := libs.ReadRequest(c)
	if err != nil {
		return nil, err
	}
	u := websocket.Upgrader{
		EnableCompression: o.Deflate,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	wc, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return &conn{wc}, nil
}

func (c *conn) Send(p []byte) error { return c.c.WriteMessage(websocket.BinaryMessage, p) }

func (c *conn) Serve(buf []byte, fn func([]byte) bool) error {
	for {
		_, r, err := c.c.NextReader()
		if err != nil {
			return err
		}
		n, err := libs.ReadMsg(r, buf)
		if err != nil {
			return err
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (c *conn) Close() error { return c.c.Close() }
