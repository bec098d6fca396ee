package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"
)

const ptyAvailable = true

// ptyStdout makes a pty the stdout of cmd (not yet started) and returns
// its master side to read the output from. The slave is raw: no echo,
// no "\r\n" for "\n". stdin stays a pipe, so that the client's close is
// still the end of the process's input.
func ptyStdout(cmd *exec.Cmd) (io.ReadCloser, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var unlock int32
	var n uint32
	if err := ioctl(master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		master.Close()
		return nil, err
	}
	if err := ioctl(master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		master.Close()
		return nil, err
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, err
	}
	if t, err := getTermios(slave.Fd()); err == nil {
		t.Iflag &^= syscall.ICRNL | syscall.IXON
		t.Oflag &^= syscall.OPOST
		t.Lflag &^= syscall.ECHO | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		setTermios(slave.Fd(), t)
	}
	cmd.Stdout = slave
	return ptyReader{master}, nil
}

// closeSlave closes the parent's copy of the slave once cmd started, so
// that the master sees the end of output when the process is gone.
func closeSlave(cmd *exec.Cmd) {
	if f, ok := cmd.Stdout.(*os.File); ok {
		f.Close()
	}
}

func ioctl(fd, req, arg uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg); errno != 0 {
		return errno
	}
	return nil
}

// ptyReader reads a pty's master: EIO, once every slave is closed, is
// the end of the output.
type ptyReader struct{ *os.File }

func (r ptyReader) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}
