package ws

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Poller parks idle connections without a goroutine or a buffer each, and
// calls back when one has something to receive, so that a server with
// many mostly idle connections pays little for each while keeping the
// blocking, deadline-bounded calls of Conn once a message is there.
//
// A watched connection is in one of three states: parked (nothing of it
// runs; on Linux its socket waits in the poller's epoll set), being read
// by the poller (the bytes that arrived are taken through the ordinary
// read path, pings are answered), or handed to onReadable on one of the
// poller's workers. onReadable uses the ordinary calls (Recv, RecvV,
// Reader, Send, Detach …) with their contexts, and the connection is
// parked again when it returns, unless it was closed or detached.
//
// What an idle watched connection holds: its Conn (no read or write
// buffer, no goroutine), its net.Conn, and about 100 bytes of poller
// state. With Config.PingInterval, keepalive runs on one timer wheel per
// poller instead of a goroutine per connection.
//
// Messages that arrive in pieces. A message that fits the connection's
// read buffer (8 KiB) is handed to onReadable only once it is buffered
// whole: until then its bytes stay buffered (the connection holds a read
// buffer while a message is partly there) and the connection is parked
// again, so a peer that writes slowly never pins a worker. A message that
// cannot be buffered whole is handed over once its first part is there:
// its receive then waits for the rest under its ctx, so onReadable should
// give its receives a deadline (a timeout in the middle of a message
// breaks the receive side, as always). Pings, pongs and the peer's close
// that arrive while parked are handled as Recv handles them: a ping is
// answered at once, the peer's close is delivered to onReadable's next
// receive as CloseError.
//
// Obligations of onReadable: receive what is there. If it returns without
// receiving anything, the connection waits for more bytes before it is
// called again. If it returns after its receive side ended (the peer's
// close, a failure) without closing or detaching the connection, the
// poller closes it (Close). While a connection is watched, receive and
// Detach only from onReadable: from another goroutine they race the
// poller, and one of them gets ErrBusy. Send, Ping, Close and Status are
// safe from any goroutine at any time.
//
// Where no epoll is available (other systems than Linux) and for a
// net.Conn without a file descriptor (net.Pipe, most wrappers of a
// net.Conn), Watch falls back to one goroutine per connection that waits
// in a read of the small idle buffer (about 4 KiB per connection); the
// API, the callbacks (on at most workers at a time) and the rules above
// are the same.
//
// TLS: a *tls.Conn over a TCP connection is watched on its socket.
// crypto/tls may hold decrypted or undecrypted bytes the socket no longer
// shows; after each onReadable the poller asks the tls.Conn for them
// with an expired deadline (no system call, no wait) before it parks the
// connection. An idle TLS connection costs crypto/tls's own state on top
// of a plain one, which the poller cannot release: measured at 10,000
// watched connections, 10.4 KiB per connection fresh (the tls.Conn and
// its handshake state) and 36 KiB after traffic (its record buffers grow
// to a full record and stay), against 1.7 and 3.3 KiB over plain TCP
// (bench/results/idle.md).
type Poller struct {
	ep       *epoll // nil: every connection has its fallback goroutine
	jobs     chan job
	sem      chan struct{} // bounds the onReadable calls running at once
	done     chan struct{} // closed by Close
	loopDone chan struct{}
	refs     atomic.Int64 // users of ep; the last one closes it

	mu     sync.Mutex
	closed bool
	slots  []*watch // watched connections, by the low half of their id
	free   []uint32
	gen    uint32

	wheel wheel
}

// watch is one watched connection.
type watch struct {
	p     *Poller
	c     *Conn
	fn    func(*Conn)
	rc    syscall.RawConn // the socket; nil: the fallback goroutine
	id    uint64          // slot | generation<<32, carried by epoll events
	scan  parkMode        // what to look at after onReadable: parkScan, or parkProbe (TLS on epoll)
	state atomic.Int32    // watchArmed or watchRunning
	kick  atomic.Bool     // asked to look again while running

	// Keepalive wheel (wheel.mu).
	kaPrev, kaNext *watch
	kaTick         int64
	kaOn, kaGone   bool
}

const (
	watchRunning = iota // a worker (or Watch) owns the watch
	watchArmed          // epoll owns it: the next readiness report hands it to a worker
)

// wakeID is the epoll id of the pipe that wakes the loop at Close; no
// watch gets it.
const wakeID = ^uint64(0)

// job is work for a poller's worker.
type job struct {
	w    *watch
	mode parkMode
	ping bool // a keepalive ping, not a readiness
}

