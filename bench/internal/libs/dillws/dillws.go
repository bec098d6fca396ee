// Package dillws adapts github.com/dillgo/ws, the library under test:
// Attach*Mem with a per-connection Storage, Send and Recv with
// context.Background (its zero-allocation path). With Opts.Deflate, both
// sides set Config.Compression to &ws.CompressionOptions{}: level 1,
// threshold 128 bytes, context takeover both ways.
package dillws

import (
	"context"
	"errors"
	"net"

	"github.com/dillgo/ws"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "ws", Deflate: true, Client: client, Server: server})
}

var (
	plain    = &ws.Config{}
	deflated = &ws.Config{Compression: &ws.CompressionOptions{}}
)

func config(o libs.Opts) *ws.Config {
	if o.Deflate {
		return deflated
	}
	return plain
}

type conn struct {
	st      ws.Storage
	c       *ws.Conn
	deflate bool
}

func client(u net.Conn, o libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := config(o).AttachClientMem(context.Background(), u, ws.Binary, "/", "127.0.0.1", &c.st)
	if err != nil {
		return nil, err
	}
	if o.Deflate && wc.Extensions() == "" {
		wc.Close()
		return nil, errors.New("dillws: permessage-deflate not negotiated")
	}
	c.c, c.deflate = wc, o.Deflate
	return c, nil
}

func server(u net.Conn, o libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := config(o).AttachServerMem(context.Background(), u, ws.Binary, &c.st)
	if err != nil {
		return nil, err
	}
	if o.Deflate && wc.Extensions() == "" {
		wc.Close()
		return nil, errors.New("dillws: permessage-deflate not negotiated")
	}
	c.c, c.deflate = wc, o.Deflate
	return c, nil
}

func (c *conn) Send(p []byte) error { return c.c.Send(context.Background(), ws.Binary, p) }

func (c *conn) Serve(buf []byte, fn func([]byte) bool) error {
	ctx := context.Background()
	if c.deflate {
		// Workaround for a ws bug: a compressed message received into a
		// buffer of exactly its length desynchronizes the connection (the
		// next Recv returns 0 bytes, the one after fails with EPROTO).
		// One spare byte avoids it; allocated once per connection.
		buf = make([]byte, len(buf)+1)
	}
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
