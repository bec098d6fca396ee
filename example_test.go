package ws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/dillgo/ws"
)

// The libdill way: attach the WebSocket protocol to a TCP connection you
// made, exchange typed messages, then detach to get the TCP connection
// back after the closing handshake.
func ExampleAttachClient() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() { // a server: attach to each connection, echo until the close
		for {
			tcp, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := ws.AttachServer(ctx, tcp, 0) // c.Resource(), c.Host() tell what was asked
				if err != nil {
					return // the client got an HTTP error; tcp is closed
				}
				buf := make([]byte, 1<<16)
				for {
					n, flags, err := c.Recv(ctx, buf)
					if err != nil {
						c.Shutdown(ctx, 0, "") // answers a close with the peer's code
						return
					}
					c.Send(ctx, flags, buf[:n])
				}
			}()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ws.AttachClient(ctx, tcp, ws.Text, "/", "localhost") // owns tcp now
	if err != nil {
		log.Fatal(err)
	}
	c.Send(ctx, ws.Text, []byte("Hello, world!"))
	buf := make([]byte, 256)
	n, flags, err := c.Recv(ctx, buf)
	fmt.Println(string(buf[:n]), flags, err)
	tcp, err = c.Detach(ctx, ws.StatusNormalClosure, "bye") // tcp is ours again
	fmt.Println(err)
	tcp.Close()
	// Output:
	// Hello, world! text <nil>
	// <nil>
}

// With NoHTTP both sides skip the HTTP upgrade, as libdill's WS_NOHTTP:
// for a handshake done elsewhere or a protocol of your own. The socket's
// type makes MSend and MRecv send and expect text.
func ExampleNoHTTP() {
	a, b := net.Pipe()
	ctx := context.Background()
	go func() {
		s, _ := ws.AttachServer(ctx, b, ws.NoHTTP|ws.Text)
		buf := make([]byte, 64)
		n, _ := s.MRecv(ctx, buf)
		s.MSend(ctx, append([]byte("echo: "), buf[:n]...))
	}()
	c, _ := ws.AttachClient(ctx, a, ws.NoHTTP|ws.Text, "", "")
	c.MSend(ctx, []byte("no http"))
	buf := make([]byte, 64)
	n, err := c.MRecv(ctx, buf)
	fmt.Println(string(buf[:n]), err)
	c.Close()
	// Output: echo: no http <nil>
}

// Done half-closes: the peer sees our close after every message sent
// before it; Status then tells how the peer answered.
func ExampleConn_Done() {
	a, b := net.Pipe()
	ctx := context.Background()
	go func() {
		s, _ := ws.AttachServer(ctx, b, ws.NoHTTP)
		_, _, err := s.Recv(ctx, nil)
		var ce ws.CloseError
		if errors.As(err, &ce) {
			s.Detach(ctx, ce.Code, "ok, "+ce.Reason)
		}
	}()
	c, _ := ws.AttachClient(ctx, a, ws.NoHTTP, "", "")
	c.Done(ctx, 4000, "done sending")
	_, _, err := c.Recv(ctx, make([]byte, 16))
	fmt.Println(errors.Is(err, ws.ErrPipe))
	code, reason, _ := c.Status()
	fmt.Println(code, reason)
	c.Close()
	// Output:
	// true
	// 4000 ok, done sending
}

// A deadline comes with the context. A receive that times out before a
// message arrives leaves the connection usable.
func ExampleConn_Recv_timeout() {
	a, b := net.Pipe()
	ctx := context.Background()
	s, _ := ws.AttachServer(ctx, a, ws.NoHTTP)
	c, _ := ws.AttachClient(ctx, b, ws.NoHTTP, "", "")
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, _, err := c.Recv(short, make([]byte, 16))
	fmt.Println(errors.Is(err, ws.ErrTimedOut))
	go s.Send(ctx, ws.Binary, []byte("later"))
	buf := make([]byte, 16)
	n, _, err := c.Recv(ctx, buf)
	fmt.Println(string(buf[:n]), err)
	s.Close()
	c.Close()
	// Output:
	// true
	// later <nil>
}

// Messages of any size can be streamed with Reader and Writer.
func ExampleConn_Reader() {
	a, b := net.Pipe()
	ctx := context.Background()
	s, _ := ws.AttachServer(ctx, a, ws.NoHTTP)
	c, _ := ws.AttachClient(ctx, b, ws.NoHTTP, "", "")
	go func() {
		w, _ := s.Writer(ctx, ws.Text)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "part %d; ", i)
		}
		w.Close()
	}()
	flags, r, _ := c.Reader(ctx)
	msg, _ := io.ReadAll(r)
	fmt.Println(flags, string(msg))
	s.Close()
	c.Close()
	// Output: text part 0; part 1; part 2;
}

// A receive list can skip bytes, as libdill's iolist elements with a NULL
// base do.
func ExampleSkip() {
	a, b := net.Pipe()
	ctx := context.Background()
	s, _ := ws.AttachServer(ctx, a, ws.NoHTTP)
	c, _ := ws.AttachClient(ctx, b, ws.NoHTTP, "", "")
	go s.Send(ctx, ws.Binary, []byte("header:payload"))
	payload := make([]byte, 16)
	n, _, _ := c.RecvV(ctx, ws.Skip(7), payload)
	fmt.Println(string(payload[:n-7]))
	s.Close()
	c.Close()
	// Output: payload
}
