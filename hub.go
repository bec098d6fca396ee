package ws

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Hub fans messages out to a set of connections: chat rooms, live
// dashboards, notifications. Each connection added has a bounded queue
// of outgoing messages and one writer goroutine that drains it: whatever
// is queued when the writer wakes goes out in one write call (or one
// writev), so that a busy connection pays one system call for many
// messages: everything published while a write was blocked leaves in the
// next one, and a writer woken while a Publish is in progress first lets
// the publishers run (a few scheduler yields, no timer) so that a burst
// of publishes leaves together. Messages are PreparedMessages, encoded once for every
// connection (see PreparedMessage for compression).
//
// Publish may be called from any goroutine. Each connection receives the
// messages of one publishing goroutine in the order they were published;
// messages of different publishers interleave. Nothing is lost while a
// connection keeps up. A connection that falls behind is handled by
// HubConfig.Policy: by default it gets a close frame (1008 and a reason)
// and is closed; a momentary burst within the byte budget and the lag
// allowed does not count.
//
// The hub only sends. The caller keeps receiving on every connection (a
// Recv loop per connection, as without a hub), removes the connection
// with Remove when that loop ends, and closes it. Between Add and Remove,
// send to the connection only through the hub: a Send of its own may meet
// ErrBusy while the writer writes (the writer waits for such a Send);
// Done and Close are safe at any time.
type Hub struct {
	cfg   HubConfig
	epoch time.Time // enqueue times are offsets from it (monotonic)

	mu      sync.Mutex
	members map[*Conn]*member         // (mu)
	list    atomic.Pointer[[]*member] // snapshot of members; nil after a change
	shut    atomic.Bool               // Shutdown began
	wg      sync.WaitGroup            // writers running

	queued, sent, dropped, disconnected, writes atomic.Uint64

	// publishing counts the Publish calls in progress: a writer woken
	// while one is yields a few times before taking its queue, so that
	// the messages of a burst of publishes leave in one write.
	publishing atomic.Int32
}

// HubConfig is the slow-consumer policy of a Hub. The zero value (or a
// nil *HubConfig) gives the defaults.
type HubConfig struct {
	// MaxQueueBytes is a connection's byte budget: the encoded size of
	// the messages published to it that its writer has not taken yet.
	// Publishing past it makes the connection slow. Default 1 MiB; one
	// message is always accepted by an empty queue, whatever its size.
	MaxQueueBytes int
	// MaxLag is how long a message may wait, from Publish until its
	// write completes, under SlowDisconnect: past it the connection is
	// slow. Default 5 s. Other policies do not bound the lag.
	MaxLag time.Duration
	// Policy is what happens to a slow connection. Default SlowDisconnect.
	Policy SlowPolicy
	// CloseCode is the close code SlowDisconnect sends:
	// StatusPolicyViolation (1008, the default) or StatusTryAgainLater
	// (1013). Other codes are ErrInvalid in NewHub.
	CloseCode StatusCode
	// OnSlow, if set, is called when a connection is found slow under
	// SlowDisconnect, with the reason, before its close frame is
	// written: to log it, or to count it. It runs on the connection's
	// writer goroutine and should return quickly; it must not call the
	// hub's Remove or Shutdown for that connection.
	OnSlow func(c *Conn, reason string)

	// grace bounds, for a slow connection, finishing the frame cut short
	// and then writing the close frame (each). Zero: controlTimeout, as
	// documented at SlowDisconnect; tests on a loaded machine lengthen it.
	grace time.Duration
}

// SlowPolicy says what a Hub does with a connection that falls behind.
type SlowPolicy uint8

