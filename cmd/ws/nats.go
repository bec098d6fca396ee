package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// natsClient is a small NATS core client (stdlib only) for ws serve
// --nats: one subscription to one subject, publishing with headers, and
// reconnection with backoff. It speaks the wire conventions of the
// wsnats bridge (github.com/dillgo/ws/nats), so that ws serve processes
// and Go programs using wsnats.Bridge share one broadcast:
//
//   - every message goes to the subject with the headers
//     "NATS/1.0\r\nWs-Node: <node>\r\nWs-Type: text|binary\r\n\r\n" and the
//     WebSocket message's payload as the NATS payload;
//   - a node drops the messages whose Ws-Node is its own (it also asks the
//     server not to echo them, with "echo": false in CONNECT);
//   - a message with no Ws-Type "text" is binary.
//
// NATS core is at-most-once. While the client is disconnected, what it
// publishes is counted as lost and dropped (not buffered), and what the
// other nodes publish does not reach it and is not replayed. Messages
// written to a connection that then breaks are lost too. Per-publisher
// order holds: one TCP connection at a time carries the publishes in the
// order Publish is called, and the subscription's messages are delivered
// one at a time in the order the server sends them.
//
// TLS to NATS (tls:// or a server that requires it) is not supported.
type natsClient struct {
	servers []string // host:port, tried in turn
	user    string   // from the URL's userinfo
	pass    string
	subject string
	node    string
	log     *slog.Logger
	deliver func(flags natsType, p []byte) // runs on the reader, one message at a time

	// Timings; tests may shorten them before connect.
	dialTimeout  time.Duration
	pingInterval time.Duration
	maxPingsOut  int
	backoffMin   time.Duration
	backoffMax   time.Duration

	mu         sync.Mutex
	conn       net.Conn      // nil while disconnected
	bw         *bufio.Writer // conn's writer
	maxPayload int
	wake       chan struct{} // a publish waits in bw
	closed     bool

	// pings are the PINGs of the current connection waiting for their
	// PONG, in order: a flush's channel, or nil for a keepalive's.
	pings    []chan struct{}
	connLost chan struct{} // closed when the current connection ends

	stop chan struct{}
	done chan struct{} // the reconnect loop ended

	published, received, lost, skipped atomic.Uint64
}

// natsType is a bridged message's Ws-Type.
type natsType bool

const (
	natsBinary natsType = false
	natsText   natsType = true
)

var errNATSDown = errors.New("not connected to NATS: message lost")

// parseNATSURL accepts nats://[user[:pass]@]host[:port], host:port, and a
// comma-separated list of those (the servers of a cluster, tried in turn).
func parseNATSURL(s string) (servers []string, user, pass string, err error) {
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		if one == "" {
			continue
		}
		if !strings.Contains(one, "://") {
			one = "nats://" + one
		}
		u, perr := url.Parse(one)
		if perr != nil {
			return nil, "", "", fmt.Errorf("--nats %q: %v", one, perr)
		}
		switch u.Scheme {
		case "nats":
		case "tls":
			return nil, "", "", fmt.Errorf("--nats %q: TLS to NATS is not supported", one)
		default:
			return nil, "", "", fmt.Errorf("--nats %q: scheme %q, want nats://", one, u.Scheme)
		}
		if u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
			return nil, "", "", fmt.Errorf("--nats %q: want nats://host:port", one)
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "4222")
		}
		servers = append(servers, host)
		if u.User != nil {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
	}
	if len(servers) == 0 {
		return nil, "", "", errors.New("--nats: no server")
	}
	return servers, user, pass, nil
}

// validSubject reports whether s is a subject to publish on: tokens
// separated by dots, no wildcard, no white space.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

