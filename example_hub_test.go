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

// A chat room: every message a client sends goes to every client, the
// sender included, through a Hub. Each connection's handler only
// receives; the hub's writers send. A client that stops reading is closed
// with 1008 instead of slowing the room down.
func ExampleHub() {
	hub, err := ws.NewHub(nil) // default policy: disconnect slow clients (1008)
	if err != nil {
		log.Fatal(err)
	}
	joined := make(chan struct{}, 2)
	chat := func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrade(w, r, ws.Text)
		if err != nil {
			return
		}
		defer c.Close()
		if hub.Add(c) != nil { // the hub is shutting down
			return
		}
		joined <- struct{}{}
		ctx, buf := context.Background(), make([]byte, 4096)
		for {
			n, flags, err := c.Recv(ctx, buf)
			var ce ws.CloseError
			if errors.As(err, &ce) { // the client left, or answered Shutdown's 1001
				hub.Remove(c)
				c.Detach(ctx, ce.Code, "")
				return
			}
			if err != nil {
				hub.Remove(c)
				return
			}
			m, _ := ws.NewPreparedMessage(flags, buf[:n]) // encoded once for everyone
			hub.Publish(ctx, m, nil)                      // nil: the sender gets it too
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(chat))
	defer srv.Close()

	ctx := context.Background()
	url := strings.Replace(srv.URL, "http", "ws", 1)
	alice, _, err := ws.Dial(ctx, url, ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	bob, _, err := ws.Dial(ctx, url, ws.Text)
	if err != nil {
		log.Fatal(err)
	}
	<-joined
	<-joined
	alice.Send(ctx, ws.Text, []byte("alice: hi bob"))
	buf := make([]byte, 256)
	n, _, _ := bob.Recv(ctx, buf)
	fmt.Printf("bob reads %q\n", buf[:n])
	bob.Send(ctx, ws.Text, []byte("bob: hi alice"))
	for i := 0; i < 2; i++ { // her own message, then bob's
		n, _, _ = alice.Recv(ctx, buf)
		fmt.Printf("alice reads %q\n", buf[:n])
	}

	// Closing time: everyone gets 1001 once their queue is written.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hub.Shutdown(sctx)
	for _, c := range []*ws.Conn{alice, bob} {
		for {
			_, _, err := c.Recv(sctx, buf)
			var ce ws.CloseError
			if errors.As(err, &ce) {
				fmt.Println("closed:", ce.Code)
				c.Detach(sctx, ce.Code, "")
				break
			}
			if err != nil {
				break
			}
		}
	}
	// Output:
	// bob reads "alice: hi bob"
	// alice reads "alice: hi bob"
	// alice reads "bob: hi alice"
	// closed: 1001 (going away)
	// closed: 1001 (going away)
}
