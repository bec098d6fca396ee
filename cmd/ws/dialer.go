package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/dillgo/ws"
)

// session is one run of ws dial: its input, output and options, over one
// connection or, with --reconnect, one after another.
type session struct {
	e      *env
	o      *dialOpts
	cfg    *ws.Config
	target string
	out    *printer
	tty    bool // stdin and stdout are terminals: the line editor, commands

	lines       <-chan []byte   // stdin's lines; nil once stdin ended
	pending     [][]byte        // lines read while disconnected
	interrupt   <-chan struct{} // closed on the first SIGINT or SIGTERM
	interrupted bool
	received    int // messages printed, for --count
	restore     func()
}

const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 10 * time.Second
)

func (s *session) run() int {
	lines := make(chan []byte)
	s.restore = func() {}
	if ed := s.startEditor(lines); ed != nil {
		s.restore = ed.stop
		defer ed.stop()
	} else {
		go readLines(s.e, lines)
	}
	s.lines = lines
	interrupt := make(chan struct{})
	s.interrupt = interrupt
	go s.watchSignals(interrupt)

	backoff := reconnectMin
	for {
		c, code := s.connect()
		if c != nil {
			backoff = reconnectMin
			if s.tty {
				fmt.Fprintf(s.e.stderr, "connected to %s%s; Enter sends a line, Ctrl-D closes, /help lists commands\n", escapeLine(s.target), escapeLine(agreed(c)))
			}
			d := &dialer{s: s, c: c}
			var again bool
			if code, again = d.run(); !again {
				return code
			}
		} else if code != exitHandshake || !s.o.reconnect {
			return code
		}
		if !s.pause(backoff) {
			return code
		}
		backoff = min(2*backoff, reconnectMax)
	}
}

// pause waits d before the next connection attempt, keeping the lines
// typed meanwhile. It reports false if ws dial should stop instead:
// interrupted, or stdin ended.
func (s *session) pause(d time.Duration) bool {
	fmt.Fprintf(s.e.stderr, "ws: dial: reconnecting in %v\n", d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-s.interrupt:
			s.interrupted = true
			return false
		case line, ok := <-s.lines:
			if !ok {
				s.lines = nil
				return false
			}
			s.pending = append(s.pending, line)
		}
	}
}

// watchSignals reports the first SIGINT or SIGTERM on interrupt and exits
// on the second.
func (s *session) watchSignals(interrupt chan<- struct{}) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	close(interrupt)
	<-sig
	s.restore()
	fmt.Fprintln(s.e.stderr, "ws: dial: interrupted")
	os.Exit(exitInterrupt)
}

// dialer is one connection of a ws dial session.
type dialer struct {
	s         *session
	c         *ws.Conn
	closing   bool // our close was sent
	closeCode ws.StatusCode
	deadline  <-chan time.Time // --wait for the server's close, once ours was sent
}

type received struct {
	m   message
	at  time.Time
	err error
}

// run serves one connection until it ends and returns the exit code, and
// whether to connect again (--reconnect, and the end was not ours).
func (d *dialer) run() (int, bool) {
	s := d.s
	msgs := make(chan received, 16)
	go func() {
		for {
			m, err := recvMessage(context.Background(), d.c)
			msgs <- received{m, time.Now(), err}
			if err != nil {
				return
			}
		}
	}()
	for _, line := range s.pending {
		d.input(line)
	}
	s.pending = nil
	var linger <-chan time.Time
	if s.lines == nil {
		linger = d.inputEnded()
	}
	var tick <-chan time.Time
	if s.o.pingInterval > 0 {
		t := time.NewTicker(s.o.pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case line, ok := <-s.lines:
			if ok {
				d.input(line)
				continue
			}
			s.lines = nil
			linger = d.inputEnded()
		case <-linger:
			d.close(ws.StatusNormalClosure, "")
		case <-s.interrupt:
			s.interrupt, s.interrupted, s.lines, linger = nil, true, nil, nil
			d.close(ws.StatusNormalClosure, "")
		case <-d.deadline:
			d.c.Close()
			fmt.Fprintf(s.e.stderr, "ws: dial: no close from the server within --wait %v\n", s.o.wait)
			return exitAbnormal, false
		case <-tick:
			d.showRTT()
		case r := <-msgs:
			if r.err != nil {
				code := d.ended(r.err)
				return code, s.o.reconnect && !d.closing && !s.interrupted && s.lines != nil
			}
			d.deliver(r)
		}
	}
}

