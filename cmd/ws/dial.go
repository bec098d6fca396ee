package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/dillgo/ws"
)

const dialDoc = `
Usage: ws dial [flags] URL
       ws dial [flags] --nohttp HOST:PORT

Connects to a WebSocket server. Each line of stdin is sent as a message
(text; lines that are not UTF-8, or all lines with --binary, as binary).
Each message received is printed on stdout: text as is, binary as
<binary N bytes: 68 65 6c …>. When stdout is a terminal, the control
characters of text messages (other than newline and tab) are shown
escaped (ESC as \x1b); interactively (stdin a terminal too), messages are
prefixed with "< ". What the server sends and ws dial prints on stderr
(close reasons, status lines, errors) always has its control characters
escaped.

When stdin ends (or on the first Ctrl-C), ws dial sends its close (1000)
and keeps printing the messages the server still sends until the server's
close arrives: a reply to the last line is not lost, and
"echo hi | ws dial URL" prints "hi" and exits at once on an echo server.
--wait bounds that closing handshake. --linger delays the close instead,
for servers that reply late or push messages (negative: until the server
closes or Ctrl-C). A close started by the server is printed on stderr with its
code and reason, answered, and ends ws dial. A second Ctrl-C exits at once.

Exit status:
  0    closed cleanly: stdin ended and the closing handshake completed, or
       the server closed with 1000 (normal), 1001 (going away) or no code
  1    usage error (bad flag, URL or file)
  2    handshake failure: could not connect, or the server refused the
       upgrade (its status line is printed)
  3    protocol error: the server broke the protocol, or closed with an
       error code (1002 and up, other than 1001)
  4    abnormal closure: the connection ended without a closing handshake
       (reset, EOF, or no close from the server within --wait)
  130  interrupted twice

Examples:
  ws dial ws://127.0.0.1:8080/
  echo hello | ws dial wss://example.org/chat -H 'Authorization: Bearer t'
  ws dial --nohttp 127.0.0.1:9000
`

type dialOpts struct {
	nohttp       string
	binary       bool
	echo         bool
	compress     bool
	http2        bool
	subprotocols listFlag
	header       headerFlag
	tls          tlsFlags
	timeout      time.Duration
	wait         time.Duration
	linger       time.Duration
}

func runDial(e *env, args []string) int {
	var o dialOpts
	fs := newFlags(e, "dial", dialDoc)
	fs.StringVar(&o.nohttp, "nohttp", "", "connect over TCP to `HOST:PORT` and skip the HTTP handshake (raw WebSocket, WS_NOHTTP)")
	fs.BoolVar(&o.binary, "binary", false, "send lines as binary messages")
	fs.BoolVar(&o.echo, "echo", false, "send every message received back to the server")
	fs.BoolVar(&o.http2, "http2", false, "open the WebSocket over HTTP/2 (RFC 8441: h2 by ALPN for wss://, prior knowledge for ws://), falling back to HTTP/1.1")
	fs.BoolVar(&o.compress, "compress", false, "offer permessage-deflate (with --nohttp: use it; the server must too)")
	fs.Var(&o.subprotocols, "subprotocol", "offer subprotocol `NAME` (repeatable)")
	fs.Var(&o.header, "H", "add header field 'Name: value' to the handshake (repeatable)")
	o.tls.register(fs.FlagSet)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "limit for connecting and the handshake")
	fs.DurationVar(&o.wait, "wait", 2*time.Second, "after our close, wait this long for the server's (printing its last messages)")
	fs.DurationVar(&o.linger, "linger", 0, "after stdin ends, keep receiving this long before closing (negative, e.g. -1s: until the server closes)")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return parseExit(err)
	}
	switch {
	case o.nohttp == "" && len(pos) != 1:
		return fs.usageError(e, errors.New("want one URL, or --nohttp HOST:PORT"))
	case o.nohttp != "" && len(pos) != 0:
		return fs.usageError(e, errors.New("--nohttp takes the address; no URL"))
	}
	cfg := &ws.Config{Subprotocols: o.subprotocols, Header: o.header.h, HTTP2: o.http2}
	if cfg.TLSConfig, err = o.tls.config(); err != nil {
		return fail(e, "dial", exitUsage, err)
	}
	if o.compress {
		if err := setCompression(cfg); err != nil {
			return fail(e, "dial", exitUsage, fmt.Errorf("--compress: %w", err))
		}
	}
	target := o.nohttp
	if target == "" {
		target = pos[0]
	}
	c, code := connect(e, cfg, &o, target)
	if c == nil {
		return code
	}
	out := isTerminal(os.Stdout)
	d := &dialer{e: e, c: c, o: &o, escape: out, tty: out && isTerminal(os.Stdin)}
	if d.tty {
		fmt.Fprintf(e.stderr, "connected to %s%s; Enter sends a line, Ctrl-D closes\n", escapeLine(target), escapeLine(agreed(c)))
	}
	return d.run()
}