func newNATSClient(natsURL, subject string, log *slog.Logger, deliver func(natsType, []byte)) (*natsClient, error) {
	servers, user, pass, err := parseNATSURL(natsURL)
	if err != nil {
		return nil, err
	}
	if !validSubject(subject) {
		return nil, fmt.Errorf("--subject %q: want dot-separated tokens, no wildcards or spaces", subject)
	}
	var id [8]byte
	rand.Read(id[:])
	return &natsClient{
		servers: servers, user: user, pass: pass, subject: subject,
		node: hex.EncodeToString(id[:]), log: log, deliver: deliver,
		dialTimeout: 5 * time.Second, pingInterval: 30 * time.Second, maxPingsOut: 2,
		backoffMin: 50 * time.Millisecond, backoffMax: 2 * time.Second,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// start makes the first connection (an error if it fails, so that a
// wrong URL is seen at once), then keeps the client connected in the
// background until close.
func (c *natsClient) start() error {
	conn, err := c.connect(c.servers[0])
	for i := 1; err != nil && i < len(c.servers); i++ {
		conn, err = c.connect(c.servers[i])
	}
	if err != nil {
		return err
	}
	go c.flusher()
	go c.loop(conn)
	return nil
}

// connect dials addr, does the handshake (INFO, CONNECT, SUB, then PING
// and its PONG, so that the subscription is on the server) and makes the
// connection the current one.
func (c *natsClient) connect(addr string) (*natsReader, error) {
	nc, err := net.DialTimeout("tcp", addr, c.dialTimeout)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(c.dialTimeout))
	r := &natsReader{br: bufio.NewReaderSize(nc, 32<<10), conn: nc}
	fail := func(err error) (*natsReader, error) {
		nc.Close()
		return nil, fmt.Errorf("NATS %s: %w", addr, err)
	}
	line, err := r.line()
	if err != nil {
		return fail(err)
	}
	op, rest, _ := strings.Cut(line, " ")
	if !strings.EqualFold(op, "INFO") {
		return fail(fmt.Errorf("want INFO, got %q", trim(line)))
	}
	var info struct {
		MaxPayload  int  `json:"max_payload"`
		Headers     bool `json:"headers"`
		Proto       int  `json:"proto"`
		TLSRequired bool `json:"tls_required"`
		AuthReq     bool `json:"auth_required"`
	}
	if err := json.Unmarshal([]byte(rest), &info); err != nil {
		return fail(fmt.Errorf("INFO: %v", err))
	}
	if info.TLSRequired {
		return fail(errors.New("the server requires TLS, which ws serve does not support"))
	}
	if !info.Headers || info.Proto < 1 {
		return fail(errors.New("the server does not support headers (nats-server 2.2 or later needed)"))
	}
	r.maxPayload = info.MaxPayload
	if r.maxPayload <= 0 {
		r.maxPayload = 1 << 20
	}
	cmsg := map[string]any{
		"verbose": false, "pedantic": false, "tls_required": false,
		"name": "ws serve " + c.node, "lang": "go", "version": "ws",
		"protocol": 1, "headers": true, "no_responders": false, "echo": false,
	}
	if c.user != "" && c.pass == "" {
		cmsg["auth_token"] = c.user
	} else if c.user != "" {
		cmsg["user"], cmsg["pass"] = c.user, c.pass
	}
	cj, _ := json.Marshal(cmsg)
	hello := fmt.Sprintf("CONNECT %s\r\nSUB %s 1\r\nPING\r\n", cj, c.subject)
	if _, err := io.WriteString(nc, hello); err != nil {
		return fail(err)
	}
	for {
		line, err := r.line()
		if err != nil {
			return fail(err)
		}
		op, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(op) {
		case "PONG":
			nc.SetDeadline(time.Time{})
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				return fail(errors.New("closed"))
			}
			c.conn, c.bw, c.maxPayload = nc, bufio.NewWriterSize(nc, 64<<10), r.maxPayload
			c.pings, c.connLost = nil, make(chan struct{})
			c.mu.Unlock()
			c.log.Info("connected to NATS", "server", addr, "subject", c.subject, "node", c.node)
			return r, nil
		case "PING":
			io.WriteString(nc, "PONG\r\n")
		case "HMSG", "MSG":
			// Traffic of the new subscription ahead of the PONG.
			if err := c.handleMsg(r, op, rest); err != nil {
				return fail(err)
			}
		case "+OK", "INFO":
		case "-ERR":
			return fail(errors.New(strings.Trim(rest, "' ")))
		default:
			return fail(fmt.Errorf("unexpected %q", trim(line)))
		}
	}
}

