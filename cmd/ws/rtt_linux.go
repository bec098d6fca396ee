package main

import (
	"net"
	"syscall"
	"time"
	"unsafe"

	"github.com/dillgo/ws"
)

// measureRTT returns the kernel's smoothed round trip time of c's TCP
// connection (TCP_INFO): a stand-in for a WebSocket ping until the
// library has Conn.Ping.
func measureRTT(c *ws.Conn) (time.Duration, error) {
	u := c.Underlying()
	for {
		w, ok := u.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		u = w.NetConn()
	}
	tc, ok := u.(*net.TCPConn)
	if !ok {
		return 0, errNoRTT
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var info syscall.TCPInfo
	var errno syscall.Errno
	cerr := raw.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	})
	if cerr != nil {
		return 0, cerr
	}
	if errno != 0 {
		return 0, errno
	}
	return time.Duration(info.Rtt) * time.Microsecond, nil
}