// connect dials target (a URL, or an address with --nohttp) and returns
// the connection, or nil and the exit code after printing why.
func connect(e *env, cfg *ws.Config, o *dialOpts, target string) (*ws.Conn, int) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if o.nohttp != "" {
		var nd net.Dialer
		u, err := nd.DialContext(ctx, "tcp", target)
		if err != nil {
			return nil, fail(e, "dial", exitHandshake, errors.New(escapeLine(err.Error())))
		}
		c, err := cfg.AttachClient(ctx, u, ws.Text|ws.NoHTTP, "/", target)
		if err != nil {
			return nil, fail(e, "dial", exitHandshake, libError(err))
		}
		return c, exitOK
	}
	c, resp, err := cfg.Dial(ctx, target, ws.Text)
	if err != nil {
		if errors.Is(err, ws.ErrInvalid) {
			return nil, fail(e, "dial", exitUsage, libError(err))
		}
		code := fail(e, "dial", exitHandshake, libError(err))
		if resp != nil {
			fmt.Fprintf(e.stderr, "ws: dial: server answered %s %s\n", escapeLine(resp.Proto), escapeLine(resp.Status))
		}
		return nil, code
	}
	return c, exitOK
}

// agreed describes the subprotocol and extensions of c, "" if none.
func agreed(c *ws.Conn) string {
	var parts []string
	if p := c.Subprotocol(); p != "" {
		parts = append(parts, "subprotocol "+p)
	}
	if x := c.Extensions(); x != "" {
		parts = append(parts, x)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// libError drops the "ws: op: " prefix the library's errors carry, so
// that ours read "ws: dial: detail" once, and escapes the control
// characters of the rest: it may quote the peer (a status line, a name in
// its certificate).
func libError(err error) error {
	s := strings.TrimPrefix(err.Error(), "ws: ")
	if op, rest, ok := strings.Cut(s, ": "); ok && op != "" && strings.Trim(op, "abcdefghijklmnopqrstuvwxyz") == "" {
		s = rest
	}
	return errors.New(escapeLine(s))
}

// dialer is one ws dial session.
type dialer struct {
	e       *env
	c       *ws.Conn
	o       *dialOpts
	escape  bool // stdout is a terminal: text messages are shown escaped
	tty     bool // stdin too: interactive, messages are prefixed
	closing bool // our close was sent
}

type received struct {
	m   message
	err error
}

func (d *dialer) run() int {
	msgs := make(chan received, 16)
	go func() {
		for {
			m, err := recvMessage(context.Background(), d.c)
			msgs <- received{m, err}
			if err != nil {
				return
			}
		}
	}()
	lines := make(chan []byte)
	go readLines(d.e, lines)
	interrupt := make(chan struct{})
	go d.watchSignals(interrupt)

	var linger, deadline <-chan time.Time
	for {
		select {
		case line, ok := <-lines:
			if ok {
				d.sendLine(line)
				continue
			}
			lines = nil
			switch {
			case d.o.linger < 0:
			case d.o.linger > 0:
				linger = time.After(d.o.linger)
			default:
				deadline = d.close()
			}
		case <-linger:
			deadline = d.close()
		case <-interrupt:
			interrupt, lines, linger = nil, nil, nil
			deadline = d.close()
		case <-deadline:
			d.c.Close()
			fmt.Fprintf(d.e.stderr, "ws: dial: no close from the server within --wait %v\n", d.o.wait)
			return exitAbnormal
		case r := <-msgs:
			if r.err != nil {
				return d.ended(r.err)
			}
			d.print(r.m)
			if d.o.echo && !d.closing {
				d.send(r.m.f, r.m.p)
			}
		}
	}
}

// watchSignals reports the first SIGINT or SIGTERM on interrupt and exits
// on the second.
func (d *dialer) watchSignals(interrupt chan<- struct{}) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	close(interrupt)
	<-sig
	fmt.Fprintln(d.e.stderr, "ws: dial: interrupted")
	os.Exit(exitInterrupt)
}

func (d *dialer) sendLine(line []byte) {
	if d.closing {
		return
	}
	f := ws.Text
	if d.o.binary || !utf8.Valid(line) {
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

// close sends our close (1000) and returns the --wait deadline for the
// server's.
func (d *dialer) close() <-chan time.Time {
	if d.closing {
		return nil
	}
	d.closing = true
	ctx, cancel := context.WithTimeout(context.Background(), d.o.wait)
	defer cancel()
	if err := d.c.Done(ctx, ws.StatusNormalClosure, ""); err != nil {
		d.c.Close() // the receive loop reports the failure
	}
	return time.After(d.o.wait)
}

// ended handles the end of the receive loop and returns the exit code.
func (d *dialer) ended(err error) int {
	var ce ws.CloseError
	if errors.As(err, &ce) {
		clean := ce.Code == 0 || ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusGoingAway
		if !d.closing || !clean {
			msg := "closed by the server: " + ce.Code.String()
			if ce.Reason != "" {
				msg += ": " + escapeLine(ce.Reason)
			}
			fmt.Fprintln(d.e.stderr, msg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), d.o.wait)
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
		return fail(d.e, "dial", exitProto, libError(err))
	}
	return fail(d.e, "dial", exitAbnormal, fmt.Errorf("connection lost: %w", libError(err)))
}

// print writes a received message to stdout.
func (d *dialer) print(m message) {
	var b strings.Builder
	if d.tty {
		b.WriteString("< ")
	}
	switch {
	case m.f == ws.Binary:
		b.WriteString(describeBinary(m.p))
	case d.escape:
		b.WriteString(escapeControls(string(m.p)))
	default:
		b.Write(m.p)
	}
	b.WriteByte('\n')
	fmt.Fprint(d.e.stdout, b.String())
}

// describeBinary shows a binary payload safely: its length and its first
// 32 bytes in hex.
func describeBinary(p []byte) string {
	const show = 32
	var b strings.Builder
	fmt.Fprintf(&b, "<binary %d bytes", len(p))
	if len(p) > 0 {
		b.WriteString(":")
		for i, x := range p {
			if i == show {
				b.WriteString(" …")
				break
			}
			fmt.Fprintf(&b, " %02x", x)
		}
	}
	b.WriteString(">")
	return b.String()
}

// escapeControls escapes the control characters of s except newline and
// tab, so that a message cannot drive the terminal.
func escapeControls(s string) string { return escape(s, true) }

// escapeLine escapes all the control characters of s, newline and tab
// too: for text from the peer printed within a line of ours, which must
// neither drive the terminal nor forge lines.
func escapeLine(s string) string { return escape(s, false) }

// escape shows the control characters of s (C0, DEL, C1) as \xNN, except
// newline and tab if keepLines is set. Invalid UTF-8 is shown as U+FFFD.
func escape(s string, keepLines bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
