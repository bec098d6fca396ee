package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/dillgo/ws"
)

// hostile is what a server puts in text it controls: a screen clear, a
// window title (OSC ... BEL), a C1 CSI, and a newline followed by a line
// that looks like ours.
const hostile = "\x1b[2J\x1b]0;pwned\x07\u009b31m\nws: dial: forged"

// escapedHostile is hostile as ws dial must print it within a line.
const escapedHostile = `\x1b[2J\x1b]0;pwned\x07\x9b31m\x0aws: dial: forged`

// noRawControls fails the test if out holds a control character other
// than newline or tab (C0, DEL or C1), or a line that starts with the
// forged text.
func noRawControls(t *testing.T, name, out string) {
	t.Helper()
	for _, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			t.Fatalf("%s holds raw control %U: %q", name, r, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ws: dial: forged") {
			t.Fatalf("%s has a forged line: %q", name, out)
		}
	}
}

// TestDialEscapesPeerText is defect 10: ws dial printed the server's close
// reason and the status line of a refusal raw, so that a server could
// drive the user's terminal (terminal escape injection) or forge lines.
func TestDialEscapesPeerText(t *testing.T) {
	closer := attached(t, func(ctx context.Context, c *ws.Conn) {
		c.Detach(ctx, ws.StatusInternalError, hostile)
	})
	refuser := "ws://" + rawServer(t, func(ctx context.Context, u net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(u)); err != nil {
			return
		}
		io.WriteString(u, "HTTP/1.1 403 Forbidden"+strings.ReplaceAll(hostile, "\n", " ")+"\r\nContent-Length: 0\r\n\r\n")
	}) + "/"

	t.Run("close reason", func(t *testing.T) {
		r := runWS(t, "", "dial", "--linger", "-1s", closer)
		noRawControls(t, "stderr", r.stderr)
		noRawControls(t, "stdout", r.stdout)
		if r.code != exitProto || !strings.Contains(r.stderr, "closed by the server: 1011 (internal error): "+escapedHostile) {
			t.Fatalf("code %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("refusal status line", func(t *testing.T) {
		r := runWS(t, "", "dial", refuser)
		noRawControls(t, "stderr", r.stderr)
		noRawControls(t, "stdout", r.stdout)
		want := `server answered HTTP/1.1 403 Forbidden\x1b[2J\x1b]0;pwned\x07\x9b31m ws: dial: forged`
		if r.code != exitHandshake || !strings.Contains(r.stderr, want) {
			t.Fatalf("code %d, stderr %q; want %q", r.code, r.stderr, want)
		}
	})
}

// TestDialPipeByteExact: when stdout is not a terminal, text messages go
// out exactly as received, control characters included.
func TestDialPipeByteExact(t *testing.T) {
	url := attached(t, func(ctx context.Context, c *ws.Conn) {
		c.Send(ctx, ws.Text, []byte("a\x1b[2Jb\u009bc\rd"))
		c.Detach(ctx, ws.StatusNormalClosure, "")
	})
	r := runWS(t, "", "dial", "--linger", "-1s", url)
	if r.code != exitOK || r.stdout != "a\x1b[2Jb\u009bc\rd\n" {
		t.Fatalf("%+v", r)
	}
}

// TestDialTerminalOutputPipedInput: stdout on a terminal with stdin from
// a pipe ("echo hi | ws dial URL" in a shell) is a terminal too: a text
// message's control characters are shown escaped, not executed. Before,
// only a session with both on a terminal escaped them.
func TestDialTerminalOutputPipedInput(t *testing.T) {
	url := attached(t, func(ctx context.Context, c *ws.Conn) {
		c.Send(ctx, ws.Text, []byte("before\x1b[2J\x1b[31mafter"))
		c.Detach(ctx, ws.StatusNormalClosure, "")
	})
	m := newTmux(t, "echo visible; : | "+wsBin+" dial --linger -1s "+url)
	screen := m.waitScreen(`before\x1b[2J\x1b[31mafter`)
	if !strings.Contains(screen, "visible") {
		t.Fatalf("the screen was cleared:\n%s", screen)
	}
	m.waitScreen("exit status 0")
}

func TestEscapeLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain é ✓", "plain é ✓"},
		{"a\nb\tc\rd", `a\x0ab\x09c\x0dd`},
		{"\x1b[2J\x7f\u0085", `\x1b[2J\x7f\x85`},
		{"bad \xff utf-8", "bad \ufffd utf-8"},
	} {
		if got := escapeLine(tc.in); got != tc.want {
			t.Errorf("escapeLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
