package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary be the server child too.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		os.Exit(server(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestSmoke runs every library at a small size: each client receives
// every byte, and the figures are filled in.
func TestSmoke(t *testing.T) {
	for _, lib := range libs {
		r, err := run(lib, 50, 40, 128)
		if err != nil {
			t.Fatalf("%s: %v", lib, err)
		}
		if r.Deliveries != 2000 || r.Writes == 0 || r.CPUSeconds <= 0 {
			t.Fatalf("%s: %+v", lib, r)
		}
	}
}
