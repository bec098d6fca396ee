package suite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// ReexecXConnect runs the current program again, with the same arguments
// and standard streams, with http2xconnect=1 added to GODEBUG (other
// GODEBUG settings are kept), unless the process already has the switch.
// It blocks until the child exits and reports its exit code with
// done=true; with the switch already on it returns 0, false at once.
// A child that cannot start gives code 1, with the error on stderr.
//
// A TestMain of a package whose tests run net/http's HTTP/2 server with
// RFC 8441 calls it first, because net/http reads GODEBUG at start-up:
//
//	if code, done := suite.ReexecXConnect(); done {
//		os.Exit(code)
//	}
func ReexecXConnect() (code int, done bool) {
	if XConnectOn() {
		return 0, false
	}
	gd := os.Getenv("GODEBUG")
	if gd != "" {
		gd += ","
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+gd+xconnect)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite: re-exec with GODEBUG="+xconnect+":", err)
		return 1, true
	}
	return 0, true
}
