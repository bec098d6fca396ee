package ws_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/dillgo/ws"
)

// A server whose idle connections wait in a Poller, without a goroutine
// or a buffer each; onReadable uses the ordinary calls, with deadlines.
func ExamplePoller() {
	p, err := ws.NewPoller(0) // GOMAXPROCS workers
	if err != nil {
		panic(err)
	}
	defer p.Close()
	echo := func(c *ws.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		buf := make([]byte, 4096)
		n, flags, err := c.Recv(ctx, buf)
		var ce ws.CloseError
		switch {
		case errors.As(err, &ce):
			if u, err := c.Detach(ctx, ce.Code, ""); err == nil {
				u.Close()
			}
		case err != nil:
			c.Close()
		default:
			c.Send(ctx, flags, buf[:n])
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			u, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := ws.AttachServer(context.Background(), u, ws.Text)
			if err != nil {
				continue
			}
			p.Watch(c, echo) // returns at once; c waits in the poller
		}
	}()

	ctx := context.Background()
	c, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/", ws.Text)
	if err != nil {
		panic(err)
	}
	c.Send(ctx, ws.Text, []byte("hello, poller"))
	buf := make([]byte, 100)
	n, _, err := c.Recv(ctx, buf)
	fmt.Println(string(buf[:n]), err)
	u, err := c.Detach(ctx, ws.StatusNormalClosure, "")
	if err == nil {
		u.Close()
	}
	// Output: hello, poller <nil>
}
