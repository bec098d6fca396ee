package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dillgo/ws"
)

// pollEcho is the echo mode with a ws.Poller (the default; --poller=false
// turns it off): an idle connection waits in the poller with no goroutine
// and no buffer; each message is echoed by a poller worker, with a 64 KiB
// buffer taken from a pool for the time of the message.
type pollEcho struct {
	p     *ws.Poller
	mu    sync.Mutex
	conns map[*ws.Conn]func() // watched connections and their end
}

// pollMessageTimeout bounds the receive and echo of one message.
const pollMessageTimeout = 30 * time.Second

var echoBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

func newPollEcho() (*pollEcho, error) {
	p, err := ws.NewPoller(0)
	if err != nil {
		return nil, err
	}
	return &pollEcho{p: p, conns: map[*ws.Conn]func(){}}, nil
}

// watch parks c in the poller; end runs once when c ends. ctx ends at
// shutdown: the next receive then fails with ErrCanceled and finish
// closes with 1001.
func (e *pollEcho) watch(ctx context.Context, c *ws.Conn, log *slog.Logger, end func(error)) {
	var once sync.Once
	done := func(err error) {
		once.Do(func() {
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
			end(err)
		})
	}
	e.mu.Lock()
	e.conns[c] = func() { done(nil) }
	e.mu.Unlock()
	err := e.p.Watch(c, func(c *ws.Conn) {
		mctx, cancel := context.WithTimeout(ctx, pollMessageTimeout)
		defer cancel()
		buf := echoBufs.Get().(*[64 << 10]byte)
		defer echoBufs.Put(buf)
		if err := echoOne(mctx, c, buf[:]); err != nil {
			done(finish(ctx, c, err))
		} else if ctx.Err() != nil {
			// Shutdown began while this message was echoed: its Done
			// may have met our Send (ErrBusy), so close here.
			done(detach(c, ws.StatusGoingAway, "server shutting down"))
		}
	})
	if err != nil {
		c.Close()
		done(err)
	}
}

// shutdown sends close 1001 to every watched connection (Done is safe
// from any goroutine; it fails with ErrBusy on a connection whose
// callback is sending, and that callback closes with 1001 itself, as ctx
// ended before); their answers reach the callbacks, which finish the
// handshake. After wait, close stops the poller and ends the rest.
func (e *pollEcho) shutdown() {
	e.mu.Lock()
	conns := make([]*ws.Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.Done(ctx, ws.StatusGoingAway, "server shutting down")
		cancel()
	}
}

func (e *pollEcho) close() {
	e.p.Close()
	e.mu.Lock()
	ends := make([]func(), 0, len(e.conns))
	for _, end := range e.conns {
		ends = append(ends, end)
	}
	e.mu.Unlock()
	for _, end := range ends {
		end()
	}
}
