package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// scripted is an in-process server for the terminal tests: it reports
// every message and the client's close, and sends what the test asks.
type scripted struct {
	url   string
	got   chan string // "text:…" or "binary:HEX", then "close:CODE:REASON"
	push  chan string // messages to send
	ready chan struct{}
}

func newScripted(t *testing.T) *scripted {
	s := &scripted{got: make(chan string, 64), push: make(chan string), ready: make(chan struct{}, 1)}
	s.url = attached(t, func(ctx context.Context, c *ws.Conn) {
		s.ready <- struct{}{}
		go func() {
			for {
				select {
				case m := <-s.push:
					c.Send(ctx, ws.Text, []byte(m))
				case <-ctx.Done():
					return
				}
			}
		}()
		buf := make([]byte, 1<<10)
		for {
			n, f, err := c.Recv(ctx, buf)
			var ce ws.CloseError
			if errors.As(err, &ce) {
				s.got <- fmt.Sprintf("close:%d:%s", ce.Code, ce.Reason)
				c.Detach(ctx, ce.Code, "")
				return
			}
			if err != nil {
				return
			}
			if f == ws.Binary {
				s.got <- fmt.Sprintf("binary:%x", buf[:n])
			} else {
				s.got <- "text:" + string(buf[:n])
			}
		}
	})
	return s
}

// next returns what the server saw next (bounded wait).
func (s *scripted) next(t *testing.T) string {
	t.Helper()
	select {
	case g := <-s.got:
		return g
	case <-time.After(20 * time.Second):
		t.Fatal("the server saw nothing in time")
	}
	return ""
}

// lastLine returns the last non-empty line of a screen.
func lastLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// TestDialLineEditor: editing keys, history, and a typed line that stays
// intact while messages are printed above it.
func TestDialLineEditor(t *testing.T) {
	srv := newScripted(t)
	m := newTmux(t, wsBin+" dial "+srv.url)
	m.waitScreen("/help lists commands")
	m.keys("-l", "helo")
	m.keys("Left", "Left")
	m.keys("-l", "l")
	m.keys("Home")
	m.keys("-l", "[")
	m.keys("End")
	m.keys("-l", "]")
	m.keys("Enter")
	if got := srv.next(t); got != "text:[hello]" {
		t.Fatalf("edited line: %q", got)
	}
	m.keys("-l", "scratch")
	m.keys("C-u")
	m.keys("-l", "second")
	m.keys("BSpace")
	m.keys("D", "Enter")
	if got := srv.next(t); got != "text:seconD" {
		t.Fatalf("after Ctrl-U and Backspace: %q", got)
	}
	// Up twice recalls the first line; Down returns to the draft.
	m.keys("-l", "draft")
	m.keys("Up", "Up")
	m.waitScreen("> [hello]")
	m.keys("Down", "Down")
	m.waitScreen("> draft")
	m.keys("C-u", "Up", "Up", "Enter")
	if got := srv.next(t); got != "text:[hello]" {
		t.Fatalf("from the history: %q", got)
	}

	// Messages arriving while a line is typed print above it.
	m.keys("-l", "half typed")
	m.waitScreen("> half typed")
	for i := 1; i <= 3; i++ {
		srv.push <- fmt.Sprintf("tick %d", i)
	}
	screen := m.waitScreen("< tick 3")
	if last := lastLine(screen); last != "> half typed" {
		t.Fatalf("the typed line was not kept at the bottom (last line %q):\n%s", last, screen)
	}
	if i1, i3 := strings.Index(screen, "< tick 1"), strings.Index(screen, "< tick 3"); i1 < 0 || i1 > i3 || strings.Contains(screen, "half typed< tick") {
		t.Fatalf("ticks garbled:\n%s", screen)
	}
	m.keys("-l", " done")
	m.keys("Enter")
	if got := srv.next(t); got != "text:half typed done" {
		t.Fatalf("the kept line: %q", got)
	}
	m.keys("C-d")
	m.waitScreen("exit status 0")
}

// TestDialCommands: /binary, //, /ping, a bad /close, and /close 4001 bye
// as the server sees it.
func TestDialCommands(t *testing.T) {
	srv := newScripted(t)
	m := newTmux(t, wsBin+" dial "+srv.url)
	m.waitScreen("/help lists commands")
	m.keys("-l", "/binary 00ff 10")
	m.keys("Enter")
	if got := srv.next(t); got != "binary:00ff10" {
		t.Fatalf("/binary: %q", got)
	}
	m.keys("-l", "//slash")
	m.keys("Enter")
	if got := srv.next(t); got != "text:/slash" {
		t.Fatalf("//: %q", got)
	}
	m.keys("-l", "/ping")
	m.keys("Enter")
	m.waitScreen("rtt ")
	m.keys("-l", "/frob")
	m.keys("Enter")
	m.waitScreen(`ws: unknown command "/frob"`)
	m.keys("-l", "/close 1005")
	m.keys("Enter") // not sendable: the connection stays
	m.waitScreen("ws: /close:")
	m.keys("-l", "/close 4001 bye")
	m.keys("Enter")
	if got := srv.next(t); got != "close:4001:bye" {
		t.Fatalf("/close: %q", got)
	}
	m.waitScreen("exit status 0")
}
