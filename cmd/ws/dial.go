package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dillgo/ws"
)

const dialDoc = `
Usage: ws dial [flags] URL
       ws dial [flags] --nohttp HOST:PORT

Connects to a WebSocket server: a ws:// or wss:// URL, or unix:PATH for a
server on a Unix socket (the handshake asks for / on host localhost).
Each line of stdin is sent as a message (text; lines that are not UTF-8,
or all lines with --binary, as binary). Each message received is printed
on stdout, in the form --output chooses:
  text    text as is, binary as <binary N bytes: 68 65 6c …> (the default)
  raw     the payload bytes exactly, nothing added between messages
  base64  each payload as one line of standard base64
  jsonl   one JSON object per line: {"type":"text","data":"hi"}, binary
          as {"type":"binary","data":BASE64}; with --timestamps a "time"
          field comes first
--timestamps prefixes each message (text, base64) with the time it
arrived (RFC 3339, milliseconds). When stdout is a terminal, the control
characters of text messages (other than newline and tab) are shown
escaped (ESC as \x1b). What the server sends and ws dial prints on stderr
(close reasons, status lines, heads, errors) always has its control
characters escaped. -v prints on stderr the request and response heads
("> " and "< ", a proxy's CONNECT exchange too) and the agreed
subprotocol and extensions.

Interactively (stdin and stdout terminals), lines are typed in a line
editor: Left/Right, Home/End (Ctrl-A/E), Backspace/Delete, Ctrl-U/K/W,
Up/Down (Ctrl-P/N) for the history, Ctrl-V to type a control
character; received messages are printed above
the line being typed, prefixed "< ". Lines starting with "/" are
commands ("//x" sends "/x"):
  /ping                 show the round trip time
  /close [CODE [REASON]] send a close with CODE (1000 by default) and
                        wait (--wait) for the server's
  /binary HEX           send a binary message (hex digits, spaces allowed)
  /help                 list the commands
--ping-interval D sends a WebSocket ping every D (the connection fails
if the server stops answering) and prints the round trip time on stderr.

When stdin ends (or on the first Ctrl-C), ws dial sends its close (1000)
and keeps printing the messages the server still sends until the server's
close arrives: a reply to the last line is not lost, and
"echo hi | ws dial URL" prints "hi" and exits at once on an echo server.
--wait bounds that closing handshake. --linger delays the close instead,
for servers that reply late or push messages (negative: until the server
closes or Ctrl-C). --count N closes after N messages were received. A
close started by the server is printed on stderr with its code and
reason, answered, and ends ws dial; with --reconnect, ws dial connects
again instead (also when the connection is lost or cannot be made),
waiting 100ms, then twice as long each time up to 10s; lines typed
meanwhile are sent once connected. A second Ctrl-C exits at once.

Exit status:
  0    closed cleanly: stdin ended (or --count was reached, or /close
       was answered) and the closing handshake completed, or the server
       closed with 1000 (normal), 1001 (going away) or no code
  1    usage error (bad flag, URL, port or file)
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
  ws dial -v --count 1 --output jsonl ws://127.0.0.1:8080/ <<< hi
  ws dial --cert client.pem --key client.key --proxy http://proxy:3128 wss://example.org/
  ws dial --reconnect --ping-interval 5s unix:/run/app.sock
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
	cert, key    string
	proxy        string
	timeout      time.Duration
	wait         time.Duration
	linger       time.Duration
	verbose      bool
	output       string
	count        int
	timestamps   bool
	pingInterval time.Duration
	reconnect    bool
}

func (o *dialOpts) register(fs *flagSet) {
	fs.StringVar(&o.nohttp, "nohttp", "", "connect over TCP to `HOST:PORT` and skip the HTTP handshake (raw WebSocket, WS_NOHTTP)")
	fs.BoolVar(&o.binary, "binary", false, "send lines as binary messages")
	fs.BoolVar(&o.echo, "echo", false, "send every message received back to the server")
	fs.BoolVar(&o.http2, "http2", false, "open the WebSocket over HTTP/2 (RFC 8441: h2 by ALPN for wss://, prior knowledge for ws://), falling back to HTTP/1.1")
	fs.BoolVar(&o.compress, "compress", false, "offer permessage-deflate (with --nohttp: use it; the server must too)")
	fs.Var(&o.subprotocols, "subprotocol", "offer subprotocol `NAME` (repeatable)")
	fs.Var(&o.header, "H", "add header field 'Name: value' to the handshake (repeatable)")
	o.tls.register(fs.FlagSet)
	fs.StringVar(&o.cert, "cert", "", "wss://: present the client certificate in PEM `FILE` (with --key)")
	fs.StringVar(&o.key, "key", "", "wss://: the client certificate's private key, PEM `FILE`")
	fs.StringVar(&o.proxy, "proxy", "", "connect through the HTTP proxy at `URL` (http:// or https://; default: $HTTPS_PROXY, $HTTP_PROXY)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "limit for connecting and the handshake")
	fs.DurationVar(&o.wait, "wait", 2*time.Second, "after our close, wait this long for the server's (printing its last messages)")
	fs.DurationVar(&o.linger, "linger", 0, "after stdin ends, keep receiving this long before closing (negative, e.g. -1s: until the server closes)")
	fs.BoolVar(&o.verbose, "v", false, "print the handshake's heads and what it agreed on stderr")
	fs.StringVar(&o.output, "output", outText, "print messages as `FORM`: text, raw, base64 or jsonl")
	fs.IntVar(&o.count, "count", 0, "close after `N` messages were received (0: no limit)")
	fs.BoolVar(&o.timestamps, "timestamps", false, "prefix each message with the time it arrived")
	fs.DurationVar(&o.pingInterval, "ping-interval", 0, "send a ping every `D` and print the round trip time on stderr")
	fs.BoolVar(&o.reconnect, "reconnect", false, "connect again (with backoff) when the connection ends or cannot be made")
}

func runDial(e *env, args []string) int {
	var o dialOpts
	fs := newFlags(e, "dial", dialDoc)
	o.register(fs)
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
	target := o.nohttp
	if target == "" {
		target = pos[0]
	}
	cfg, err := o.config(target)
	if err != nil {
		return fs.usageError(e, err)
	}
	out := isTerminal(os.Stdout)
	s := &session{e: e, o: &o, cfg: cfg, target: target, tty: out && isTerminal(os.Stdin)}
	s.out = &printer{w: e.stdout, mode: o.output, timestamps: o.timestamps, escape: out, tty: s.tty}
	return s.run()
}

// config checks the options and the target and returns the dial
// configuration; its errors are usage errors.
func (o *dialOpts) config(target string) (*ws.Config, error) {
	if err := checkOutput(o.output, o.timestamps); err != nil {
		return nil, err
	}
	switch {
	case o.count < 0:
		return nil, errors.New("--count must not be negative")
	case o.pingInterval < 0:
		return nil, errors.New("--ping-interval must not be negative")
	case (o.cert == "") != (o.key == ""):
		return nil, errors.New("--cert and --key go together")
	}
	if err := checkTarget(o, target); err != nil {
		return nil, err
	}
	cfg := &ws.Config{Subprotocols: o.subprotocols, Header: o.header.h, PingInterval: o.pingInterval, HTTP2: o.http2}
	var err error
	if cfg.TLSConfig, err = o.tls.config(); err != nil {
		return nil, err
	}
	if o.cert != "" {
		if cfg.TLSConfig, err = withClientCert(cfg.TLSConfig, o.cert, o.key); err != nil {
			return nil, err
		}
	}
	if cfg.Proxy, err = proxyFunc(o.proxy); err != nil {
		return nil, fmt.Errorf("--proxy %w", err)
	}
	if o.compress {
		if err := setCompression(cfg); err != nil {
			return nil, fmt.Errorf("--compress: %w", err)
		}
	}
	return cfg, nil
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
