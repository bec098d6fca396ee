// Package coder adapts github.com/coder/websocket: Reader read into the
// caller's buffer, Write to send, context.Background everywhere.
package coder

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "coder", Deflate: true, Client: client, Server: server})
}

type conn struct{ c *websocket.Conn }

func mode(o libs.Opts) websocket.CompressionMode {
	if o.Deflate {
		return websocket.CompressionContextTakeover
	}
	return websocket.CompressionDisabled
}

func client(c net.Conn, o libs.Opts) (libs.Conn, error) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return c, nil },
	}}
	wc, _, err := websocket.Dial(context.Background(), "ws://127.0.0.1/", &websocket.DialOptions{
		HTTPClient:      hc,
		CompressionMode: mode(o),
	})
	if err != nil {
		return nil, err
	}
	wc.SetReadLimit(-1)
	return &conn{wc}, nil
}

func server(c net.Conn, o libs.Opts) (libs.Conn, error) {
	w, r, err := libs.ReadRequest(c)
	if err != nil {
		return nil, err
	}
	wc, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    mode(o),
	})
	if err != nil {
		return nil, err
	}
	wc.SetReadLimit(-1)
	return &conn{wc}, nil
}

func (c *conn) Send(p []byte) error {
	return c.c.Write(context.Background(), websocket.MessageBinary, p)
}

func (c *conn) Serve(buf []byte, fn func([]byte) bool) error {
	ctx := context.Background()
	for {
		_, r, err := c.c.Reader(ctx)
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

func (c *conn) Close() error { return c.c.CloseNow() }