// inputEnded starts what follows the end of stdin: the close at once,
// or after --linger (the returned timer; nil when negative: never).
func (d *dialer) inputEnded() <-chan time.Time {
	switch o := d.s.o; {
	case o.linger < 0:
		return nil
	case o.linger > 0:
		return time.After(o.linger)
	}
	d.close(ws.StatusNormalClosure, "")
	return nil
}

// deliver prints a received message, closes once --count is reached and
// sends it back with --echo.
func (d *dialer) deliver(r received) {
	s := d.s
	if s.o.count > 0 && s.received >= s.o.count {
		return
	}
	s.out.print(r.m, r.at)
	s.received++
	if s.o.count > 0 && s.received == s.o.count {
		d.close(ws.StatusNormalClosure, "")
	}
	if s.o.echo && !d.closing {
		d.send(r.m.f, r.m.p)
	}
}

// input handles a line of stdin: a command when interactive, else a
// message.
func (d *dialer) input(line []byte) {
	if d.s.tty && len(line) > 0 && line[0] == '/' {
		if len(line) < 2 || line[1] != '/' {
			d.command(string(line))
			return
		}
		line = line[1:]
	}
	d.sendLine(line)
}

func (d *dialer) sendLine(line []byte) {
	if d.closing {
		return
	}
	f := ws.Text
	if d.s.o.binary || !utf8.Valid(line) {
		f = ws.Binary
	}
	d.send(f, line)
}

// send sends a message. A failure is reported by the receive loop, which
// sees the connection end.
func (d *dialer) send(f ws.Flags, p []byte) {
	if err := d.c.Send(context.Background(), f, p); err != nil && !errors.Is(err, ws.ErrPipe) {
		d.c.Close()
	}
}

// close sends our close and arms the --wait deadline for the server's;
// the receive loop sees the server's close.
// It is Done, not Shutdown, on purpose: the receive loop goes on
// printing the messages the server sent before its close, and reports
// that close (Shutdown would discard them).
func (d *dialer) close(code ws.StatusCode, reason string) error {
	if d.closing {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.s.o.wait)
	defer cancel()
	err := d.c.Done(ctx, code, reason)
	if errors.Is(err, ws.ErrInvalid) {
		return err // a code or reason that cannot be sent: still open
	}
	d.closing, d.closeCode = true, code
	if err != nil {
		d.c.Close() // the receive loop reports the failure
	}
	d.deadline = time.After(d.s.o.wait)
	return nil
}

// ended handles the end of the receive loop and returns the exit code.
func (d *dialer) ended(err error) int {
	e := d.s.e
	var ce ws.CloseError
	if errors.As(err, &ce) {
		clean := ce.Code == 0 || ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusGoingAway ||
			d.closing && ce.Code == d.closeCode
		if !d.closing || !clean {
			msg := "closed by the server: " + ce.Code.String()
			if ce.Reason != "" {
				msg += ": " + escapeLine(ce.Reason)
			}
			fmt.Fprintln(e.stderr, msg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), d.s.o.wait)
		defer cancel()
		if u, err := d.c.Detach(ctx, ce.Code, ""); err == nil {
			u.Close()
		} else {
			d.c.Close()
		}
		if clean {
			return exitOK
		}
		return exitProto
	}
	d.c.Close()
	if errors.Is(err, ws.ErrProto) || errors.Is(err, ws.ErrMsgSize) {
		return fail(e, "dial", exitProto, libError(err))
	}
	return fail(e, "dial", exitAbnormal, fmt.Errorf("connection lost: %w", libError(err)))
}
