// Package dillws adapts github.com/dillgo/ws, the library under test:
// Attach*Mem with a per-connection Storage, Send and Recv with
// context.Background (its zero-allocation path).
package dillws

import (
	"context"
	"net"

	"github.com/dillgo/ws"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "ws", Client: client, Server: server})
}

type conn struct {
	st ws.Storage
	c  *ws.Conn
}

func client(u net.Conn, _ libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := ws.AttachClientMem(context.Background(), u, ws.Binary, "/", "127.0.0.1", &c.st)
	if err != nil {
		return nil, err
	}
	c.c = wc
	return c, nil
}

func server(u net.Conn, _ libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := ws.AttachServerMem(context.Background(), u, ws.Binary, &c.st)
	if err != nil {
		return nil, err
	}
	c.c = wc
	return c, nil
}

func (c *conn) Send(p []byte) error { return c.c.Send(context.Background(), ws.Binary, p) }

func (c *conn) Serve(buf []byte, fn func([]byte) bool) error {
	ctx := context.Background()
	for {
		n, _, err := c.c.Recv(ctx, buf)
		if err != nil {
			return err
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (c *conn) Close() error { return c.c.Close() }
