package ws

import (
	"net"
	"sync"
	"time"
)

// The handshake guard bounds opening handshakes by Config.HandshakeTimeout
// without a deadline on each connection. Setting a socket deadline arms a
// runtime timer, and arming a timer earlier than the netpoller's sleep
// wakes the idle threads to re-plan: measured over loopback, a read and a
// write deadline set and cleared per handshake cost about 22 µs of CPU,
// a quarter of the whole accept-upgrade-close (bench/, -bench handshake).
// Instead, a handshake registers its bound here, and one shared timer,
// armed for the earliest bound, cuts the handshakes whose bound passed by
// setting their connection's deadlines in the past. With a steady stream
// of handshakes and one timeout the timer is re-armed about once per
// timeout, not once per handshake. A handshake that finishes unregisters;
// one that was cut fails with ErrTimedOut even if its last byte went
// through at that moment (its connection is closed).
var guard handshakeGuard

type handshakeGuard struct {
	mu    sync.Mutex
	slots []guardSlot
	free  []int32
	used  int
	timer *time.Timer
	armed time.Time // when timer fires; zero when it is not armed
}

type guardSlot struct {
	u   net.Conn // nil: free
	at  time.Time
	cut bool
}

// watch registers u's handshake, bounded by at, and returns its slot for
// release.
func (g *handshakeGuard) watch(u net.Conn, at time.Time) int32 {
	g.mu.Lock()
	var i int32
	if n := len(g.free); n > 0 {
		i = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		i = int32(len(g.slots))
		g.slots = append(g.slots, guardSlot{})
	}
	g.slots[i] = guardSlot{u: u, at: at}
	g.used++
	if g.armed.IsZero() || at.Before(g.armed) {
		g.arm(at)
	}
	g.mu.Unlock()
	return i
}

// release unregisters slot i and reports whether its handshake was cut.
func (g *handshakeGuard) release(i int32) bool {
	g.mu.Lock()
	cut := g.slots[i].cut
	g.slots[i] = guardSlot{}
	g.used--
	if g.used == 0 && len(g.slots) > 1024 {
		g.slots, g.free = nil, nil // the peak is over: let its slots go
	} else {
		g.free = append(g.free, i)
	}
	g.mu.Unlock()
	return cut
}

// arm sets the timer to fire at at. Caller holds mu.
func (g *handshakeGuard) arm(at time.Time) {
	g.armed = at
	d := time.Until(at)
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.fire)
		return
	}
	g.timer.Reset(d)
}

// fire cuts the handshakes whose bound passed and re-arms for the
// earliest of the others. The deadlines are set outside the lock (a
// wrapped net.Conn's SetDeadline may take its time); a cut handshake's
// owner closes its connection.
func (g *handshakeGuard) fire() {
	var cut []net.Conn
	g.mu.Lock()
	g.armed = time.Time{}
	now := time.Now()
	var next time.Time
	for i := range g.slots {
		s := &g.slots[i]
		switch {
		case s.u == nil || s.cut:
		case !s.at.After(now):
			s.cut = true
			cut = append(cut, s.u)
		case next.IsZero() || s.at.Before(next):
			next = s.at
		}
	}
	if !next.IsZero() {
		g.arm(next)
	}
	g.mu.Unlock()
	for _, u := range cut {
		u.SetDeadline(aLongTimeAgo)
	}
}
