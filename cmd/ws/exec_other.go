//go:build !unix

package main

import "os/exec"

func setGroup(cmd *exec.Cmd) {}

// killGroup kills the process only: there are no process groups here.
func killGroup(p *execProc) error {
	if p.Process == nil {
		return nil
	}
	return p.Process.Kill()
}
