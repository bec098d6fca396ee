package main

import (
	"log/slog"
	"os"
	"os/exec"
	"sync"
)

// execOutput is how a bridge process's stdout is made line-buffered, so
// that "tr a-z A-Z" answers each line at once instead of when it exits.
type execOutput string

const (
	outPty    execOutput = "pty"    // stdout is a pty (ws serve runs at a terminal)
	outStdbuf execOutput = "stdbuf" // stdbuf -oL (C stdio programs)
	outPipe   execOutput = "pipe"   // neither: the program's own buffering
)

// chooseExecOutput picks the pty when ws serve's stdin is a terminal and
// ptys are available here, else stdbuf -oL when installed, and says so.
func chooseExecOutput(log *slog.Logger) execOutput {
	if isTerminal(os.Stdin) && ptyAvailable {
		log.Info("exec: the command's stdout is a pty (line-buffered)")
		return outPty
	}
	if stdbufPath() != "" {
		log.Info("exec: the command runs under stdbuf -oL (line-buffered C stdio)")
		return outStdbuf
	}
	log.Warn("exec: stdbuf not found: the command's output may be buffered until it exits; make it flush each line (e.g. sed -u, python3 -u, grep --line-buffered)")
	return outPipe
}

var stdbufPath = sync.OnceValue(func() string {
	p, err := exec.LookPath("stdbuf")
	if err != nil {
		return ""
	}
	return p
})
