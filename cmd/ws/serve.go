package main

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dillgo/ws"
)

const serveDoc = `
Usage: ws serve [flags]

Runs a WebSocket server on -addr and prints the URL it listens on. Every
path accepts WebSocket upgrades; other HTTP requests get the demo page
(connect, send, see the echo and its round-trip time) or, with --static,
the files of a directory.

Modes (one of):
  --echo        send every message back to its sender (the default); idle
                connections wait in a ws.Poller, with no goroutine each
                (--poller=false: a goroutine per connection)
  --broadcast   send every message to every other client; each client has
                a bounded send queue; one that falls behind (over
                --queue-bytes queued, or a message waiting over --max-lag)
                gets close 1008 with the reason; with --nats URL, several
                ws serve processes (on any ports and machines) share one
                broadcast through a NATS server, on --subject
                (ws.broadcast by default)
  --exec CMD    bridge each connection to a new "sh -c CMD": every message
                is a line on its stdin, every line of its stdout a message

--exec runs each connection's command in a process group of its own,
with its stdin a pipe (closed by the client's close) and its stdout
line-buffered, so that filters such as "tr a-z A-Z" answer every line at
once: when ws serve's stdin is a terminal (Linux), the command's stdout
is a pty; otherwise it runs under "stdbuf -oL" (coreutils, effective for
programs using C stdio) when stdbuf is installed. Without either, -v
warns: make the program flush each line (sed -u, python3 -u, grep
--line-buffered). The process's exit sends our close: 1000, or 1011 with
its exit status. When the client goes, the process group is killed: at
once if the connection was lost, 1.5s after the client's close
otherwise (within ws dial's default --wait of 2s). The command's
environment is the server's plus, as in CGI:
  GATEWAY_INTERFACE  websocket
  SERVER_SOFTWARE    ws
  REMOTE_ADDR        the client's IP address
  REMOTE_PORT        the client's port
  REQUEST_URI        the path and query asked for (/chat?room=1)
  QUERY_STRING       the query, without "?" (room=1)
  HTTP_HOST          the Host the client asked for
  WS_SUBPROTOCOL     the agreed subprotocol, empty if none
  WS_EXTENSIONS      the agreed extensions, empty if none

permessage-deflate is accepted when a client offers it (--compress=false
turns it off).
--nohttp serves the raw protocol on TCP with no HTTP handshake (WS_NOHTTP;
connect with "ws dial --nohttp ADDR"); nothing is negotiated there, so
compression is off unless --compress is given, and then the client must
use --compress too. Connection logs go to stderr with -v.
On SIGINT or SIGTERM, clients get close 1001 (going away).

With --nats, each node sends its clients' messages to its own clients
at once and to the subject (headers Ws-Node and Ws-Type, as the Go
bridge github.com/dillgo/ws/nats, so Go programs using it join the same
broadcast); it drops its own messages coming back, so no client gets one
twice. Each publisher's messages arrive in order. The first connection
to NATS must succeed; after that, a lost connection is retried with
backoff (50 ms doubling to 2 s) for ever, across the servers of a
comma-separated URL list. NATS core is at-most-once: what a node's
clients send while it is disconnected reaches only that node's clients,
and what the other nodes send meanwhile never reaches it; nothing is
replayed. TLS to NATS is not supported.

Examples:
  ws serve -addr 127.0.0.1:8080
  ws serve --broadcast -v
  ws serve --broadcast --nats nats://127.0.0.1:4222 -addr :8081
  ws serve --exec 'tr a-z A-Z'
  ws serve --static ./public --cert cert.pem --key key.pem
`

type serveOpts struct {
	addr         string
	echo         bool
	broadcast    bool
	exec         string
	static       string
	cert, key    string
	nohttp       bool
	subprotocols listFlag
	origins      listFlag
	hosts        listFlag
	verbose      bool
	compress     bool
	queueBytes   int
	maxLag       time.Duration
	poller       bool
	nats         string
	subject      string
	h2c          bool // HTTP/2 without TLS, prior knowledge (serve_h2.go)
}

