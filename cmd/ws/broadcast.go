package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/dillgo/ws"
)

// hub is the broadcast mode: every message goes to every other client
// through a bounded per-client queue. A client whose queue is full is
// dropped, so a slow reader never stalls the others.
type hub struct {
	queue   int
	mu      sync.Mutex
	clients map[*client]struct{}
}

type client struct {
	c       *ws.Conn
	q       chan message
	stop    context.CancelFunc // ends the sender
	dropped bool               // under hub.mu
}

type message struct {
	f ws.Flags
	p []byte // shared by every queue, never modified
}

func newHub(queue int) *hub {
	return &hub{queue: queue, clients: map[*client]struct{}{}}
}

func (h *hub) handle(ctx context.Context, c *ws.Conn, log *slog.Logger) error {
	sctx, stop := context.WithCancel(ctx)
	cl := &client{c: c, q: make(chan message, h.queue), stop: stop}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		cl.send(sctx)
	}()
	log.Info("joined the broadcast", "clients", h.add(cl))
	var err error
	for {
		var m message
		if m, err = recvMessage(ctx, c); err != nil {
			break
		}
		h.publish(cl, m, log)
	}
	dropped := h.remove(cl)
	stop()
	<-sent
	if dropped {
		return errSlowClient
	}
	return finish(ctx, c, err)
}

// send writes the client's queue until ctx ends or a send fails.
func (cl *client) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-cl.q:
			if err := cl.c.Send(ctx, m.f, m.p); err != nil {
				cl.c.Close() // ends the receive loop too
				return
			}
		}
	}
}

// add puts cl in the hub and returns the number of clients.
func (h *hub) add(cl *client) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[cl] = struct{}{}
	return len(h.clients)
}

// remove takes cl out of the hub and reports whether it had been dropped.
func (h *hub) remove(cl *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, cl)
	return cl.dropped
}

// publish queues m for every client but from, dropping those whose queue
// is full: it never blocks.
func (h *hub) publish(from *client, m message, log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cl := range h.clients {
		if cl == from || cl.dropped {
			continue
		}
		select {
		case cl.q <- m:
		default:
			cl.dropped = true
			cl.stop()
			cl.c.Close() // ends its receive loop; its handle reports the drop
			log.Info("dropped a slow client", "client", cl.c.Underlying().RemoteAddr().String())
		}
	}
}

// errSlowClient reports a client dropped because its queue overflowed.
// Its connection is closed at once: a close frame could not be sent in
// order behind a stalled send.
var errSlowClient = errors.New("dropped: send queue full (slow client)")

// recvMessage receives one whole message of any size up to the
// connection's MaxMessageSize.
func recvMessage(ctx context.Context, c *ws.Conn) (message, error) {
	f, r, err := c.Reader(ctx)
	if err != nil {
		return message{}, err
	}
	p, err := io.ReadAll(r)
	return message{f: f, p: p}, err
}