// loop reads the current connection until it breaks, then reconnects
// with backoff (doubling from backoffMin to backoffMax, with jitter),
// trying the servers in turn, until close.
func (c *natsClient) loop(r *natsReader) {
	defer close(c.done)
	next := 0
	for {
		err := c.read(r)
		c.mu.Lock()
		c.conn, c.bw = nil, nil
		closed := c.closed
		close(c.connLost)
		c.mu.Unlock()
		r.conn.Close()
		if closed {
			return
		}
		c.log.Warn("lost the NATS connection; reconnecting (messages published meanwhile are lost)", "err", err)
		wait := c.backoffMin
		for r = nil; r == nil; {
			j, _ := rand.Int(rand.Reader, big.NewInt(int64(wait/2)+1))
			select {
			case <-c.stop:
				return
			case <-time.After(wait/2 + time.Duration(j.Int64())):
			}
			next = (next + 1) % len(c.servers)
			var cerr error
			if r, cerr = c.connect(c.servers[next]); cerr != nil {
				wait = min(2*wait, c.backoffMax)
				c.log.Info("NATS reconnection failed", "err", cerr, "retry_in", wait)
			}
		}
	}
}

// read handles the server's messages on one connection until it fails.
func (c *natsClient) read(r *natsReader) error {
	pingStop := make(chan struct{})
	defer close(pingStop)
	go c.pinger(r.conn, pingStop)
	for {
		line, err := r.line()
		if err != nil {
			return err
		}
		op, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(op) {
		case "HMSG", "MSG":
			if err := c.handleMsg(r, op, rest); err != nil {
				return err
			}
		case "PING":
			c.write("PONG\r\n")
		case "PONG":
			c.mu.Lock()
			if len(c.pings) > 0 {
				if w := c.pings[0]; w != nil {
					close(w)
				}
				c.pings = c.pings[1:]
			}
			c.mu.Unlock()
		case "+OK", "INFO":
		case "-ERR":
			// The server closes the connection after most errors; a
			// permissions violation leaves it open.
			c.log.Warn("NATS error", "err", strings.Trim(rest, "' "))
		default:
			return fmt.Errorf("NATS protocol: unexpected %q", trim(line))
		}
	}
}

// handleMsg reads a MSG or HMSG and delivers it, unless it is this
// node's own.
func (c *natsClient) handleMsg(r *natsReader, op, rest string) error {
	typ, p, err := r.msg(strings.EqualFold(op, "HMSG"), rest, c.node)
	switch {
	case errors.Is(err, errOwnMessage):
		c.skipped.Add(1)
	case err != nil:
		return err
	default:
		c.received.Add(1)
		c.deliver(typ, p)
	}
	return nil
}

// pinger sends a PING every pingInterval and breaks the connection when
// maxPingsOut of them are unanswered (a server gone without a FIN).
func (c *natsClient) pinger(conn net.Conn, stop chan struct{}) {
	t := time.NewTicker(c.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.conn != conn {
			c.mu.Unlock()
			return
		}
		if len(c.pings) >= c.maxPingsOut {
			c.mu.Unlock()
			c.log.Warn("NATS server stopped answering PING")
			conn.Close()
			return
		}
		c.pings = append(c.pings, nil)
		c.bw.WriteString("PING\r\n")
		c.flushLocked()
		c.mu.Unlock()
	}
}

// write sends a protocol line at once (bounded), if connected.
func (c *natsClient) write(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return
	}
	c.bw.WriteString(s)
	c.flushLocked()
}

// flushLocked writes out bw; a write that fails or stalls for 5 s breaks
// the connection (the reader then reconnects). Called with mu held.
func (c *natsClient) flushLocked() {
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.bw.Flush(); err != nil {
		c.conn.Close()
		c.conn, c.bw = nil, nil
	}
}

// publish sends p to the subject with this node's headers. It does not
// wait for the network: the flusher writes what is buffered.
func (c *natsClient) publish(typ natsType, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		c.lost.Add(1)
		return errNATSDown
	}
	t := "binary"
	if typ == natsText {
		t = "text"
	}
	hdr := "NATS/1.0\r\nWs-Node: " + c.node + "\r\nWs-Type: " + t + "\r\n\r\n"
	if len(hdr)+len(p) > c.maxPayload {
		c.lost.Add(1)
		return fmt.Errorf("message of %d bytes over the NATS server's max_payload (%d): not sent to the other nodes", len(p), c.maxPayload)
	}
	bw := c.bw
	fmt.Fprintf(bw, "HPUB %s %d %d\r\n", c.subject, len(hdr), len(hdr)+len(p))
	bw.WriteString(hdr)
	bw.Write(p)
	bw.WriteString("\r\n")
	c.published.Add(1)
	if bw.Buffered() >= 32<<10 {
		c.flushLocked()
		return nil
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// flusher writes out what publish buffered, so that a burst of small
// messages goes out in few writes.
func (c *natsClient) flusher() {
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		if c.conn != nil && c.bw.Buffered() > 0 {
			c.flushLocked()
		}
		c.mu.Unlock()
	}
}

