package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tmux drives ws dial in a real terminal: a private tmux server (-L) with
// one detached session.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, command string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required for the terminal tests: ", err)
	}
	m := &tmux{t: t, socket: fmt.Sprintf("ws-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	// The shell prints the exit status and stays, so that it can be read;
	// its trap keeps it alive through Ctrl-C (the child gets SIGINT with
	// the default disposition).
	m.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "main",
		"sh", "-c", "trap : INT; "+command+`; echo "exit status $?"; sleep 60`)
	t.Cleanup(func() { exec.Command("tmux", "-L", m.socket, "kill-server").Run() })
	return m
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-L", m.socket}, args...)...)
	cmd.Env = append(wsEnv(), "TERM=xterm-256color")
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (m *tmux) keys(keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

// waitScreen polls the pane (bounded) until it contains want.
func (m *tmux) waitScreen(want string) string {
	m.t.Helper()
	var screen string
	for range 400 {
		screen = m.run("capture-pane", "-p", "-t", "main")
		if strings.Contains(screen, want) {
			return screen
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("screen never showed %q:\n%s", want, screen)
	return ""
}

func TestDialInteractive(t *testing.T) {
	s := serve(t)
	m := newTmux(t, wsBin+" dial "+s.url)
	m.waitScreen("connected to " + s.url + "; Enter sends a line, Ctrl-D closes")
	m.keys("hello terminal", "Enter")
	m.waitScreen("< hello terminal")
	// Control characters a message carries are escaped, not executed
	// (typed with Ctrl-V, shown as their pictures while typed).
	m.keys("-l", "bell")
	m.keys("C-v", "C-g")
	m.keys("-l", " esc")
	m.keys("C-v", "Escape")
	m.keys("-l", "[2J")
	m.waitScreen("> bell␇ esc␛[2J")
	m.keys("Enter")
	screen := m.waitScreen(`< bell\x07 esc\x1b[2J`)
	if !strings.Contains(screen, "< hello terminal") {
		t.Fatalf("earlier output was cleared:\n%s", screen)
	}
	m.keys("C-d")
	m.waitScreen("exit status 0")
}

func TestDialInteractiveInterrupt(t *testing.T) {
	s := serve(t)
	m := newTmux(t, wsBin+" dial "+s.url)
	m.waitScreen("Ctrl-D closes")
	m.keys("before ctrl-c", "Enter")
	m.waitScreen("< before ctrl-c")
	m.keys("C-c") // a graceful close, as at the end of stdin
	m.waitScreen("exit status 0")
}
