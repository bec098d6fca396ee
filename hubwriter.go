package ws

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// member is one connection of a Hub: its queue, guarded by mu, and what
// its writer goroutine owns.
type member struct {
	c      *Conn
	mu     sync.Mutex
	q      []entry       // messages published, not taken by the writer (mu)
	bytes  int           // encoded size of q (mu)
	state  memberState   // (mu)
	reason string        // why a slow connection is closed (mu)
	space  chan struct{} // closed when the writer takes q, for SlowBlock (mu)
	shut   context.Context
	wake   chan struct{} // a message or a state change, for the writer
	halt   atomic.Bool   // the writer's write must stop
	exited chan struct{} // closed when the writer is gone
	err    error         // why the writer stopped early; read after exited
	onSlow func(*Conn, string)
	cut    func() // mb.cutShort, made once

	publishing *atomic.Int32 // the hub's Publish calls in progress

	// The writer's own.
	spare    []entry
	notified bool // OnSlow was called
	maxLag   time.Duration
	grace    time.Duration // HubConfig.grace
	bufs     [][]byte
	ends     []int
}

// entry is one message in a queue and when it was published (an offset
// from the hub's epoch).
type entry struct {
	m *PreparedMessage
	t time.Duration
}

type memberState uint8

const (
	stateLive  memberState = iota
	stateDrain             // Shutdown: write what is queued, then 1001
	stateSlow              // disconnect as slow, with reason
	stateStop              // Remove: stop at once
	stateCut               // Shutdown's ctx ended: stop and close
	stateDead              // a write failed
)

// stagePool holds the buffers writers gather small frames in.
var stagePool = sync.Pool{New: func() any { return new([stageSize]byte) }}

// push queues e, applying the slow-consumer policy. It reports whether e
// was queued and how many deliveries it dropped.
func (mb *member) push(ctx context.Context, cfg *HubConfig, e entry) (bool, int, error) {
	n, dropped := e.m.size(), 0
	mb.mu.Lock()
	for mb.state == stateLive && len(mb.q) > 0 && mb.bytes+n > cfg.MaxQueueBytes {
		switch cfg.Policy {
		case SlowDropOldest:
			mb.bytes -= mb.q[0].m.size()
			mb.q[0] = entry{}
			mb.q = mb.q[1:]
			dropped++
		case SlowBlock:
			if mb.space == nil {
				mb.space = make(chan struct{})
			}
			space := mb.space
			mb.mu.Unlock()
			select {
			case <-space:
			case <-ctx.Done():
				return false, dropped, newError("publish", ctxKind(ctx, ctx.Err()), nil)
			}
			mb.mu.Lock()
		default:
			mb.endLocked(stateSlow, budgetReason(cfg.MaxQueueBytes))
			mb.mu.Unlock()
			mb.signal(true)
			return false, dropped + 1, nil
		}
	}
	if mb.state != stateLive {
		mb.mu.Unlock()
		return false, dropped + 1, nil
	}
	mb.q = append(mb.q, e)
	mb.bytes += n
	first := len(mb.q) == 1
	mb.mu.Unlock()
	if first {
		mb.signal(false)
	}
	return true, dropped, nil
}

// endLocked moves a live or draining member to st. Caller holds mu.
func (mb *member) endLocked(st memberState, reason string) bool {
	if mb.state != stateLive && mb.state != stateDrain {
		return false
	}
	mb.state, mb.reason = st, reason
	return true
}

// end moves a live or draining member to st and cuts its write.
func (mb *member) end(st memberState, reason string) {
	mb.mu.Lock()
	ok := mb.endLocked(st, reason)
	mb.mu.Unlock()
	if ok {
		mb.signal(true)
	}
}

// drain starts Shutdown's drain, bounded by ctx.
func (mb *member) drain(ctx context.Context) {
	mb.mu.Lock()
	if mb.state == stateLive {
		mb.state, mb.shut = stateDrain, ctx
	}
	mb.mu.Unlock()
	mb.signal(false)
}

// signal wakes the writer; with halt, it cuts its write in progress.
func (mb *member) signal(halt bool) {
	if halt {
		mb.halt.Store(true)
		mb.c.haltWrite()
	}
	select {
	case mb.wake <- struct{}{}:
	default:
	}
}

// A woken writer yields at most maxYields times while a Publish is in
// progress and fewer than batchWant messages are queued.
const (
	maxYields = 4
	batchWant = 16
)

// take waits for messages or a state change and takes the queue.
func (mb *member) take() ([]entry, memberState) {
	mb.mu.Lock()
	for len(mb.q) == 0 && mb.state == stateLive {
		mb.mu.Unlock()
		<-mb.wake
		mb.mu.Lock()
	}
	// A publish is in progress: let it (and those behind it) add to the
	// queue before taking it. Each yield lets every other runnable
	// goroutine run once; no timer is involved, and a writer whose
	// publishers are done takes its queue at once.
	for i := 0; i < maxYields && len(mb.q) < batchWant && mb.state == stateLive && mb.publishing.Load() > 0; i++ {
		mb.mu.Unlock()
		runtime.Gosched()
		mb.mu.Lock()
	}
	batch := mb.q
	mb.q, mb.spare = mb.spare[:0], nil
	mb.bytes = 0
	if mb.space != nil {
		close(mb.space)
		mb.space = nil
	}
	st := mb.state
	mb.mu.Unlock()
	return batch, st
}