const (
	// SlowDisconnect sends the slow connection a close frame with
	// HubConfig.CloseCode and a reason saying why ("slow consumer: …"),
	// then closes it (Close lingers so that the close frame is not lost).
	// A connection that is not reading at all may be behind a full
	// socket buffer: the frame being written is finished and the close
	// written within a further second, or the TCP connection is cut.
	// Detection is at most MaxLag after the oldest message not written,
	// or at once when a Publish finds the byte budget spent.
	SlowDisconnect SlowPolicy = iota
	// SlowDropOldest drops the oldest queued messages of a connection to
	// stay within the byte budget (HubStats.Dropped counts them). The
	// connection stays; it misses messages.
	SlowDropOldest
	// SlowBlock makes Publish wait while a connection's queue is over
	// the budget, until its writer catches up or the ctx of Publish ends:
	// nothing is dropped, and one slow connection slows every publisher.
	SlowBlock
)

// HubStats are a Hub's counters since NewHub. A delivery is one message
// queued for one connection.
type HubStats struct {
	Conns        int    // connections in the hub
	Queued       uint64 // deliveries queued
	Sent         uint64 // deliveries written
	Dropped      uint64 // deliveries dropped: SlowDropOldest, or queued for a connection that left, failed or was disconnected
	Disconnected uint64 // connections disconnected as slow
	Writes       uint64 // write calls by the writers (one per writev)
}

// Hub defaults.
const (
	defaultQueueBytes = 1 << 20
	defaultMaxLag     = 5 * time.Second
	stageSize         = 32 << 10 // a writer gathers small frames into this much
	smallFrame        = 2 << 10  // frames up to this size are gathered by copy
)

// NewHub returns an empty hub with the policy in cfg (nil: the defaults);
// cfg is copied. Errors: ErrInvalid for a negative MaxQueueBytes or
// MaxLag, an unknown Policy or a CloseCode other than 0, 1008 or 1013.
func NewHub(cfg *HubConfig) (*Hub, error) {
	h := &Hub{epoch: time.Now(), members: map[*Conn]*member{}}
	if cfg != nil {
		h.cfg = *cfg
	}
	c := &h.cfg
	switch {
	case c.MaxQueueBytes < 0 || c.MaxLag < 0 || c.Policy > SlowBlock:
		return nil, newError("hub", ErrInvalid, detail("negative limit or unknown policy"))
	case c.CloseCode != 0 && c.CloseCode != StatusPolicyViolation && c.CloseCode != StatusTryAgainLater:
		return nil, newError("hub", ErrInvalid, detail("close code other than 1008 or 1013"))
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = defaultQueueBytes
	}
	if c.MaxLag == 0 {
		c.MaxLag = defaultMaxLag
	}
	if c.CloseCode == 0 {
		c.CloseCode = StatusPolicyViolation
	}
	if c.grace <= 0 {
		c.grace = controlTimeout
	}
	return h, nil
}

// Add puts c in the hub and starts its writer. The hub does not take
// ownership of c: the caller keeps receiving on it, and calls Remove
// before closing it for good. Errors: ErrPipe after Shutdown began;
// ErrInvalid if c is nil or already in the hub.
func (h *Hub) Add(c *Conn) error {
	if c == nil {
		return newError("hub add", ErrInvalid, detail("nil connection"))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.shut.Load():
		return newError("hub add", ErrPipe, detail("hub shut down"))
	case h.members[c] != nil:
		return newError("hub add", ErrInvalid, detail("connection already in the hub"))
	}
	mb := &member{c: c, wake: make(chan struct{}, 1), exited: make(chan struct{}),
		onSlow: h.cfg.OnSlow, maxLag: h.cfg.MaxLag, grace: h.cfg.grace, publishing: &h.publishing}
	mb.cut = mb.cutShort
	h.members[c] = mb
	h.list.Store(nil)
	h.wg.Add(1)
	go h.run(mb)
	return nil
}

