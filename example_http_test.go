package ws_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/dillgo/ws"
)

// A server: an http.Handler upgrades each request and echoes messages
// until the client closes, then answers its close with Shutdown, which
// also closes the connection.
func ExampleUpgrade() {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrade(w, r, ws.Text) // on error the client got 4xx
		if err != nil {
			return
		}
		ctx := context.Background() // not r.Context(): it ends with the handler
		for {
			msg, flags, err := c.RecvMessage(ctx)
			if err != nil {
				closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if errors.Is(err, ws.ErrPipe) {
					c.Shutdown(closeCtx, 0, "") // answer the client's close
				} else {
					c.Close()
				}
				return
			}
			if err := c.Send(ctx, flags, msg); err != nil {
				c.Close()
				return
			}
		}
	})
	srv := httptest.NewServer(mux) // or http.ListenAndServe("127.0.0.1:8080", mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	c.Send(ctx, ws.Text, []byte("ping"))
	msg, _, _ := c.RecvMessage(ctx)
	fmt.Printf("%s\n", msg)
	fmt.Println(c.Shutdown(ctx, ws.StatusNormalClosure, "done"))
	// Output:
	// ping
	// <nil>
}

// A client: dial, exchange a message, measure a round trip, and end the
// connection with the closing handshake, bounded by a timeout.
func ExampleDial() {
	// A server to talk to: it echoes messages (answering pings as it
	// receives), then answers the close.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			msg, flags, err := c.RecvMessage(ctx)
			if err != nil {
				c.Shutdown(ctx, 0, "") // answer the client's close
				return
			}
			c.Send(ctx, flags, msg)
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat" // ws://127.0.0.1:port/chat

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := ws.Dial(ctx, url, ws.Text)
	if err != nil {
		log.Fatal(err) // resp, if not nil, holds the server's refusal
	}
	fmt.Println(resp.Status)
	if err := c.Send(ctx, ws.Text, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	msg, _, err := c.RecvMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", msg)
	if _, err := c.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	closeCtx, cancelClose := context.WithTimeout(ctx, 5*time.Second)
	defer cancelClose()
	if err := c.Shutdown(closeCtx, ws.StatusNormalClosure, "bye"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 101 Switching Protocols
	// hello
}

// Options live on a Config: subprotocols, header fields, the origin
// policy of a server, the proxy and TLS settings of a client.
func ExampleConfig_Upgrade() {
	server := &ws.Config{
		Subprotocols: []string{"chat.v2", "chat.v1"},
		CheckOrigin:  ws.AllowOrigins("https://app.example.com", "*.example.org"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := server.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx, 0, "") // the client closes at once: answer
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := &ws.Config{
		Subprotocols: []string{"chat.v1", "chat.v2"},
		Header:       http.Header{"Origin": {"https://app.example.com"}},
	}
	c, _, err := client.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subprotocol())
	c.Shutdown(ctx, ws.StatusNormalClosure, "")

	client.Header.Set("Origin", "https://evil.example")
	_, resp, err := client.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), ws.Text)
	fmt.Println(resp.StatusCode, errors.Is(err, ws.ErrProto))
	// Output:
	// chat.v2
	// 403 true
}
