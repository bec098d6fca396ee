//go:build !linux

package ws

import (
	"errors"
	"syscall"
)

// epoll exists on Linux only: elsewhere every watched connection has its
// fallback goroutine.
type epoll struct{}

var errNoEpoll = errors.New("ws: no epoll on this system")

func newEpoll() (*epoll, error)      { return nil, errNoEpoll }
func (e *epoll) add(w *watch) error  { return errNoEpoll }
func (e *epoll) arm(w *watch) error  { return errNoEpoll }
func (e *epoll) del(w *watch)        {}
func (e *epoll) run(func(id uint64)) {}
func (e *epoll) wakeUp()             {}
func (e *epoll) close()              {}

// readNow is never called without epoll.
func readNow(rc syscall.RawConn, b []byte) (int, bool, error) { return 0, false, errNoEpoll }
