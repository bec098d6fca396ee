package idleload

import (
	"net"
	"sync"
	"syscall"
)

// epoll is the netpoll of the gobwas server (github.com/mailru/easygo is
// not served by the module proxy): one goroutine waits in epoll_wait, a
// connection is registered one-shot and re-armed after its handler ran
// on one of a fixed number of workers.
type epoll struct {
	fd   int
	mu   sync.Mutex
	m    map[int32]*entry
	jobs chan *entry
}

type entry struct {
	fd int32
	c  net.Conn
	h  func(net.Conn) bool
}

func newEpoll(workers int) (*epoll, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	e := &epoll{fd: fd, m: map[int32]*entry{}, jobs: make(chan *entry, 1024)}
	for range workers {
		go e.work()
	}
	go e.wait()
	return e, nil
}

const evMask = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func (e *epoll) add(c net.Conn, h func(net.Conn) bool) error {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	en := &entry{fd: int32(fd), c: c, h: h}
	e.mu.Lock()
	e.m[en.fd] = en
	e.mu.Unlock()
	ev := syscall.EpollEvent{Events: evMask, Fd: en.fd}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func (e *epoll) wait() {
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(e.fd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			e.mu.Lock()
			en := e.m[ev.Fd]
			e.mu.Unlock()
			if en != nil {
				e.jobs <- en
			}
		}
	}
}

func (e *epoll) work() {
	for en := range e.jobs {
		if en.h(en.c) {
			ev := syscall.EpollEvent{Events: evMask, Fd: en.fd}
			if syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_MOD, int(en.fd), &ev) == nil {
				continue
			}
		}
		syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_DEL, int(en.fd), nil)
		e.mu.Lock()
		delete(e.m, en.fd)
		e.mu.Unlock()
		en.c.Close()
	}
}
