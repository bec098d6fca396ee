package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func checkBench(t *testing.T, r result, wantMsgs int64) benchResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("bench exited %d; stderr:\n%s", r.code, r.stderr)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, r.stdout)
	}
	l := res.Latency
	switch {
	case wantMsgs > 0 && res.Messages != wantMsgs:
		t.Errorf("messages %d, want %d", res.Messages, wantMsgs)
	case res.Messages <= 0 || res.MsgsPerSec <= 0 || res.Seconds <= 0:
		t.Errorf("no throughput: %+v", res)
	case res.Size > 0 && res.MBPerSec <= 0:
		t.Errorf("MB/s %v", res.MBPerSec)
	case !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max):
		t.Errorf("latency not ordered: %+v", l)
	case float64(l.Min) > l.Mean || l.Mean > float64(l.Max):
		t.Errorf("mean %v outside [min, max]: %+v", l.Mean, l)
	case res.Errors != 0:
		t.Errorf("errors: %d %s", res.Errors, res.FirstError)
	}
	var sum uint64
	for _, b := range res.Histogram {
		sum += b.Count
		if b.Lo >= b.Hi {
			t.Errorf("histogram range %+v", b)
		}
	}
	if sum != uint64(res.Messages) {
		t.Errorf("histogram holds %d, want %d", sum, res.Messages)
	}
	return res
}

func TestBenchAgainstServe(t *testing.T) {
	s := serve(t)
	res := checkBench(t, runWS(t, "", "bench", "-c", "3", "-n", "3000", "--inflight", "4", "-s", "256", "--json", s.url), 3000)
	if res.URL != s.url || res.Local || res.Connections != 3 || res.Inflight != 4 || res.Size != 256 {
		t.Errorf("parameters not reported: %+v", res)
	}
}

func TestBenchInProcess(t *testing.T) {
	res := checkBench(t, runWS(t, "", "bench", "-d", "300ms", "-c", "2", "--text", "-s", "100", "--json"), 0)
	if !res.Local || !res.Text {
		t.Errorf("%+v", res)
	}
	checkBench(t, runWS(t, "", "bench", "-n", "50", "-s", "0", "--json"), 50)
}

func TestBenchText(t *testing.T) {
	r := runWS(t, "", "bench", "-n", "500", "-c", "2")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"(in-process echo server): 2 connections × 1 in flight, 64-byte binary messages",
		"messages  500 in ", "msg/s", "MB/s", "p50 ", "p99.9 ", "max ", "#"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "\r") || strings.Contains(r.stdout, "\x1b") {
		t.Errorf("progress escapes when not on a terminal: %q", r.stderr)
	}
}

func TestBenchFailures(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"bench", "-c", "0"}, exitUsage, "ws: bench: -c and --inflight must be positive"},
		{[]string{"bench", "a", "b"}, exitUsage, `unexpected argument "b"`},
		{[]string{"bench", "ws://127.0.0.1:1/"}, exitHandshake, "ws: bench: "},
	}
	for _, tc := range cases {
		r := runWS(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%v: code %d stderr %q, want %d %q", tc.args, r.code, r.stderr, tc.code, tc.err)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := runWS(t, "", "help")
	for _, c := range []string{"serve", "dial", "bench", "version", "help"} {
		if r.code != 0 || !strings.Contains(r.stdout, "  "+c+" ") {
			t.Fatalf("ws help lacks %s: %+v", c, r)
		}
	}
	for _, c := range []string{"serve", "dial", "bench", "version"} {
		for _, args := range [][]string{{"help", c}, {c, "-h"}, {c, "--help"}} {
			r := runWS(t, "", args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: ws "+c) || !strings.Contains(r.stdout, "Flags:") || r.stderr != "" {
				t.Fatalf("ws %v: %+v", args, r)
			}
		}
	}
	if r := runWS(t, "", "help", "dial"); !strings.Contains(r.stdout, "Exit status:") {
		t.Fatalf("ws help dial lacks the exit codes")
	}
	if r := runWS(t, ""); r.code != exitUsage || !strings.Contains(r.stderr, "Commands:") {
		t.Fatalf("ws with no command: %+v", r)
	}
	r = runWS(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ws ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("version: %+v", r)
	}
}
