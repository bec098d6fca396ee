package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

func TestServeDialEcho(t *testing.T) {
	s := serve(t)
	if !strings.HasPrefix(s.url, "ws://127.0.0.1:") || !strings.HasSuffix(s.url, "/") {
		t.Fatalf("url %q", s.url)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"text", "hello\nwörld\n", nil, "hello\nwörld\n"},
		{"no final newline", "a\r\nb", nil, "a\nb\n"},
		{"empty line", "\n", nil, "\n"},
		{"binary", "hello\n", []string{"--binary"}, "<binary 5 bytes: 68 65 6c 6c 6f>\n"},
		{"not UTF-8 goes binary", "\xff\n", nil, "<binary 1 bytes: ff>\n"},
		{"flags after URL", "x\n", []string{"--wait", "5s"}, "x\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"dial", s.url}, tc.args...)
			r := runWS(t, tc.stdin, args...)
			if r.code != 0 || r.stdout != tc.want {
				t.Fatalf("code %d, stdout %q, want 0 and %q; stderr:\n%s", r.code, r.stdout, tc.want, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q, want nothing on a clean close", r.stderr)
			}
		})
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr:\n%s", code, s.errOut)
	}
}

func TestServeLargeMessages(t *testing.T) {
	s := serve(t)
	big := strings.Repeat("0123456789abcdef", 20000) // 320 KB: streamed back through a Writer
	r := runWS(t, big+"\nsmall\n", "dial", s.url)
	if r.code != 0 || r.stdout != big+"\nsmall\n" {
		t.Fatalf("code %d, %d bytes out (want %d); stderr:\n%s", r.code, len(r.stdout), len(big)+7, r.stderr)
	}
}

func TestServeDemoAndStatic(t *testing.T) {
	s := serve(t)
	page := httpGet(t, nil, "http://"+s.addr+"/")
	if !strings.Contains(page, "<title>ws demo</title>") {
		t.Fatalf("demo page: %.200s", page)
	}
	if js := httpGet(t, nil, "http://"+s.addr+"/app.js"); !strings.Contains(js, "new WebSocket") {
		t.Fatalf("app.js: %.200s", js)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("static hello"), 0o644)
	st := serve(t, "--static", dir)
	if !strings.Contains(st.url, "ws://") {
		t.Fatalf("url %q", st.url)
	}
	if got := httpGet(t, nil, "http://"+st.addr+"/hello.txt"); got != "static hello" {
		t.Fatalf("static file: %q", got)
	}
	if r := runWS(t, "still echoes\n", "dial", st.url); r.stdout != "still echoes\n" {
		t.Fatalf("echo with --static: %+v", r)
	}
}

