package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/dillgo/ws"
)

// hub is the broadcast mode: every message goes to every other client
// through a ws.Hub, whose writers coalesce what is queued into one write
// per client. A client that falls behind (over --queue-bytes queued, or
// a message waiting over --max-lag) gets close 1008 with the reason, not
// a silent cut; a burst within those bounds does not count.
type hub struct {
	h *ws.Hub
}

func newHub(queueBytes int, maxLag time.Duration, log *slog.Logger) (*hub, error) {
	h, err := ws.NewHub(&ws.HubConfig{
		MaxQueueBytes: queueBytes,
		MaxLag:        maxLag,
		OnSlow: func(c *ws.Conn, reason string) {
			log.Info("dropped a slow client", "remote", c.Underlying().RemoteAddr().String(), "reason", reason)
		},
	})
	if err != nil {
		return nil, err
	}
	return &hub{h: h}, nil
}

func (b *hub) handle(ctx context.Context, c *ws.Conn, log *slog.Logger) error {
	if err := b.h.Add(c); err != nil {
		c.Close()
		return err
	}
	log.Info("joined the broadcast", "clients", b.h.Stats().Conns)
	var err error
	for {
		var msg message
		if msg, err = recvMessage(ctx, c); err != nil {
			break
		}
		m, perr := ws.NewPreparedMessage(msg.f, msg.p)
		if perr == nil {
			perr = b.h.Publish(ctx, m, c)
		}
		if perr != nil {
			err = perr
			break
		}
	}
	if herr := b.h.Remove(c); herr != nil {
		c.Close()
		return herr // the hub closed it (slow) or its sends failed
	}
	return finish(ctx, c, err)
}

// shutdown sends 1001 to every client once its queue is written.
func (b *hub) shutdown(ctx context.Context) error { return b.h.Shutdown(ctx) }

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

type message struct {
	f ws.Flags
	p []byte
}
