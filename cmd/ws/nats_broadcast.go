package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/dillgo/ws"
)

// joinNATS bridges the broadcast hub to subject on the NATS server(s) at
// natsURL: what a client sends goes to this node's clients (as without
// --nats) and to the subject; what the other nodes send on the subject
// goes to every client of this node. It makes the first connection
// before returning; the returned shutdown flushes and disconnects NATS,
// then shuts the hub down.
func (b *hub) joinNATS(natsURL, subject string, log *slog.Logger) (func(context.Context) error, error) {
	var failed atomic.Uint64
	nc, err := newNATSClient(natsURL, subject, log, func(typ natsType, p []byte) {
		flags := ws.Binary
		if typ == natsText {
			flags = ws.Text
		}
		m, err := ws.NewPreparedMessage(flags, p)
		if err == nil {
			err = b.h.Publish(context.Background(), m, nil)
		}
		if err != nil && failed.Add(1) == 1 {
			log.Warn("a NATS message not broadcast", "err", err)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := nc.start(); err != nil {
		return nil, err
	}
	var lostLogged atomic.Bool
	b.remote = func(f ws.Flags, p []byte) {
		typ := natsBinary
		if f&ws.Text != 0 {
			typ = natsText
		}
		if err := nc.publish(typ, p); err != nil {
			// Logged once per outage (errNATSDown) and for every
			// message too large for NATS.
			if err != errNATSDown {
				log.Warn("message not sent to NATS", "err", err)
			} else if !lostLogged.Swap(true) {
				log.Warn("messages lost: not connected to NATS")
			}
			return
		}
		lostLogged.Store(false)
	}
	return func(ctx context.Context) error {
		nc.close(ctx)
		return b.h.Shutdown(ctx)
	}, nil
}
