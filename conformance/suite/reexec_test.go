package suite

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// reexecHelperEnv marks the child processes of TestReexecXConnect.
const reexecHelperEnv = "SUITE_REEXEC_HELPER"

// TestReexecXConnectHelper is not a test: TestReexecXConnect runs the
// test binary with it. Without the switch it re-executes itself through
// ReexecXConnect and exits with the child's code; with it, it checks
// that the other GODEBUG settings survived and exits with 7.
func TestReexecXConnectHelper(t *testing.T) {
	if os.Getenv(reexecHelperEnv) != "1" {
		t.Skip("helper process for TestReexecXConnect")
	}
	if code, done := ReexecXConnect(); done {
		os.Exit(code)
	}
	if !XConnectOn() || !strings.Contains(os.Getenv("GODEBUG"), "madvdontneed=1") {
		os.Exit(3)
	}
	os.Exit(7)
}

// TestReexecXConnect runs the helper without the switch: ReexecXConnect
// must start it again with the switch added to the GODEBUG it had, and
// hand back the child's exit code.
func TestReexecXConnect(t *testing.T) {
	if os.Getenv(reexecHelperEnv) == "1" {
		t.Skip("in the helper process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReexecXConnectHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), reexecHelperEnv+"=1", "GODEBUG=madvdontneed=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper: %v, want exit code 7", err)
	}
	if ee.ExitCode() != 7 {
		t.Fatalf("helper exit code %d, want 7 (3: the switch or the other GODEBUG setting was lost)", ee.ExitCode())
	}
}
