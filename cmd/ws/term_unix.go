//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"syscall"
	"unsafe"
)

func isTTY(fd uintptr) bool {
	_, err := getTermios(fd)
	return err == nil
}

func getTermios(fd uintptr) (*syscall.Termios, error) {
	var t syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, ioctlGetTermios, uintptr(unsafe.Pointer(&t))); errno != 0 {
		return nil, errno
	}
	return &t, nil
}

func setTermios(fd uintptr, t *syscall.Termios) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, ioctlSetTermios, uintptr(unsafe.Pointer(t))); errno != 0 {
		return errno
	}
	return nil
}

// makeRaw turns off the terminal's line editing and echo on fd (signals
// and output processing stay: Ctrl-C is still SIGINT, "\n" still moves to
// the start of the next line) and returns the function that restores it.
func makeRaw(fd uintptr) (restore func(), err error) {
	old, err := getTermios(fd)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Lflag &^= syscall.ICANON | syscall.ECHO | syscall.IEXTEN
	raw.Iflag &^= syscall.IXON
	raw.Cc[syscall.VMIN], raw.Cc[syscall.VTIME] = 1, 0
	if err := setTermios(fd, &raw); err != nil {
		return nil, err
	}
	return func() { setTermios(fd, old) }, nil
}

// termWidth returns the columns of the terminal on fd, 80 if unknown.
func termWidth(fd uintptr) int {
	var ws struct{ row, col, x, y uint16 }
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws))); errno != 0 || ws.col == 0 {
		return 80
	}
	return int(ws.col)
}
