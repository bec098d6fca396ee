package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The interop report: one row per peer test (peer, what runs, transport,
// subtests passed and failed), written to ../reports/INTEROP.md by
// TestMain once the tests ran. WSCONFORM_REPORTS names another directory,
// or "off".

type interopRow struct {
	test, peer, what, transport string
	passed, failed, skipped     int
	elapsed                     time.Duration
}

var (
	rowsMu sync.Mutex
	rows   []*interopRow
)

// reportRow registers t, a top-level peer test, in the interop report:
// when t ends, its subtests' outcomes (or its own, without subtests) are
// counted.
func reportRow(t *testing.T, peer, what, transport string) *interopRow {
	r := &interopRow{test: t.Name(), peer: peer, what: what, transport: transport}
	start := time.Now()
	t.Cleanup(func() {
		r.elapsed = time.Since(start)
		if r.passed+r.failed+r.skipped == 0 {
			switch {
			case t.Failed():
				r.failed = 1
			case t.Skipped():
				r.skipped = 1
			default:
				r.passed = 1
			}
		}
		rowsMu.Lock()
		rows = append(rows, r)
		rowsMu.Unlock()
	})
	return r
}

// leaf counts a scenario of row r when it ends.
func (r *interopRow) leaf(t *testing.T) {
	if r == nil {
		return
	}
	t.Cleanup(func() {
		rowsMu.Lock()
		defer rowsMu.Unlock()
		switch {
		case t.Failed():
			r.failed++
		case t.Skipped():
			r.skipped++
		default:
			r.passed++
		}
	})
}

// writeInteropReport writes INTEROP.md.
func writeInteropReport() {
	dir := os.Getenv("WSCONFORM_REPORTS")
	if dir == "" {
		dir = filepath.Join("..", "reports")
	}
	rowsMu.Lock()
	defer rowsMu.Unlock()
	if dir == "off" || len(rows) == 0 {
		return
	}
	var sb strings.Builder
	sb.WriteString("# Interop summary\n\n")
	fmt.Fprintf(&sb, "Run %s by `cd conformance && go test ./interop/...`.\n\n", time.Now().UTC().Format(time.RFC3339))
	sb.WriteString("| Test | Peer | What runs | Transport | Passed | Failed | Skipped | Time |\n|---|---|---|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %d | %d | %d | %.1f s |\n", r.test, r.peer, r.what, r.transport, r.passed, r.failed, r.skipped, r.elapsed.Seconds())
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, "INTEROP.md"), []byte(sb.String()), 0o644)
	}
}

// current is the row whose scenarios are running (the peer tests run one
// at a time: none calls t.Parallel).
var current *interopRow

// withRow makes r the row runScenarios counts into, until the returned
// function runs.
func withRow(r *interopRow) func() {
	rowsMu.Lock()
	current = r
	rowsMu.Unlock()
	return func() {
		rowsMu.Lock()
		current = nil
		rowsMu.Unlock()
	}
}

func currentRow() *interopRow {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	return current
}
