package ws

import (
	"os"
	"sync"
	"time"
)

// The deadlines of the HTTP/2 streams that stand in for a net.Conn: as
// net.Pipe's, a channel closed when the deadline passes, replaced when a
// new deadline is set, so that a blocked call wakes up and a later call
// can succeed (an expired deadline never breaks the stream).

// streamDeadline is one direction's deadline.
type streamDeadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	expire chan struct{} // closed when the deadline passes
}

func newStreamDeadline() streamDeadline {
	return streamDeadline{expire: make(chan struct{})}
}

// set sets the deadline to t; the zero time means none.
func (d *streamDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expire // the timer's func is closing it, or has
	}
	d.timer = nil
	closed := isClosedChan(d.expire)
	if t.IsZero() {
		if closed {
			d.expire = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.expire = make(chan struct{})
		}
		ch := d.expire
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.expire)
	}
}

// wait returns the channel closed when the deadline passes.
func (d *streamDeadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expire
}

// stop releases the timer.
func (d *streamDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosedChan(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// errStreamTimeout is what a stream's Read or Write returns when its
// deadline passed; it matches os.ErrDeadlineExceeded.
var errStreamTimeout error = os.ErrDeadlineExceeded

// streamAddr is the net.Addr of a stream's connection, from its string
// form.
type streamAddr string

func (a streamAddr) Network() string { return "tcp" }
func (a streamAddr) String() string  { return string(a) }
