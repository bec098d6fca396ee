package main

import (
	"strings"
	"testing"
)

// serveWithEnv is serve with env added to the process's environment.
func serveWithEnv(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	saved := extraEnv
	extraEnv = env
	defer func() { extraEnv = saved }()
	return serve(t, args...)
}

// TestServeDialHTTP2 runs ws serve (--h2c, and TLS) and ws dial --http2
// as processes: with GODEBUG=http2xconnect=1 in the server's environment
// the banner says HTTP/2 WebSockets are on, and dial opens the WebSocket
// as an HTTP/2 stream (-v shows "HTTP/2.0 200") whose messages echo, a
// 200 KB one included (flow control both ways), with the poller's echo
// and with a goroutine per connection. Without the switch the banner
// explains and dial falls back to HTTP/1.1 (101).
func TestServeDialHTTP2(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 12500)
	stdin := "hello\nwörld\n" + big + "\n"
	dial := func(t *testing.T, wantProto string, args ...string) {
		t.Helper()
		r := runWS(t, stdin, append([]string{"dial", "-v", "--http2"}, args...)...)
		if r.code != 0 || r.stdout != stdin {
			t.Fatalf("code %d, stdout %.80q (%d bytes, want %d); stderr:\n%.2000s", r.code, r.stdout, len(r.stdout), len(stdin), r.stderr)
		}
		if !strings.Contains(r.stderr, "< "+wantProto+"\n") {
			t.Fatalf("want %q in the heads; stderr:\n%s", wantProto, r.stderr)
		}
	}
	on := []string{"GODEBUG=http2xconnect=1"}
	cert, key := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"h2c", []string{"--h2c"}},
		{"h2c no poller", []string{"--h2c", "--poller=false"}},
		{"tls", []string{"--cert", cert, "--key", key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveWithEnv(t, on, tc.args...)
			if note := s.line(); !strings.Contains(note, "HTTP/2 WebSockets on") {
				t.Fatalf("banner note %q", note)
			}
			args := []string{s.url}
			if strings.HasPrefix(s.url, "wss:") {
				args = append(args, "--cacert", cert)
			}
			dial(t, "HTTP/2.0 200 OK", args...)
			if code := s.stop(); code != 0 {
				t.Fatalf("serve exited %d; stderr:\n%s", code, s.errOut)
			}
		})
	}
	t.Run("without the switch", func(t *testing.T) {
		s := serveWithEnv(t, []string{"GODEBUG="}, "--h2c")
		note := s.line()
		if !strings.Contains(note, "HTTP/2 WebSockets off") || !strings.Contains(note, "GODEBUG=http2xconnect=1") {
			t.Fatalf("banner note %q", note)
		}
		dial(t, "HTTP/1.1 101 Switching Protocols", s.url)
		if code := s.stop(); code != 0 {
			t.Fatalf("serve exited %d; stderr:\n%s", code, s.errOut)
		}
	})
}
