package ws

import (
	"sync"
	"time"
)

// wheel is a poller's keepalive: one goroutine and a hashed timer wheel
// for every watched connection with Config.PingInterval, instead of a
// goroutine and a ticker each. A connection sits in the slot of the tick
// at which its keepalive has something to decide (keepalive.next); a
// frame read meanwhile only moves that moment later, so the wheel checks
// again then (lazy rescheduling). The wheel starts with the first such
// connection.
type wheel struct {
	p     *Poller
	mu    sync.Mutex
	slots [wheelSlots]*watch // doubly linked lists through kaNext / kaPrev
	cur   int64              // the last tick processed
	start bool
	quit  chan struct{}
	done  chan struct{}
}

const (
	wheelTick  = 10 * time.Millisecond
	wheelSlots = 1024
)

func tickOf(ns int64) int64 { return ns / int64(wheelTick) }

// add puts w's keepalive on the wheel.
func (wh *wheel) add(w *watch) {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if wh.quit == nil {
		wh.quit, wh.done = make(chan struct{}), make(chan struct{})
	}
	if !wh.start {
		wh.start = true
		wh.cur = tickOf(time.Now().UnixNano())
		go wh.run()
	}
	wh.insert(w, w.c.ka.next())
}

// insert links w into the slot of the tick of at. Caller holds mu.
func (wh *wheel) insert(w *watch, at int64) {
	if w.kaGone || w.kaOn {
		return
	}
	t := max(tickOf(at)+1, wh.cur+1)
	s := &wh.slots[t%wheelSlots]
	w.kaTick, w.kaOn, w.kaPrev, w.kaNext = t, true, nil, *s
	if *s != nil {
		(*s).kaPrev = w
	}
	*s = w
}

// unlink takes w out of its slot. Caller holds mu.
func (wh *wheel) unlink(w *watch) {
	if !w.kaOn {
		return
	}
	if w.kaPrev != nil {
		w.kaPrev.kaNext = w.kaNext
	} else {
		wh.slots[w.kaTick%wheelSlots] = w.kaNext
	}
	if w.kaNext != nil {
		w.kaNext.kaPrev = w.kaPrev
	}
	w.kaOn, w.kaPrev, w.kaNext = false, nil, nil
}

// remove takes w off the wheel for good.
func (wh *wheel) remove(w *watch) {
	wh.mu.Lock()
	wh.unlink(w)
	w.kaGone = true
	wh.mu.Unlock()
}

// shut stops the wheel's goroutine and waits for it.
func (wh *wheel) shut() {
	wh.mu.Lock()
	start, quit, done := wh.start, wh.quit, wh.done
	wh.start = true // no goroutine starts after this
	if quit == nil {
		quit = make(chan struct{})
		wh.quit = quit
	}
	wh.mu.Unlock()
	close(quit)
	if start {
		<-done
	}
}

func (wh *wheel) run() {
	defer close(wh.done)
	t := time.NewTicker(wheelTick)
	defer t.Stop()
	var due []*watch
	for {
		select {
		case <-wh.quit:
			return
		case now := <-t.C:
			due = wh.advance(tickOf(now.UnixNano()), due[:0])
			wh.fire(now.UnixNano(), due)
			clear(due)
		}
	}
}

// advance takes out the watches whose tick has come, up to tick now.
func (wh *wheel) advance(now int64, due []*watch) []*watch {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if now-wh.cur > wheelSlots {
		wh.cur = now - wheelSlots // one turn visits every slot
	}
	for wh.cur < now {
		wh.cur++
		for w := wh.slots[wh.cur%wheelSlots]; w != nil; {
			next := w.kaNext
			if w.kaTick <= wh.cur {
				wh.unlink(w)
				due = append(due, w)
			}
			w = next
		}
	}
	return due
}

// fire runs the keepalive decisions of due and puts them back.
func (wh *wheel) fire(now int64, due []*watch) {
	for _, w := range due {
		k := w.c.ka
		switch k.check(now) {
		case kaFail:
			w.c.failKeepalive()
			if w.rc != nil {
				wh.p.kickWatch(w) // a parked connection learns it from onReadable's receive
			}
			continue
		case kaPing:
			wh.p.submit(job{w: w, ping: true}) // a worker writes it: the wheel never waits for a peer
		}
		wh.mu.Lock()
		wh.insert(w, k.next())
		wh.mu.Unlock()
	}
}