// Remove takes c out of the hub: its writer stops (a write in progress is
// cut at the next frame boundary, within a second) and its queued
// messages are dropped. It returns once the writer has exited; then c is
// the caller's alone (Detach works). It returns why the hub had stopped
// writing to c, if it had: an error matching ErrPipe after a slow-consumer
// disconnect (its text gives the reason), or the send error that broke
// the connection; nil otherwise, and for a c not in the hub.
func (h *Hub) Remove(c *Conn) error {
	h.mu.Lock()
	mb := h.members[c]
	delete(h.members, c)
	h.list.Store(nil)
	h.mu.Unlock()
	if mb == nil {
		return nil
	}
	mb.end(stateStop, "")
	<-mb.exited
	return mb.err
}

// Publish queues m for every connection in the hub but skip (nil: every
// connection) and returns; the writers send it. It never waits for the
// network: under SlowDisconnect and SlowDropOldest it does not block at
// all; under SlowBlock it waits while a connection's queue is over the
// budget, bounded by ctx. Safe from any goroutine.
//
// Errors: ErrInvalid for a nil m; ErrPipe after Shutdown began;
// ErrTimedOut or ErrCanceled when ctx ends (at entry: nothing queued;
// under SlowBlock: m was queued for some connections only).
func (h *Hub) Publish(ctx context.Context, m *PreparedMessage, skip *Conn) error {
	if m == nil {
		return newError("publish", ErrInvalid, detail("nil message"))
	}
	if err := ctx.Err(); err != nil {
		return newError("publish", ctxKind(ctx, err), nil)
	}
	if h.shut.Load() {
		return newError("publish", ErrPipe, detail("hub shut down"))
	}
	h.publishing.Add(1)
	defer h.publishing.Add(-1)
	e := entry{m: m, t: time.Since(h.epoch)}
	var queued, dropped uint64
	var err error
	for _, mb := range h.snapshot() {
		if mb.c == skip {
			continue
		}
		pushed, lost, perr := mb.push(ctx, &h.cfg, e)
		if pushed {
			queued++
		}
		dropped += uint64(lost)
		if perr != nil {
			err = perr
			break
		}
	}
	h.queued.Add(queued)
	h.dropped.Add(dropped)
	return err
}

// Stats returns the hub's counters. Safe from any goroutine.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n := len(h.members)
	h.mu.Unlock()
	return HubStats{
		Conns:        n,
		Queued:       h.queued.Load(),
		Sent:         h.sent.Load(),
		Dropped:      h.dropped.Load(),
		Disconnected: h.disconnected.Load(),
		Writes:       h.writes.Load(),
	}
}

// Shutdown ends the hub gracefully: Publish and Add fail with ErrPipe
// from now on, every connection's writer writes what is queued and then
// a close frame with 1001 (going away), and Shutdown returns when they
// all have, or when ctx ends: then the writers still writing are cut
// (at a frame boundary, within a second), their connections closed, and
// Shutdown returns ErrTimedOut or ErrCanceled. The connections that got
// their 1001 stay open for the peers' answers, which the callers'
// receive loops see as a CloseError; they Remove and close them as
// usual. A second Shutdown waits in the same way.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shut.Store(true)
	all := make([]*member, 0, len(h.members))
	for _, mb := range h.members {
		all = append(all, mb)
	}
	h.mu.Unlock()
	for _, mb := range all {
		mb.drain(ctx)
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, mb := range all {
		mb.end(stateCut, "")
	}
	<-done
	return newError("hub shutdown", ctxKind(ctx, ctx.Err()), nil)
}

// snapshot returns the members as a slice, rebuilt after a change.
func (h *Hub) snapshot() []*member {
	if l := h.list.Load(); l != nil {
		return *l
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.list.Load(); l != nil {
		return *l
	}
	l := make([]*member, 0, len(h.members))
	for _, mb := range h.members {
		l = append(l, mb)
	}
	h.list.Store(&l)
	return l
}

// lagReason describes a lag-based disconnect.
func lagReason(d time.Duration) string {
	return "slow consumer: a message waited over " + d.String()
}

// budgetReason describes a budget-based disconnect.
func budgetReason(n int) string {
	return "slow consumer: over " + strconv.Itoa(n) + " bytes queued"
}
