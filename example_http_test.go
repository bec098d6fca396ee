package ws_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/dillgo/ws"
)

// A server: an http.Handler upgrades each request and echoes messages
// until the client closes, then answers its close.
func ExampleUpgrade() {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrade(w, r, ws.Text) // on error the client got 4xx
		if err != nil {
			return
		}
		defer c.Close()
		ctx := context.Background() // not r.Context(): it ends with the handler
		buf := make([]byte, 4096)
		for {
			n, flags, err := c.Recv(ctx, buf)
			var ce ws.CloseError
			if errors.As(err, &ce) {
				if u, err := c.Detach(ctx, ce.Code, ""); err == nil { // answer the close
					u.Close()
				}
				return
			}
			if err != nil || c.Send(ctx, flags, buf[:n]) != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux) // or http.ListenAndServe(":8080", mux)
	defer srv.Close()

	c, _, err := ws.Dial(context.Background(), strings.Replace(srv.URL, "http", "ws", 1)+"/echo", ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	c.Send(context.Background(), ws.Text, []byte("ping"))
	buf := make([]byte, 64)
	n, _, _ := c.Recv(context.Background(), buf)
	fmt.Printf("%s\n", buf[:n])
	c.Close()
	// Output: ping
}

// A client: dial, exchange a message, close the connection with a closing
// handshake and take back the underlying connection.
func ExampleDial() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := ws.Upgrade(w, r, ws.Text); err == nil {
			echo(context.Background(), c) // the loop of ExampleUpgrade
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat" // ws://127.0.0.1:port/chat

	ctx := context.Background()
	c, resp, err := ws.Dial(ctx, url, ws.Text)
	if err != nil {
		log.Fatal(err) // resp, if not nil, holds the server's refusal
	}
	fmt.Println(resp.Status)
	if err := c.Send(ctx, ws.Text, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, _, err := c.Recv(ctx, buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", buf[:n])
	u, err := c.Detach(ctx, ws.StatusNormalClosure, "bye")
	if err != nil {
		log.Fatal(err)
	}
	u.Close()
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
		if c, err := server.Upgrade(w, r, ws.Text); err == nil {
			echo(context.Background(), c)
		}
	}))
	defer srv.Close()

	client := &ws.Config{
		Subprotocols: []string{"chat.v1", "chat.v2"},
		Header:       http.Header{"Origin": {"https://app.example.com"}},
	}
	c, _, err := client.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Subprotocol())

	client.Header.Set("Origin", "https://evil.example")
	_, resp, err := client.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), ws.Text)
	fmt.Println(resp.StatusCode, errors.Is(err, ws.ErrProto))
	// Output:
	// chat.v2
	// 403 true
}