// recycle keeps a written batch's array for the next one.
func (mb *member) recycle(batch []entry) {
	clear(batch)
	if cap(batch) <= 4096 {
		mb.spare = batch[:0]
	}
}

// run is a member's writer.
func (h *Hub) run(mb *member) {
	defer h.wg.Done()
	defer close(mb.exited)
	for {
		batch, st := mb.take()
		if st == stateLive || st == stateDrain {
			if len(batch) > 0 {
				err := h.write(mb, batch)
				mb.recycle(batch)
				if err != nil {
					h.writeFailed(mb, err)
				}
				continue
			}
			if st == stateDrain {
				h.goAway(mb)
				return
			}
			continue
		}
		h.dropped.Add(uint64(len(batch)))
		mb.recycle(batch)
		h.finish(mb, st)
		return
	}
}

// write sends a batch, in rounds of one write call each.
func (h *Hub) write(mb *member, batch []entry) error {
	st := stagePool.Get().(*[stageSize]byte)
	defer stagePool.Put(st)
	for i := 0; i < len(batch); {
		k := mb.stage(st, batch[i:])
		var dl time.Time
		if h.cfg.Policy == SlowDisconnect {
			dl = h.epoch.Add(batch[i].t + h.cfg.MaxLag)
		}
		n, err := mb.c.sendFrames(dl, &mb.halt, mb.bufs, mb.ends, mb.cut, mb.grace)
		clear(mb.bufs)
		h.writes.Add(1)
		h.sent.Add(uint64(n))
		if err != nil {
			h.dropped.Add(uint64(len(batch) - i - n))
			return err
		}
		i += k
	}
	return nil
}

// maxRoundBufs bounds the buffers of one writev (IOV_MAX is 1024).
const maxRoundBufs = 512

// stage lays out the next round of batch in mb.bufs and mb.ends: small
// frames copied into st, one after the other, larger ones by reference
// (client connections mask a copy). It returns the number of messages in
// the round.
func (mb *member) stage(st *[stageSize]byte, batch []entry) int {
	c := mb.c
	bufs, ends := mb.bufs[:0], mb.ends[:0]
	staged, from, total := st[:0], 0, 0
	k := 0
	for ; k < len(batch) && len(bufs) < maxRoundBufs-2; k++ {
		m := batch[k].m
		frame, rsv, hl := m.encoded(c)
		n := len(frame)
		if c.client {
			n += 4 // the masking key
		}
		if n <= smallFrame {
			if len(staged)+n > stageSize {
				break
			}
			if c.client {
				staged = appendMasked(staged, frame, rsv, m.op, hl)
			} else {
				staged = append(staged, frame...)
			}
		} else {
			if from < len(staged) {
				bufs = append(bufs, staged[from:])
				from = len(staged)
			}
			if c.client {
				frame = appendMasked(nil, frame, rsv, m.op, hl)
			}
			bufs = append(bufs, frame)
		}
		total += n
		ends = append(ends, total)
	}
	if from < len(staged) {
		bufs = append(bufs, staged[from:])
	}
	mb.bufs, mb.ends = bufs, ends
	return k
}

// cutShort runs when a write was cut inside a frame, before the frame is
// finished: a write behind for MaxLag makes the connection slow, and
// OnSlow learns it now, while the frame and the close can still get out.
func (mb *member) cutShort() {
	if !mb.halt.Load() {
		mb.end(stateSlow, lagReason(mb.maxLag))
	}
	mb.notify()
}

// notify calls OnSlow once for a slow connection. Writer only.
func (mb *member) notify() {
	mb.mu.Lock()
	st, reason := mb.state, mb.reason
	mb.mu.Unlock()
	if st == stateSlow && !mb.notified {
		mb.notified = true
		if mb.onSlow != nil {
			mb.onSlow(mb.c, reason)
		}
	}
}

// writeFailed handles a write that did not complete.
func (h *Hub) writeFailed(mb *member, err error) {
	if !mb.halt.Load() && isTimeout(err) {
		mb.end(stateSlow, lagReason(h.cfg.MaxLag)) // behind for MaxLag
		return
	}
	if mb.halt.Load() {
		return // the state changed: the next take tells
	}
	mb.mu.Lock()
	if mb.state == stateLive || mb.state == stateDrain {
		mb.state, mb.err = stateDead, err
	}
	mb.mu.Unlock()
}

// finish ends a writer that left the live states.
func (h *Hub) finish(mb *member, st memberState) {
	switch st {
	case stateSlow:
		mb.notify()
		h.disconnected.Add(1)
		mb.err = newError("hub", ErrPipe, detail(mb.reason))
		ctx, cancel := context.WithTimeout(context.Background(), mb.grace)
		mb.c.Done(ctx, h.cfg.CloseCode, mb.reason)
		cancel()
		mb.c.Close()
	case stateCut:
		mb.c.Close()
	}
}

// goAway sends Shutdown's 1001 once the queue is written.
func (h *Hub) goAway(mb *member) {
	if err := mb.c.Done(mb.shut, StatusGoingAway, "going away"); err != nil && mb.shut.Err() != nil {
		mb.c.Close()
	}
}

// isTimeout reports whether err is ErrTimedOut.
func isTimeout(err error) bool {
	e, ok := err.(*opError)
	return ok && e.kind == ErrTimedOut
}
