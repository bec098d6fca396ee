package ws

import (
	"sync"
	"sync/atomic"
	"time"
)

// keepalive pings the peer and fails the connection when it goes silent
// (Config.PingInterval). The receive side records the time of every frame
// it reads; check compares. A connection runs its own goroutine
// (runKeepalive) until a Poller watches it: then the poller's timer wheel
// calls check, and the goroutine is gone.
type keepalive struct {
	interval, timeout time.Duration
	seen              atomic.Int64 // unix nanoseconds of the last frame read
	pinged            atomic.Int64 // unix nanoseconds of the ping still unanswered, 0 if none
	quit              chan struct{}
	once              sync.Once
}

const errKeepalive = detail("keepalive: peer stopped answering")

// startKeepalive starts the pinger if cfg asks for one.
func (c *Conn) startKeepalive(cfg *Config) {
	if cfg == nil || cfg.PingInterval <= 0 {
		return
	}
	k := &keepalive{interval: cfg.PingInterval, timeout: cfg.PongTimeout, quit: make(chan struct{})}
	if k.timeout <= 0 {
		k.timeout = k.interval
	}
	k.seen.Store(time.Now().UnixNano())
	c.ka = k
	go c.runKeepalive(k)
}

// stopKeepalive ends the pinger; safe to call more than once.
func (c *Conn) stopKeepalive() {
	if k := c.ka; k != nil {
		k.once.Do(func() { close(k.quit) })
	}
}

func (c *Conn) runKeepalive(k *keepalive) {
	t := time.NewTicker(min(k.interval, k.timeout))
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case now := <-t.C:
			switch k.check(now.UnixNano()) {
			case kaFail:
				c.failKeepalive()
				return
			case kaPing:
				c.queuePing()
			}
		}
	}
}

// kaAction is what check asks for.
type kaAction uint8

const (
	kaNone kaAction = iota
	kaPing          // send a ping now
	kaFail          // the ping went unanswered: fail the connection
)

// check decides, at now (unix nanoseconds), whether to ping or to fail.
// Its caller (the goroutine, or a poller's wheel) is the only one.
func (k *keepalive) check(now int64) kaAction {
	seen, pinged := k.seen.Load(), k.pinged.Load()
	switch {
	case pinged != 0 && seen < pinged && now-pinged >= int64(k.timeout):
		return kaFail
	case pinged == 0 || seen > pinged:
		k.pinged.Store(0)
		if now-seen >= int64(k.interval) {
			k.pinged.Store(now)
			return kaPing
		}
	}
	return kaNone
}

// next is when check has something to decide (unix nanoseconds).
func (k *keepalive) next() int64 {
	if p := k.pinged.Load(); p != 0 && k.seen.Load() < p {
		return p + int64(k.timeout)
	}
	return k.seen.Load() + int64(k.interval)
}

// failKeepalive breaks both directions and wakes a blocked receive and a
// blocked write. It takes no lock a stuck operation could hold.
func (c *Conn) failKeepalive() {
	c.kaFailed.Store(true)
	c.in.dl.expire(c.u.SetReadDeadline)
	c.out.dl.expire(c.u.SetWriteDeadline)
}