// NewPoller starts a poller whose onReadable callbacks run on at most
// workers goroutines at once (0 means runtime.GOMAXPROCS(0)). On Linux
// it creates an epoll instance and starts one goroutine waiting on it,
// plus the workers. It does not block.
//
// Errors: ErrInvalid for a negative workers; the system's error if epoll
// cannot be set up.
func NewPoller(workers int) (*Poller, error) {
	if workers < 0 {
		return nil, newError("newpoller", ErrInvalid, detail("negative workers"))
	}
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := &Poller{
		jobs:     make(chan job, 4*workers),
		sem:      make(chan struct{}, workers),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	p.wheel.p = p
	ep, err := newEpoll()
	if err != nil && runtime.GOOS == "linux" {
		return nil, newError("newpoller", err, nil)
	}
	if err == nil {
		p.ep = ep
		p.refs.Store(int64(2 + workers)) // Close, loop, workers
		go p.loop()
	} else {
		close(p.loopDone)
	}
	for range workers {
		go p.work()
	}
	return p, nil
}

// Watch parks c until it has something to receive, then calls
// onReadable(c) on one of the poller's workers; see Poller for the rules.
// Watch does not wait for c: if c already holds a whole message (bytes
// read ahead by the handshake or a receive), onReadable is called soon.
// Watch takes over c's keepalive (Config.PingInterval): its goroutine
// ends, the poller's wheel pings instead. c stays watched until it is
// closed or detached, or the poller is closed.
//
// Errors: ErrInvalid for a nil c or onReadable; ErrBusy if c is already
// watched or another goroutine is receiving on it; net.ErrClosed if c or
// the poller is closed.
func (p *Poller) Watch(c *Conn, onReadable func(c *Conn)) error {
	if c == nil || onReadable == nil {
		return newError("watch", ErrInvalid, nil)
	}
	if c.closed.Load() {
		return newError("watch", net.ErrClosed, nil)
	}
	w := &watch{p: p, c: c, fn: onReadable, scan: parkScan}
	if p.ep != nil {
		w.rc = rawConnOf(c.u)
	}
	if !c.pw.CompareAndSwap(nil, w) {
		return newError("watch", ErrBusy, detail("already watched"))
	}
	if !p.register(w) {
		c.pw.Store(nil)
		return newError("watch", net.ErrClosed, nil)
	}
	if p.ep != nil {
		defer p.release()
	}
	// A descriptor epoll refuses gets the fallback too. The fallback's
	// blocking read drains what a TLS conn holds: it never probes.
	fallback := w.rc == nil || p.ep.add(w) != nil
	if _, ok := c.u.(*tls.Conn); ok && !fallback {
		w.scan = parkProbe
	}
	st := c.park(w.scan)
	if st == parkBusy {
		p.forget(w)
		return newError("watch", ErrBusy, nil)
	}
	if c.ka != nil {
		c.stopKeepalive()
		p.wheel.add(w)
	}
	switch {
	case fallback:
		go p.fallback(w, st)
	case st == parkWait:
		p.settle(w, parkEvent, false)
	default:
		p.submit(job{w: w, mode: w.scan})
	}
	return nil
}

// rawConnOf returns the socket under u (through a *tls.Conn whose
// handshake is complete: a probe with an expired deadline would fail a
// handshake for good), or nil.
func rawConnOf(u net.Conn) syscall.RawConn {
	if t, ok := u.(*tls.Conn); ok {
		if !t.ConnectionState().HandshakeComplete {
			return nil
		}
		u = t.NetConn()
	}
	sc, ok := u.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// Close stops the poller and closes every watched connection (with
// Conn.Close: no closing handshake; a close frame already due still goes
// out, lingering as Conn.Close does). Connections handed to onReadable
// are closed too, so their calls fail with net.ErrClosed; Close does not
// wait for those callbacks to return (it may thus be called from one),
// and no callback starts after it returned. The poller's goroutines end
// once their callbacks have returned. Connections closed or detached
// before are not affected.
//
// Errors: net.ErrClosed if the poller was already closed.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return newError("poller close", net.ErrClosed, nil)
	}
	p.closed = true
	var ws []*watch
	for _, w := range p.slots {
		if w != nil {
			ws = append(ws, w)
		}
	}
	p.mu.Unlock()
	close(p.done)
	if p.ep != nil {
		p.ep.wakeUp()
	}
	<-p.loopDone
	p.wheel.shut()
	for _, w := range ws {
		w.c.Close()
	}
	p.release()
	return nil
}

// release drops a reference to ep; the last one closes it, so that no
// EpollCtl can meet a descriptor number reused after Close.
func (p *Poller) release() {
	if p.ep != nil && p.refs.Add(-1) == 0 {
		p.ep.close()
	}
}

// register gives w an id; false once the poller is closed.
func (p *Poller) register(w *watch) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	var slot uint32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		slot = uint32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	if p.ep != nil {
		p.refs.Add(1) // released by Watch
	}
	p.gen++
	w.id = uint64(slot) | uint64(p.gen)<<32
	if w.id == wakeID {
		p.gen++
		w.id = uint64(slot) | uint64(p.gen)<<32
	}
	p.slots[slot] = w
	return true
}