// flush writes out what is buffered and waits (bounded by ctx) for the
// server's PONG to a PING: what was published before reached the server.
func (c *natsClient) flush(ctx context.Context) error {
	c.mu.Lock()
	if c.conn == nil {
		c.mu.Unlock()
		return errNATSDown
	}
	pong, lost := make(chan struct{}), c.connLost
	c.pings = append(c.pings, pong)
	c.bw.WriteString("PING\r\n")
	c.flushLocked()
	c.mu.Unlock()
	select {
	case <-pong:
		return nil
	case <-lost:
		return errNATSDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close flushes (bounded by ctx) and closes the connection; the
// subscription ends with it.
func (c *natsClient) close(ctx context.Context) {
	c.flush(ctx)
	c.mu.Lock()
	c.closed = true
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	close(c.stop)
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.log.Info("NATS stats", "published", c.published.Load(), "received", c.received.Load(),
		"lost", c.lost.Load(), "own_skipped", c.skipped.Load())
}

// natsReader parses the server's side of one connection.
type natsReader struct {
	br         *bufio.Reader
	conn       net.Conn
	maxPayload int
}

var errOwnMessage = errors.New("own message")

// line reads one protocol line without its CRLF (at most 64 KiB: an
// INFO with a long list of cluster URLs fits).
func (r *natsReader) line() (string, error) {
	var b []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		b = append(b, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
		if len(b) > 64<<10 {
			return "", errors.New("NATS protocol: line over 64 KiB")
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// msg reads the body of a MSG (args: subject sid [reply] size) or an
// HMSG (args: subject sid [reply] hdrsize size) and returns its type and
// payload, or errOwnMessage for one with this node's Ws-Node.
func (r *natsReader) msg(hasHdr bool, args, node string) (natsType, []byte, error) {
	f := strings.Fields(args)
	nsizes := 1
	if hasHdr {
		nsizes = 2
	}
	if len(f) != 2+nsizes && len(f) != 3+nsizes {
		return natsBinary, nil, fmt.Errorf("NATS protocol: bad message line %q", trim(args))
	}
	total, err := strconv.Atoi(f[len(f)-1])
	hlen := 0
	if err == nil && hasHdr {
		hlen, err = strconv.Atoi(f[len(f)-2])
	}
	// The server enforces max_payload on publishers; allow headroom for
	// a server-side limit change, bound the allocation all the same.
	if err != nil || total < 0 || hlen < 0 || hlen > total || total > 2*r.maxPayload+(64<<10) {
		return natsBinary, nil, fmt.Errorf("NATS protocol: bad sizes in %q", trim(args))
	}
	buf := make([]byte, total+2)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return natsBinary, nil, err
	}
	if !bytes.HasSuffix(buf, []byte("\r\n")) {
		return natsBinary, nil, errors.New("NATS protocol: message not ended by CRLF")
	}
	typ := natsBinary
	if hasHdr {
		h := parseNATSHeaders(buf[:hlen])
		if h["ws-node"] == node {
			return natsBinary, nil, errOwnMessage
		}
		if h["ws-type"] == "text" {
			typ = natsText
		}
	}
	return typ, buf[hlen:total], nil
}

// parseNATSHeaders returns the headers of a "NATS/1.0…" block, keys in
// lower case, the first value of each.
func parseNATSHeaders(b []byte) map[string]string {
	h := map[string]string{}
	lines := strings.Split(string(b), "\r\n")
	for _, l := range lines[1:] { // lines[0] is "NATS/1.0[ status]"
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := h[k]; !dup {
			h[k] = strings.TrimSpace(v)
		}
	}
	return h
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
