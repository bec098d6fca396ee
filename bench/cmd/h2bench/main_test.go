package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain re-executes the test binary with GODEBUG=http2xconnect=1: the
// HTTP/2 server needs it to accept extended CONNECT.
func TestMain(m *testing.M) {
	if code, done := reexec(); done {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestSmoke runs every variant with tiny counts: every echo comes back
// whole (run checks it), the WebSockets come over the protocol each
// variant names, and every figure is filled in.
func TestSmoke(t *testing.T) {
	rep, err := run(opts{reps: 2, msgs: 20, setups: 5, sizes: []int{16, 1024, 65536}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"echo ws 16", "echo raw 16", "echo ws 1024", "echo raw 1024", "echo ws 65536", "echo raw 65536", "setup h2", "setup h1"} {
		ss := rep.rows[name]
		if len(ss) != 2 {
			t.Fatalf("%s: %d samples, want 2", name, len(ss))
		}
		for _, s := range ss {
			if s.ns <= 0 || s.cpuNs < 0 {
				t.Errorf("%s: %+v", name, s)
			}
		}
	}
	if out := rep.String(); !strings.Contains(out, "| 1024 B |") || !strings.Contains(out, "new HTTP/1.1 connection") {
		t.Errorf("report:\n%s", out)
	}
}
