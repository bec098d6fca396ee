//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// setGroup starts the process in a process group of its own, so that
// everything it starts can be killed with it.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group of a started process (SIGKILL);
// members already gone are no error.
func killGroup(p *execProc) error {
	if p.Process == nil {
		return nil
	}
	if err := syscall.Kill(-p.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