// lookup returns the watch with this id, nil if it is gone.
func (p *Poller) lookup(id uint64) *watch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slot := uint32(id); int(slot) < len(p.slots) {
		if w := p.slots[slot]; w != nil && w.id == id {
			return w
		}
	}
	return nil
}

// forget stops watching w: it leaves the table, the wheel and the epoll
// set. Safe to call more than once, from any goroutine.
func (p *Poller) forget(w *watch) {
	p.mu.Lock()
	slot := uint32(w.id)
	if int(slot) >= len(p.slots) || p.slots[slot] != w {
		p.mu.Unlock()
		return
	}
	p.slots[slot] = nil
	p.free = append(p.free, slot)
	ep := p.ep != nil && w.rc != nil && !p.closed
	if ep {
		p.refs.Add(1)
	}
	p.mu.Unlock()
	p.wheel.remove(w)
	w.c.pw.CompareAndSwap(w, nil)
	if ep {
		p.ep.del(w)
		p.release()
	}
}

// unwatch is called by Close and Detach before the underlying connection
// is closed or handed back.
func (c *Conn) unwatch() {
	if w := c.pw.Load(); w != nil {
		w.p.forget(w)
	}
}

// submit hands j to a worker, unless the poller closes first.
func (p *Poller) submit(j job) {
	select {
	case p.jobs <- j:
	case <-p.done:
	}
}

// loop turns readiness reports into jobs.
func (p *Poller) loop() {
	defer close(p.loopDone)
	defer p.release()
	p.ep.run(func(id uint64) {
		if w := p.lookup(id); w != nil {
			p.kickWatch(w)
		}
	})
}

// kickWatch hands w to a worker if epoll owns it, or asks its worker to
// look again.
func (p *Poller) kickWatch(w *watch) {
	w.kick.Store(true)
	if w.state.CompareAndSwap(watchArmed, watchRunning) {
		w.kick.Store(false)
		p.submit(job{w: w, mode: parkEvent})
	}
}

// work is one worker.
func (p *Poller) work() {
	defer p.release()
	for {
		select {
		case <-p.done:
			return
		case j := <-p.jobs:
			if j.ping {
				j.w.c.queuePing()
				continue
			}
			if !p.serve(j.w, j.mode) {
				p.drop(j.w)
				continue
			}
			p.settle(j.w, parkEvent, true)
		}
	}
}

// settle parks w again: epoll owns it from here, unless a kick came
// meanwhile; then a worker serves it again (this one if inline).
func (p *Poller) settle(w *watch, mode parkMode, inline bool) {
	for {
		w.state.Store(watchArmed)
		if !w.kick.Swap(false) || !w.state.CompareAndSwap(watchArmed, watchRunning) {
			break
		}
		if !inline {
			p.submit(job{w: w, mode: mode})
			return
		}
		if !p.serve(w, mode) {
			p.drop(w)
			return
		}
	}
	if p.ep.arm(w) != nil && w.state.CompareAndSwap(watchArmed, watchRunning) {
		p.drop(w) // the connection was closed
	}
}

// drop forgets w, whose connection ended.
func (p *Poller) drop(w *watch) {
	p.forget(w)
	if !w.c.closed.Load() {
		w.c.Close()
	}
}

// serve runs park and onReadable until w has nothing to receive; false
// when the watch is over.
func (p *Poller) serve(w *watch, mode parkMode) bool {
	c := w.c
	st := c.park(mode)
	for {
		switch st {
		case parkWait, parkBusy:
			return true
		case parkEnded:
			return false
		}
		before, _ := c.mark()
		if !p.call(w) {
			return false
		}
		if c.closed.Load() {
			return false
		}
		after, ok := c.mark()
		st = c.park(w.scan)
		if st == parkReady && (!ok || after == before) {
			return true // nothing received: wait for more bytes
		}
	}
}

// call runs onReadable under the poller's bound; false once the poller
// is closed.
func (p *Poller) call(w *watch) bool {
	select {
	case p.sem <- struct{}{}:
	case <-p.done:
		return false
	}
	defer func() { <-p.sem }()
	select {
	case <-p.done:
		return false
	default:
	}
	w.fn(w.c)
	return true
}

// fallback is the goroutine of a connection without epoll: it waits in a
// read, then calls onReadable as a worker would.
func (p *Poller) fallback(w *watch, st parkState) {
	c := w.c
	defer p.drop(w)
	for {
		switch st {
		case parkEnded:
			return
		case parkBusy:
			select {
			case <-p.done:
				return
			case <-time.After(time.Millisecond):
			}
			st = c.park(parkScan)
			continue
		case parkWait:
			st = c.park(parkBlock)
			continue
		}
		before, _ := c.mark()
		if !p.call(w) || c.closed.Load() {
			return
		}
		after, ok := c.mark()
		st = c.park(parkScan)
		if st == parkReady && (!ok || after == before) {
			st = c.park(parkBlock) // nothing received: wait for more bytes
		}
	}
}
