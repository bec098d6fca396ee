// Package dillws adapts github.com/dillgo/ws, the library under test, in
// the two ways a real program uses it:
//
//   - "ws": per-message measurements use Attach*Mem with a per-connection
//     Storage (the zero-allocation path); the handshake and idle-memory
//     measurements use AttachServer without Storage (Lib.Accept), what
//     Upgrade and Dial users get: buffers come from pools only while a call
//     runs, an idle connection holds none.
//   - "ws-pooled": the per-message server scenarios (and echo, deflate)
//     with AttachServer/AttachClient without Storage, so the report shows
//     what the pooled buffers cost per message.
//   - "ws-poller" (idle memory only): AttachServer without Storage, the
//     connection watched by one ws.Poller per process instead of a
//     goroutine blocked in Recv; Serve watches and returns at once.
//
// Send and Recv use context.Background. With Opts.Deflate, both sides set
// Config.Compression to &ws.CompressionOptions{}: level 1, threshold 128
// bytes, context takeover both ways.
package dillws

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/dillgo/ws"

	"github.com/dillgo/ws/bench/internal/libs"
)

func init() {
	libs.Register(libs.Lib{Name: "ws", Deflate: true, Client: memClient, Server: memServer, Accept: pooledServer})
	libs.Register(libs.Lib{Name: "ws-pooled", Deflate: true, Client: pooledClient, Server: pooledServer,
		ServerVariant: true, ClientOf: "ws"})
	libs.Register(libs.Lib{Name: "ws-poller", Client: pooledClient, Server: pooledServer, Accept: pollerServer,
		IdleOnly: true, ClientOf: "ws"})
}

// poller is the process's Poller of ws-poller connections.
var poller = sync.OnceValues(func() (*ws.Poller, error) { return ws.NewPoller(0) })

// wconn is a connection watched by the poller.
type wconn struct{ c *ws.Conn }

func pollerServer(u net.Conn, o libs.Opts) (libs.Conn, error) {
	c, err := pooledServer(u, o)
	if err != nil {
		return nil, err
	}
	return &wconn{c.(*pconn).c}, nil
}

// Serve watches the connection and returns: fn is called from the
// poller's workers, each message received into a buffer of its own.
func (c *wconn) Serve(buf []byte, fn func([]byte) bool) error {
	p, err := poller()
	if err != nil {
		return err
	}
	size := max(len(buf), 64<<10)
	return p.Watch(c.c, func(wc *ws.Conn) {
		b := make([]byte, size)
		n, _, err := wc.Recv(context.Background(), b)
		if err != nil || !fn(b[:n]) {
			wc.Close()
		}
	})
}

func (c *wconn) Send(p []byte) error { return c.c.Send(context.Background(), ws.Binary, p) }
func (c *wconn) Close() error        { return c.c.Close() }

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
	st ws.Storage // used by the Mem variants only
	c  *ws.Conn
}

// pconn is a connection without Storage: only the Conn.
type pconn struct{ c *ws.Conn }

func checkDeflate(wc *ws.Conn, o libs.Opts) error {
	if o.Deflate && wc.Extensions() == "" {
		wc.Close()
		return errors.New("dillws: permessage-deflate not negotiated")
	}
	return nil
}

func memClient(u net.Conn, o libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := config(o).AttachClientMem(context.Background(), u, ws.Binary, "/", "127.0.0.1", &c.st)
	if err != nil {
		return nil, err
	}
	if err := checkDeflate(wc, o); err != nil {
		return nil, err
	}
	c.c = wc
	return c, nil
}

func memServer(u net.Conn, o libs.Opts) (libs.Conn, error) {
	c := &conn{}
	wc, err := config(o).AttachServerMem(context.Background(), u, ws.Binary, &c.st)
	if err != nil {
		return nil, err
	}
	if err := checkDeflate(wc, o); err != nil {
		return nil, err
	}
	c.c = wc
	return c, nil
}

func pooledClient(u net.Conn, o libs.Opts) (libs.Conn, error) {
	wc, err := config(o).AttachClient(context.Background(), u, ws.Binary, "/", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	if err := checkDeflate(wc, o); err != nil {
		return nil, err
	}
	return &pconn{wc}, nil
}

func pooledServer(u net.Conn, o libs.Opts) (libs.Conn, error) {
	wc, err := config(o).AttachServer(context.Background(), u, ws.Binary)
	if err != nil {
		return nil, err
	}
	if err := checkDeflate(wc, o); err != nil {
		return nil, err
	}
	return &pconn{wc}, nil
}

func serve(c *ws.Conn, buf []byte, fn func([]byte) bool) error {
	ctx := context.Background()
	for {
		n, _, err := c.Recv(ctx, buf)
		if err != nil {
			return err
		}
		if !fn(buf[:n]) {
			return nil
		}
	}
}

func (c *conn) Send(p []byte) error                          { return c.c.Send(context.Background(), ws.Binary, p) }
func (c *conn) Serve(buf []byte, fn func([]byte) bool) error { return serve(c.c, buf, fn) }
func (c *conn) Close() error                                 { return c.c.Close() }

func (c *pconn) Send(p []byte) error                          { return c.c.Send(context.Background(), ws.Binary, p) }
func (c *pconn) Serve(buf []byte, fn func([]byte) bool) error { return serve(c.c, buf, fn) }
func (c *pconn) Close() error                                 { return c.c.Close() }
