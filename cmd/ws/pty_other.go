//go:build !linux

package main

import (
	"errors"
	"io"
	"os/exec"
)

const ptyAvailable = false

func ptyStdout(cmd *exec.Cmd) (io.ReadCloser, error) { return nil, errors.New("no pty support here") }

func closeSlave(cmd *exec.Cmd) {}