func httpGet(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestBroadcast(t *testing.T) {
	s := serve(t, "--broadcast", "-v")
	var clients []*proc
	for i := range 3 {
		clients = append(clients, start(t, "dial", s.url))
		s.errOut.waitFor(t, `msg="joined the broadcast"`, i+1)
	}
	clients[0].send("from zero")
	for i, c := range clients[1:] {
		if got := c.line(); got != "from zero" {
			t.Fatalf("client %d got %q", i+1, got)
		}
	}
	clients[2].send("from two")
	for _, i := range []int{0, 1} {
		if got := clients[i].line(); got != "from two" {
			t.Fatalf("client %d got %q", i, got)
		}
	}
	for i, c := range clients {
		c.stdin.Close()
		if code := c.wait(); code != 0 {
			t.Fatalf("client %d exited %d; stderr:\n%s", i, code, c.errOut)
		}
		// A sender never gets its own message back.
		if extra, ok := <-c.out; ok {
			t.Fatalf("client %d got an extra %q", i, extra)
		}
	}
}

// TestBroadcastSlowClient: a client that never reads is dropped once its
// queue is over budget, with close 1008 and the reason after what was
// buffered, and the others keep receiving every message.
func TestBroadcastSlowClient(t *testing.T) {
	s := serve(t, "--broadcast", "--queue-bytes", "4194304", "-v")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The slow client's receive buffer is small, so that the server's
	// sends to it stall early.
	slowCfg := &ws.Config{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return serr
		}}
		return d.DialContext(ctx, network, addr)
	}}
	slow, _, err := slowCfg.Dial(ctx, s.url, ws.Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	s.errOut.waitFor(t, `msg="joined the broadcast"`, 1)
	fast := start(t, "dial", s.url)
	s.errOut.waitFor(t, `msg="joined the broadcast"`, 2)
	pub, _, err := ws.Dial(ctx, s.url, ws.Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	s.errOut.waitFor(t, `msg="joined the broadcast"`, 3)

	// Publish in rounds of 50 × 64 KiB (under the byte budget), each read by the fast client
	// before the next, until the server reports the drop (at most 40
	// rounds, 128 MiB).
	msg := make([]byte, 64<<10)
	want := describeBinary(msg)
	sent := 0
	for round := 0; s.errOut.count("dropped a slow client") == 0; round++ {
		if round == 40 {
			t.Fatalf("slow client not dropped after %d messages; server log:\n%s", sent, s.errOut)
		}
		for range 50 {
			if err := pub.Send(ctx, ws.Binary, msg); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for range 50 {
			if got := fast.line(); got != want {
				t.Fatalf("fast client got %q", got)
			}
		}
	}
	// The fast client still gets messages.
	if err := pub.Send(ctx, ws.Text, []byte("after the drop")); err != nil {
		t.Fatal(err)
	}
	if got := fast.line(); got != "after the drop" {
		t.Fatalf("fast client got %q", got)
	}
	// The slow one finds what was buffered, then close 1008 with the
	// reason, or (not having read during the second the server gives the
	// close frame to get in behind a full socket buffer) a cut.
	buf := make([]byte, 64<<10)
	for n := 0; ; n++ {
		if n > sent {
			t.Fatalf("slow client received all %d messages: not dropped", sent)
		}
		if _, _, err := slow.Recv(ctx, buf); err != nil {
			var ce ws.CloseError
			switch {
			case errors.As(err, &ce):
				if ce.Code != ws.StatusPolicyViolation || !strings.Contains(ce.Reason, "slow consumer") {
					t.Fatalf("slow client: close %v %q, want 1008 slow consumer", ce.Code, ce.Reason)
				}
			case errors.Is(err, ws.ErrTimedOut):
				t.Fatalf("slow client: %v", err)
			}
			break
		}
	}
}

// TestBroadcastPipedDial: "seq 1 100 | ws dial URL" sends 100 messages as
// fast as it can; the terminal clients connected to the broadcast receive
// all of them, in order, and are never dropped (a burst is not slowness).
func TestBroadcastPipedDial(t *testing.T) {
	s := serve(t, "--broadcast", "-v")
	var clients []*proc
	for i := range 3 {
		clients = append(clients, start(t, "dial", s.url))
		s.errOut.waitFor(t, `msg="joined the broadcast"`, i+1)
	}
	var seq strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintln(&seq, i)
	}
	for run := 0; run < 3; run++ {
		r := runWS(t, seq.String(), "dial", s.url)
		if r.code != 0 {
			t.Fatalf("piped dial exited %d; stderr:\n%s", r.code, r.stderr)
		}
		for i, c := range clients {
			for want := 1; want <= 100; want++ {
				if got := c.line(); got != strconv.Itoa(want) {
					t.Fatalf("run %d, client %d got %q, want %d", run, i, got, want)
				}
			}
		}
	}
	if n := s.errOut.count("dropped a slow client"); n != 0 {
		t.Fatalf("%d clients dropped; server log:\n%s", n, s.errOut)
	}
	for i, c := range clients {
		c.stdin.Close()
		if code := c.wait(); code != 0 {
			t.Fatalf("client %d exited %d; stderr:\n%s", i, code, c.errOut)
		}
	}
}

func TestExecBridge(t *testing.T) {
	s := serve(t, "--exec", "tr a-z A-Z")
	r := runWS(t, "hello\nworld\n", "dial", s.url)
	if r.code != 0 || r.stdout != "HELLO\nWORLD\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// The process's exit closes the connection; a failure is 1011.
	f := serve(t, "--exec", "echo one; echo two; exit 3")
	p := start(t, "dial", f.url) // stdin stays open: the server closes first
	if a, b := p.line(), p.line(); a != "one" || b != "two" {
		t.Fatalf("got %q %q", a, b)
	}
	if code := p.wait(); code != exitProto {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitProto, p.errOut)
	}
	if !strings.Contains(p.errOut.String(), "closed by the server: 1011 (internal error): exit status 3") {
		t.Fatalf("stderr: %s", p.errOut)
	}

	ok := serve(t, "--exec", "echo done")
	p = start(t, "dial", ok.url)
	if got := p.line(); got != "done" {
		t.Fatalf("got %q", got)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.errOut)
	}
}

