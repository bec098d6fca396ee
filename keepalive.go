package ws

import (
	"sync"
	"sync/atomic"
	"time"
)

// keepalive pings the peer and fails the connection when it goes silent
// (Config.PingInterval). The receive side records the time of every frame
// it reads; this goroutine compares.
type keepalive struct {
	interval, timeout time.Duration
	seen              atomic.Int64 // unix nanoseconds of the last frame read
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
	var pinged time.Time // when the ping still unanswered was sent
	for {
		select {
		case <-k.quit:
			return
		case now := <-t.C:
			seen := time.Unix(0, k.seen.Load())
			switch {
			case !pinged.IsZero() && seen.Before(pinged) && now.Sub(pinged) >= k.timeout:
				c.failKeepalive()
				return
			case seen.After(pinged) || pinged.IsZero():
				pinged = time.Time{}
				if now.Sub(seen) >= k.interval {
					pinged = now
					c.queuePing()
				}
			}
		}
	}
}

// failKeepalive breaks both directions and wakes a blocked receive and a
// blocked write. It takes no lock a stuck operation could hold.
func (c *Conn) failKeepalive() {
	c.kaFailed.Store(true)
	c.in.dl.expire(c.u.SetReadDeadline)
	c.out.dl.expire(c.u.SetWriteDeadline)
}
