package main

import (
	"strings"
	"testing"
)

// TestServePollerFlag: echo mode parks idle connections in a poller by
// default and says so; --poller=false runs a goroutine per connection and
// says that. Both echo and shut down with 1001.
func TestServePollerFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "echo: idle connections parked in a poller"},
		{[]string{"--poller=false"}, "echo: a goroutine per connection"},
		{[]string{"--nohttp"}, "echo: idle connections parked in a poller"},
	} {
		s := serve(t, tc.args...)
		if !strings.Contains(s.banner, tc.want) {
			t.Fatalf("%v: banner %q, want %q", tc.args, s.banner, tc.want)
		}
		dargs := []string{"dial", s.url}
		if strings.HasPrefix(s.url, "tcp://") {
			dargs = []string{"dial", "--nohttp", s.addr}
		}
		p := start(t, dargs...)
		for _, m := range []string{"one", "two", strings.Repeat("x", 100000)} {
			p.send(m)
			if got := p.line(); got != m {
				t.Fatalf("%v: echo %.20q, want %.20q", tc.args, got, m)
			}
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("%v: serve exited %d; stderr:\n%s", tc.args, code, s.errOut)
		}
		if code := p.wait(); code != 0 {
			t.Fatalf("%v: dial exited %d; stderr:\n%s", tc.args, code, p.errOut)
		}
	}
}
