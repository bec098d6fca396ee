package ws

import (
	"os"
	"syscall"
)

// epoll is the Linux readiness source of a Poller: one epoll instance in
// which every watched socket is registered once (EPOLL_CTL_ADD, disarmed)
// and armed for one readiness report at a time (EPOLL_CTL_MOD with
// EPOLLONESHOT), so that a connection is handed to at most one worker.
// Go's own netpoller keeps its registration of the same descriptor: the
// receive calls of onReadable read through the net.Conn as always. A pipe
// wakes the waiting loop at Close.
//
// The epoll descriptor is itself non-blocking and registered with Go's
// netpoller (an epoll set is readable while it has readiness to report):
// the loop harvests reports with a zero timeout and parks its goroutine
// in the runtime when there are none, as a socket read does, instead of
// holding a thread in a blocking epoll_wait that the scheduler must
// hand its P away from and back to on every wake-up.
type epoll struct {
	fd   int
	f    *os.File        // fd, in Go's netpoller; closing it closes fd
	rc   syscall.RawConn // f's, for the loop's waits
	wake [2]int          // pipe: wake[0] registered, wake[1] written by Close
}

const epollArmed = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newEpoll() (*epoll, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	e := &epoll{fd: fd, f: os.NewFile(uintptr(fd), "epoll")}
	rc, err := e.f.SyscallConn()
	if err != nil {
		e.f.Close()
		return nil, err
	}
	e.rc = rc
	if err := syscall.Pipe2(e.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		e.f.Close()
		return nil, err
	}
	ev := eventFor(wakeID, syscall.EPOLLIN)
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, e.wake[0], &ev); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func eventFor(id uint64, events uint32) syscall.EpollEvent {
	return syscall.EpollEvent{Events: events, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// ctl runs EpollCtl on w's descriptor while the runtime guarantees it is
// open (syscall.RawConn.Control): a closed connection is an error, never
// a descriptor number reused by someone else.
func (e *epoll) ctl(w *watch, op int, events uint32) error {
	var err error
	cerr := w.rc.Control(func(fd uintptr) {
		ev := eventFor(w.id, events)
		err = syscall.EpollCtl(e.fd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// add registers w disarmed: nothing is reported until arm.
func (e *epoll) add(w *watch) error { return e.ctl(w, syscall.EPOLL_CTL_ADD, syscall.EPOLLONESHOT) }

// arm asks for one report when w's socket is readable (at once if it
// already is), or hung up.
func (e *epoll) arm(w *watch) error { return e.ctl(w, syscall.EPOLL_CTL_MOD, epollArmed) }

// del removes w; a closed descriptor has already left the set.
func (e *epoll) del(w *watch) { e.ctl(w, syscall.EPOLL_CTL_DEL, 0) }

// run reports the id of every readiness until wakeUp. Between reports
// its goroutine waits in the netpoller for the epoll set to be readable.
func (e *epoll) run(ready func(id uint64)) {
	var events [256]syscall.EpollEvent
	for {
		var n int
		var err error
		rerr := e.rc.Read(func(fd uintptr) bool {
			for {
				n, err = syscall.EpollWait(int(fd), events[:], 0)
				if err != syscall.EINTR {
					return n > 0 || err != nil
				}
			}
		})
		if rerr != nil || err != nil {
			return
		}
		for i := range events[:n] {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if id == wakeID {
				return
			}
			ready(id)
		}
	}
}

// wakeUp makes run return.
func (e *epoll) wakeUp() { syscall.Write(e.wake[1], []byte{1}) }

// close releases the descriptors; no ctl may follow.
func (e *epoll) close() {
	syscall.Close(e.wake[0])
	syscall.Close(e.wake[1])
	e.f.Close()
}

// readNow reads what the socket under rc holds into b with one
// non-blocking read(2) that never waits: n bytes, or again when there was
// nothing after all (EAGAIN), or the read's failure (n == 0 with no error
// is the end of the stream).
func readNow(rc syscall.RawConn, b []byte) (n int, again bool, err error) {
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				return true
			}
		}
	})
	if cerr != nil {
		return 0, false, cerr
	}
	if rerr == syscall.EAGAIN {
		return 0, true, nil
	}
	if n < 0 {
		n = 0
	}
	return n, false, rerr
}
