package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecAnswersAtOnce: a filter that buffers through C stdio ("tr")
// answers each line while the client is still connected (stdbuf -oL
// when ws serve's stdin is not a terminal).
func TestExecAnswersAtOnce(t *testing.T) {
	if stdbufPath() == "" {
		t.Fatal("stdbuf (coreutils) is required")
	}
	s := serve(t, "-v", "--exec", "tr a-z A-Z")
	p := start(t, "dial", s.url)
	p.send("hello")
	if got := p.line(); got != "HELLO" {
		t.Fatalf("got %q", got)
	}
	s.errOut.waitFor(t, "stdbuf -oL", 1)
	p.stdin.Close()
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.errOut)
	}
}

// TestExecPty: when ws serve runs at a terminal the command's stdout is
// a pty, so any program line-buffers.
func TestExecPty(t *testing.T) {
	m := newTmux(t, wsBin+" serve -v -addr 127.0.0.1:0 --exec 'test -t 1 && echo tty; test -t 0 || echo stdin-pipe; tr a-z A-Z'")
	screen := m.waitScreen("listening on ws://")
	i := strings.Index(screen, "ws://")
	url := strings.Fields(screen[i:])[0]
	p := start(t, "dial", url)
	if a, b := p.line(), p.line(); a != "tty" || b != "stdin-pipe" {
		t.Fatalf("got %q %q", a, b)
	}
	p.send("pty test")
	if got := p.line(); got != "PTY TEST" {
		t.Fatalf("got %q", got)
	}
	p.stdin.Close()
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.errOut)
	}
}

// TestExecEnvironment: the CGI-like variables that ws help serve lists.
func TestExecEnvironment(t *testing.T) {
	s := serve(t, "--subprotocol", "chat", "--exec", `echo "$GATEWAY_INTERFACE|$REMOTE_ADDR|$REQUEST_URI|$QUERY_STRING|$HTTP_HOST|$WS_SUBPROTOCOL"`)
	r := runWS(t, "", "dial", "--subprotocol", "chat", "--linger", "-1s", s.url+"path?a=1")
	want := "websocket|127.0.0.1|/path?a=1|a=1|" + s.addr + "|chat\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("stdout %q, want %q; %+v", r.stdout, want, r)
	}
}

// running lists the processes other than ws whose command line contains
// every word: the shell of the bridge and its sleep.
func running(words ...string) []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		if argv[0] == wsBin {
			continue
		}
		cmdline := strings.Join(argv, " ")
		all := true
		for _, w := range words {
			all = all && strings.Contains(cmdline, w)
		}
		if all {
			found = append(found, d+": "+cmdline)
		}
	}
	return found
}

// waitGone waits (bounded) until no process has words in its command
// line.
func waitGone(t *testing.T, words ...string) {
	t.Helper()
	for range 200 {
		if len(running(words...)) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("still running: %v", running(words...))
}

// TestExecKilledOnDisconnect: the command's whole process group (here a
// shell and its sleep) is killed when the client goes, abruptly or by a
// clean close; nothing is left in the process table.
func TestExecKilledOnDisconnect(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Fatal("needs /proc")
	}
	for _, how := range []string{"killed", "closed"} {
		t.Run(how, func(t *testing.T) {
			secs := fmt.Sprint(4000 + time.Now().UnixNano()%1000)
			s := serve(t, "-v", "--exec", "sleep "+secs+"; echo never")
			p := start(t, "dial", s.url)
			s.errOut.waitFor(t, "started", 1)
			for range 200 {
				if len(running("sleep", secs)) > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if len(running("sleep", secs)) == 0 {
				t.Fatal("the command never ran")
			}
			if how == "killed" {
				p.cmd.Process.Signal(syscall.SIGKILL)
			} else {
				p.stdin.Close()
			}
			p.wait()
			waitGone(t, "sleep", secs)
		})
	}
}
