package ws

import (
	"errors"
	"os"
	"os/exec"
	"strings"
)

// xconnectEnv is the switch net/http's HTTP/2 server needs to accept
// RFC 8441 extended CONNECT; it is read when the process starts.
const xconnectEnv = "http2xconnect=1"

// reexecXConnect runs the test binary again with GODEBUG=http2xconnect=1
// unless it already has it, and reports the child's exit code: the
// HTTP/2 server tests need the switch (see Upgrade). WS_NO_REEXEC=1 runs
// the tests without it (the HTTP/2 server tests then check the refusal).
func reexecXConnect() (code int, done bool) {
	gd := os.Getenv("GODEBUG")
	if strings.Contains(gd, xconnectEnv) || os.Getenv("WS_NO_REEXEC") == "1" {
		return 0, false
	}
	if gd != "" {
		gd += ","
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+gd+xconnectEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	if err != nil {
		return 1, true
	}
	return 0, true
}

// xconnectOn reports whether this process has the switch.
func xconnectOn() bool { return strings.Contains(os.Getenv("GODEBUG"), xconnectEnv) }