func TestServeShutdownGoingAway(t *testing.T) {
	s := serve(t, "-v")
	p := start(t, "dial", s.url)
	p.send("ping")
	if got := p.line(); got != "ping" {
		t.Fatalf("got %q", got)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr:\n%s", code, s.errOut)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("dial exited %d; stderr:\n%s", code, p.errOut)
	}
	if !strings.Contains(p.errOut.String(), "closed by the server: 1001 (going away): server shutting down") {
		t.Fatalf("dial stderr: %s", p.errOut)
	}
}

func TestServeSubprotocolAndOrigin(t *testing.T) {
	s := serve(t, "--subprotocol", "chat.v2", "--subprotocol", "chat.v1", "--origin", "https://allowed.example")
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"allowed origin", []string{"-H", "Origin: https://allowed.example"}, 0, ""},
		{"other origin", []string{"-H", "Origin: https://evil.example"}, exitHandshake, "403 Forbidden"},
		{"subprotocol", []string{"--subprotocol", "chat.v1"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runWS(t, "hi\n", append([]string{"dial", s.url}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.err) {
				t.Fatalf("code %d stderr %q, want %d and %q", r.code, r.stderr, tc.code, tc.err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := (&ws.Config{Subprotocols: []string{"chat.v1", "chat.v2"}}).Dial(ctx, s.url, ws.Text)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Subprotocol(); got != "chat.v2" {
		t.Fatalf("subprotocol %q, want the server's first choice chat.v2", got)
	}
}

func TestNoHTTP(t *testing.T) {
	s := serve(t, "--nohttp")
	if !strings.HasPrefix(s.url, "tcp://") {
		t.Fatalf("url %q", s.url)
	}
	t.Run("ws dial to ws serve", func(t *testing.T) {
		r := runWS(t, "raw\n", "dial", "--nohttp", s.addr)
		if r.code != 0 || r.stdout != "raw\n" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("library client to ws serve", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ws.AttachClient(ctx, u, ws.Text|ws.NoHTTP, "/", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Send(ctx, ws.Text, []byte("attached")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _, err := c.Recv(ctx, buf)
		if err != nil || string(buf[:n]) != "attached" {
			t.Fatalf("%q %v", buf[:n], err)
		}
		if _, err := c.Detach(ctx, ws.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ws dial to library server", func(t *testing.T) {
		addr := rawServer(t, func(ctx context.Context, u net.Conn) {
			c, err := ws.AttachServer(ctx, u, ws.Text|ws.NoHTTP)
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 64)
			n, _, err := c.Recv(ctx, buf)
			if err != nil {
				return
			}
			c.Send(ctx, ws.Text, []byte(strings.ToUpper(string(buf[:n]))))
			c.Detach(ctx, ws.StatusNormalClosure, "")
		})
		r := runWS(t, "shout\n", "dial", "--nohttp", addr)
		if r.code != 0 || r.stdout != "SHOUT\n" {
			t.Fatalf("%+v", r)
		}
	})
}

// rawServer runs handle for each TCP connection accepted on a loopback
// port until the test ends, and returns the address.
func rawServer(t *testing.T, handle func(ctx context.Context, u net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(func() { cancel(); ln.Close() })
	go func() {
		for {
			u, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer u.Close()
				handle(ctx, u)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestServeUsage(t *testing.T) {
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"serve", "--echo", "--broadcast"}, "exclude each other"},
		{[]string{"serve", "--cert", "x.pem"}, "--cert and --key go together"},
		{[]string{"serve", "--static", "/nonexistent-dir"}, "nonexistent-dir"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "-addr", "256.0.0.1:1"}, "ws: serve:"},
		{[]string{"serve", "--nohttp", "--static", "."}, "does not combine"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runWS(t, "", tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.err) || !strings.HasPrefix(r.stderr, "ws: serve: ") {
				t.Fatalf("code %d stderr %q, want 1 and %q", r.code, r.stderr, tc.err)
			}
		})
	}
}

var _ = fmt.Sprint