func runServe(e *env, args []string) int {
	var o serveOpts
	fs := newFlags(e, "serve", serveDoc)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `host:port` (port 0 picks a free one)")
	fs.BoolVar(&o.echo, "echo", false, "echo mode (the default)")
	fs.BoolVar(&o.broadcast, "broadcast", false, "broadcast mode: every message to every other client")
	fs.StringVar(&o.exec, "exec", "", "exec mode: bridge each connection to `CMD`'s stdin and stdout, line by line")
	fs.IntVar(&o.queueBytes, "queue-bytes", 1<<20, "broadcast: bytes queued for a client before it counts as slow")
	fs.DurationVar(&o.maxLag, "max-lag", 5*time.Second, "broadcast: how long a message may wait for a client before it counts as slow")
	fs.StringVar(&o.nats, "nats", "", "broadcast: share the broadcast with other nodes through the NATS server at `URL` (nats://host:port)")
	fs.StringVar(&o.subject, "subject", "ws.broadcast", "broadcast: the NATS `subject` the nodes share (with --nats)")
	fs.StringVar(&o.static, "static", "", "serve the files of `DIR` at / instead of the demo page")
	fs.StringVar(&o.cert, "cert", "", "TLS certificate `FILE` (PEM); with --key, serve wss:// and https://")
	fs.StringVar(&o.key, "key", "", "TLS private key `FILE` (PEM)")
	fs.BoolVar(&o.nohttp, "nohttp", false, "raw WebSocket on TCP without the HTTP handshake")
	fs.Var(&o.subprotocols, "subprotocol", "accept subprotocol `NAME` (repeatable, by preference)")
	fs.Var(&o.origins, "origin", "also accept browser requests from `ORIGIN` (repeatable; scheme://host[:port] or *.domain)")
	fs.Var(&o.hosts, "host", "answer only requests for Host `NAME` (repeatable, port ignored); default: any on a non-loopback address, and on loopback only localhost, 127.x and [::1] (DNS rebinding)")
	fs.BoolVar(&o.compress, "compress", true, "accept permessage-deflate when a client offers it (with --nohttp only when given: both sides must use it)")
	fs.BoolVar(&o.verbose, "v", false, "log connections to stderr")
	fs.BoolVar(&o.poller, "poller", true, "echo: park idle connections in a ws.Poller (false: a goroutine per connection)")
	fs.BoolVar(&o.h2c, "h2c", false, "also serve HTTP/2 without TLS (prior knowledge); WebSockets over HTTP/2 need GODEBUG=http2xconnect=1")
	pos, err := parseArgs(e, fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(pos) > 0 {
		return fs.usageError(e, fmt.Errorf("unexpected argument %q", pos[0]))
	}
	if o.nohttp && !fs.given("compress") {
		o.compress = false // nothing is negotiated without HTTP
	}
	srv, err := newServer(e, &o)
	if err != nil {
		return fail(e, "serve", exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.run(ctx, e); err != nil {
		return fail(e, "serve", exitUsage, err)
	}
	return exitOK
}

// server holds what every connection of ws serve shares.
type server struct {
	o      *serveOpts
	cfg    *ws.Config
	tls    *tls.Config
	log    *slog.Logger
	handle handler
	// shutdown, if set, ends the mode before the connections are
	// canceled (the broadcast sends 1001 after what is queued).
	shutdown func(context.Context) error
	files    http.Handler
	wg       sync.WaitGroup
	poll     *pollEcho // echo mode with the poller (made by run), else nil
	usePoll  bool
}

// handler runs one connection until it ends and closes it. When ctx ends
// (shutdown) it closes with 1001.
type handler func(ctx context.Context, c *ws.Conn, log *slog.Logger) error

func newServer(e *env, o *serveOpts) (*server, error) {
	s := &server{o: o, cfg: &ws.Config{Subprotocols: o.subprotocols}}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	s.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	s.cfg.Hosts = o.hosts
	if len(o.origins) > 0 {
		s.cfg.CheckOrigin = ws.AllowOrigins(o.origins...)
	}
	if o.compress {
		if err := setCompression(s.cfg); err != nil {
			return nil, fmt.Errorf("--compress: %w", err)
		}
	}
	modes := 0
	for _, on := range []bool{o.echo, o.broadcast, o.exec != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return nil, errors.New("--echo, --broadcast and --exec exclude each other")
	case (o.nats != "" || o.subject != "ws.broadcast") && !o.broadcast:
		return nil, errors.New("--nats and --subject go with --broadcast")
	case o.broadcast:
		if o.queueBytes < 1 || o.maxLag <= 0 {
			return nil, errors.New("--queue-bytes and --max-lag must be positive")
		}
		b, err := newHub(o.queueBytes, o.maxLag, s.log)
		if err != nil {
			return nil, err
		}
		s.handle, s.shutdown = b.handle, b.shutdown
		if o.nats != "" {
			if s.shutdown, err = b.joinNATS(o.nats, o.subject, s.log); err != nil {
				return nil, err
			}
		}
	case o.exec != "":
		s.handle = execBridge(o.exec, s.log)
	default:
		s.handle = echo
		s.usePoll = o.poller
	}
	if (o.cert == "") != (o.key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if o.cert != "" {
		if o.nohttp {
			return nil, errors.New("--nohttp serves plain TCP; it does not combine with --cert")
		}
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, err
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2", "http/1.1"}}
	}
	if o.nohttp && o.static != "" {
		return nil, errors.New("--nohttp serves no HTTP; it does not combine with --static")
	}
	s.files = http.FileServerFS(demoFiles())
	if o.static != "" {
		if fi, err := os.Stat(o.static); err != nil {
			return nil, err
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("--static %s: not a directory", o.static)
		}
		s.files = http.FileServer(http.Dir(o.static))
	}
	return s, nil
}

//go:embed demo
var demoFS embed.FS

func demoFiles() fs.FS {
	sub, err := fs.Sub(demoFS, "demo")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// run listens, prints the URL and serves until ctx ends, then closes
// every connection with 1001 and waits for them (bounded).
func (s *server) run(ctx context.Context, e *env) error {
	ln, err := net.Listen("tcp", s.o.addr)
	if err != nil {
		return err
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	if s.usePoll {
		if s.poll, err = newPollEcho(); err != nil {
			ln.Close()
			return err
		}
		defer s.poll.close()
	}
	fmt.Fprintln(e.stdout, s.banner(ln.Addr().String()))
	if note := s.h2Note(); note != "" {
		fmt.Fprintln(e.stdout, note)
	}
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var serveErr error
	done := make(chan struct{})
	var hs *http.Server
	go func() {
		defer close(done)
		if s.o.nohttp {
			serveErr = s.serveRaw(connCtx, ln)
			return
		}
		hs = &http.Server{
			Handler:           s.httpHandler(connCtx),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		s.h2Protocols(hs)
		serveErr = hs.Serve(ln)
	}()
	select {
	case <-done:
		return serveErr
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	ln.Close()
	<-done
	// Shutdown waits for the handlers to return, and over HTTP/2 a
	// WebSocket is its handler's stream: it ends only once cancel below
	// sends 1001. So Shutdown (GOAWAY, then closing the connections as
	// their streams end) runs meanwhile, not before.
	hsDone := make(chan struct{})
	go func() {
		defer close(hsDone)
		if hs != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := hs.Shutdown(sctx); err != nil {
				s.log.Warn("HTTP connections still open at the end of shutdown", "err", err)
			}
			scancel()
		}
	}()
	if s.shutdown != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.shutdown(sctx)
		scancel()
	}
	cancel()
	if s.poll != nil {
		s.poll.shutdown()
	}
	err = s.wait(5 * time.Second)
	<-hsDone
	return err
}

func (s *server) wait(d time.Duration) error {
	all := make(chan struct{})
	go func() { s.wg.Wait(); close(all) }()
	select {
	case <-all:
		return nil
	case <-time.After(d):
		return errors.New("connections still open after close 1001; exiting")
	}
}

func (s *server) banner(addr string) string {
	b := s.banner1(addr)
	switch {
	case s.poll != nil:
		b += "; echo: idle connections parked in a poller"
	case s.o.broadcast || s.o.exec != "":
	default:
		b += "; echo: a goroutine per connection"
	}
	return b
}

func (s *server) banner1(addr string) string {
	if s.o.nohttp {
		return fmt.Sprintf("listening on tcp://%s (raw WebSocket without HTTP: ws dial --nohttp %s)", addr, addr)
	}
	wsScheme, httpScheme := "ws", "http"
	if s.tls != nil {
		wsScheme, httpScheme = "wss", "https"
	}
	what := "demo page"
	if s.o.static != "" {
		what = "files of " + s.o.static
	}
	return fmt.Sprintf("listening on %s://%s/ (%s: %s://%s/)", wsScheme, addr, what, httpScheme, addr)
}

// httpHandler upgrades WebSocket requests on every path and serves the
// demo page or static files otherwise.
func (s *server) httpHandler(ctx context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !headerHas(r.Header, "Upgrade", "websocket") && !h2WebSocket(r) {
			s.files.ServeHTTP(w, r)
			return
		}
		if ctx.Err() != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		c, err := s.cfg.Upgrade(w, r, ws.Text)
		if err != nil {
			s.log.Info("upgrade refused", "remote", r.RemoteAddr, "err", err)
			return
		}
		// Over HTTP/2 the WebSocket is the handler's stream: net/http
		// ends it when the handler returns.
		s.session(ctx, c, r.ProtoMajor >= 2)
	})
}

// serveRaw accepts TCP connections and attaches with NoHTTP.
func (s *server) serveRaw(ctx context.Context, ln net.Listener) error {
	for {
		u, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			c, err := s.cfg.AttachServer(ctx, u, ws.Text|ws.NoHTTP)
			if err != nil {
				s.log.Info("attach failed", "remote", u.RemoteAddr(), "err", err)
				return
			}
			s.session(ctx, c, false)
		}()
	}
}

// session serves c until it ends; with the poller it returns at once
// unless hold (c is an HTTP/2 stream, which must keep its handler).
func (s *server) session(ctx context.Context, c *ws.Conn, hold bool) {
	s.wg.Add(1)
	defer s.wg.Done()
	log := s.log.With("remote", c.Underlying().RemoteAddr().String())
	log.Info("connected", "resource", c.Resource(), "subprotocol", c.Subprotocol(), "extensions", c.Extensions())
	if s.poll != nil {
		s.wg.Add(1)
		ended := make(chan struct{})
		s.poll.watch(ctx, c, log, func(err error) {
			defer s.wg.Done()
			defer close(ended)
			log.Info("disconnected", "err", err)
		})
		if hold {
			<-ended
		}
		return
	}
	if err := s.handle(ctx, c, log); err != nil {
		log.Info("disconnected", "err", err)
		return
	}
	log.Info("disconnected")
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// finish ends a connection after its receive loop stopped with err: it
// answers the peer's close, sends 1001 on shutdown, or closes at once on
// a failure. It returns nil for a clean close.
func finish(ctx context.Context, c *ws.Conn, err error) error {
	var ce ws.CloseError
	switch {
	case errors.As(err, &ce):
		return detach(c, ce.Code, "")
	case ctx.Err() != nil && errors.Is(err, ws.ErrCanceled):
		return detach(c, ws.StatusGoingAway, "server shutting down")
	}
	c.Close()
	return err
}

// detach completes the closing handshake (bounded) and closes the
// connection.
func detach(c *ws.Conn, code ws.StatusCode, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u, err := c.Detach(ctx, code, reason)
	if err != nil {
		c.Close()
		return err
	}
	return u.Close()
}
