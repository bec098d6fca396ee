package ws

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Dial over HTTP/2 (Config.HTTP2): the WebSocket is an extended CONNECT
// stream (RFC 8441) on a connection shared by the Dial calls made with
// the same *Config to the same authority.

// poolKey names the connections Dial calls may share. cfg keeps the
// connections of a copy of a Config (which shares its h2Pool) apart.
type poolKey struct {
	cfg        *Config
	addr, host string
	tls        bool
}

// poolEntry lists the live connections of one key.
type poolEntry struct {
	key     poolKey
	conns   []*h2Conn
	dialing chan struct{} // closed when the dial in progress ends
}

// h2Pool holds the HTTP/2 connections of one Config's Dial calls that
// have open WebSockets, as net/http.Transport's idle pool does; a
// connection leaves it when its last WebSocket ends (and is closed then)
// or when it may open no more streams. It holds nothing once every
// WebSocket it carried is closed.
type h2Pool struct {
	mu sync.Mutex
	m  map[poolKey]*poolEntry
}

// h2Pool returns cfg's pool, creating it on first use.
func (cfg *Config) h2Pool() *h2Pool {
	if p, ok := cfg.h2.Load().(*h2Pool); ok {
		return p
	}
	cfg.h2.CompareAndSwap(nil, &h2Pool{m: make(map[poolKey]*poolEntry)})
	return cfg.h2.Load().(*h2Pool)
}

// h2Fallback carries, from the connection's setup to Dial, the TLS
// connection on which the server chose HTTP/1.1 by ALPN.
type h2Fallback struct{ u net.Conn }

func (h2Fallback) Error() string { return "server chose HTTP/1.1" }

// get returns a connection of key with a stream reserved on it,
// dialing one if none has room.
func (pool *h2Pool) get(ctx context.Context, key poolKey, dial func() (*h2Conn, error)) (*h2Conn, error) {
	for {
		pool.mu.Lock()
		e := pool.m[key]
		if e == nil {
			e = &poolEntry{key: key}
			pool.m[key] = e
		}
		for _, c := range e.conns {
			if c.reserve() {
				pool.mu.Unlock()
				return c, nil
			}
		}
		if ch := e.dialing; ch != nil {
			pool.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, newError("", ctxKind(ctx, ctx.Err()), nil)
			}
		}
		ch := make(chan struct{})
		e.dialing = ch
		pool.mu.Unlock()
		c, err := dial()
		pool.mu.Lock()
		e.dialing = nil
		close(ch)
		if err == nil && !c.reserve() {
			err = errH2Setup
		}
		if err != nil {
			if len(e.conns) == 0 {
				delete(pool.m, key)
			}
			pool.mu.Unlock()
			if c != nil {
				c.fail(net.ErrClosed)
			}
			return nil, err
		}
		c.entry = e
		e.conns = append(e.conns, c)
		pool.mu.Unlock()
		return c, nil
	}
}

// unlist removes c from the pool: it takes no more streams.
func (c *h2Conn) unlist() {
	if c.pool == nil {
		return
	}
	c.pool.mu.Lock()
	c.unlistLocked()
	c.pool.mu.Unlock()
}

func (c *h2Conn) unlistLocked() {
	e := c.entry
	if e == nil {
		return
	}
	c.entry = nil
	e.conns = slices.DeleteFunc(e.conns, func(x *h2Conn) bool { return x == c })
	if len(e.conns) == 0 && e.dialing == nil && c.pool.m[e.key] == e {
		delete(c.pool.m, e.key)
	}
}

// unlistIfIdle removes c from the pool if no stream is open or reserved
// on it, under the pool's lock so that no Dial reserves one meanwhile; it
// reports whether c is idle and must close.
func (c *h2Conn) unlistIfIdle() bool {
	if c.pool != nil {
		c.pool.mu.Lock()
		defer c.pool.mu.Unlock()
	}
	c.mu.Lock()
	idle := len(c.streams) == 0 && c.reserved == 0 && c.err == nil
	c.mu.Unlock()
	if idle {
		c.unlistLocked()
	}
	return idle
}

// alpn returns the protocols Dial's TLS client offers.
func (t *target) alpn() []string {
	if t.h2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// dialH2 is Dial over HTTP/2. fallback is set, with c, resp and err nil,
// when the server offers no HTTP/2 with extended CONNECT: Dial then
// speaks HTTP/1.1, on u if it is not nil (TLS where ALPN chose it).
// A CONNECT the server did not process (REFUSED_STREAM, or a stream
// above a GOAWAY's last stream id, RFC 9113 §8.7), or that could not be
// sent because its connection began going away, is tried once more, on
// a connection the pool gives then (a new one after GOAWAY).
func (cfg *Config) dialH2(ctx context.Context, op string, t *target, proxy *url.URL, flags Flags) (c *Conn, resp *http.Response, u net.Conn, err error, fallback bool) {
	if bound := cfg.handshakeBound(ctx, time.Now()); !bound.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, bound)
		defer cancel()
	}
	t.h2 = true
	key := poolKey{cfg: cfg, addr: t.addr, host: t.host, tls: t.tls}
	pool := cfg.h2Pool()
	var offered []string
	if cfg != nil {
		offered = cfg.Subprotocols
	}
	ext := ""
	if z := cfg.compression(); z != nil {
		ext = z.offer()
	}
	for try := 0; ; try++ {
		hc, err := pool.get(ctx, key, func() (*h2Conn, error) { return cfg.connectH2(ctx, t, proxy, pool) })
		var fb h2Fallback
		switch {
		case errors.As(err, &fb):
			return nil, nil, fb.u, nil, true
		case errors.Is(err, errH2Setup):
			return nil, nil, nil, nil, true
		case err != nil:
			return nil, nil, nil, err, false
		}
		st, err := hc.open(connectFields(t, offered, ext))
		if err != nil {
			if try == 0 && errors.Is(err, errH2GoingAway) {
				continue
			}
			return nil, nil, nil, newError("", ErrConnReset, err), false
		}
		c, resp, err = cfg.awaitH2(ctx, op, st, t, offered, flags)
		if he := (*h2Error)(nil); try == 0 && resp == nil && errors.As(err, &he) && he.unprocessed() {
			continue
		}
		return c, resp, nil, err, false
	}
}

// connectH2 opens a connection for key's streams: TCP, the proxy's
// tunnel, TLS offering h2 (wss://) or HTTP/2 with prior knowledge (ws://),
// then the HTTP/2 preface and SETTINGS.
func (cfg *Config) connectH2(ctx context.Context, t *target, proxy *url.URL, pool *h2Pool) (*h2Conn, error) {
	raw, err := cfg.connect(ctx, t, proxy)
	if err != nil {
		return nil, err
	}
	undo := setupCtx(ctx, raw)
	u, _, err := cfg.secure(ctx, raw, t, proxy)
	if err != nil {
		undo()
		raw.Close()
		return nil, err
	}
	if tc, ok := u.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
		undo()
		return nil, h2Fallback{u}
	}
	hc, err := newH2Conn(u, cfg.maxHeader(), pool)
	if undo() { // ctx ended
		if hc != nil {
			hc.fail(net.ErrClosed)
		}
		return nil, newError("", ctxKind(ctx, ctx.Err()), nil)
	}
	if err != nil {
		var he *h2Error
		if errors.As(err, &he) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errH2Setup // not an HTTP/2 server
		}
		return nil, ioError(ctx, err)
	}
	return hc, nil
}

// awaitH2 waits for the answer to the CONNECT on st and attaches to the
// stream, or returns the refusal.
func (cfg *Config) awaitH2(ctx context.Context, op string, st *clientStream, t *target, offered []string, flags Flags) (*Conn, *http.Response, error) {
	select {
	case <-st.respDone:
	case <-ctx.Done():
		st.Close()
		return nil, nil, newError("", ctxKind(ctx, ctx.Err()), nil)
	}
	c := st.c
	c.mu.Lock()
	status, header, rerr := st.status, st.header, st.rerr
	c.mu.Unlock()
	if status < 0 {
		st.Close()
		if he := (*h2Error)(nil); errors.Is(rerr, errHandshakeSize) || errors.As(rerr, &he) && he.stream == 0 {
			return nil, nil, newError("", ErrProto, rerr) // the server broke HTTP/2, or sent too much
		}
		return nil, nil, newError("", ErrConnReset, rerr)
	}
	resp := &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/2.0", ProtoMajor: 2, Header: header, Body: http.NoBody,
		Request: t.request(ctx),
	}
	resp.Request.Method = http.MethodConnect
	if tc, ok := c.u.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		resp.TLS = &cs
	}
	if status != http.StatusOK {
		resp.Body = io.NopCloser(bytes.NewReader(st.readRefusal(ctx)))
		st.Close()
		why := "server answered CONNECT with " + peerText([]byte(resp.Status))
		if loc := header.Get("Location"); status/100 == 3 && loc != "" {
			why += ", redirecting to " + strconv.Quote(loc) + "; redirects are not followed"
		}
		return nil, resp, newError("", ErrProto, detail(why))
	}
	proto := ""
	if ps := header.Values("Sec-Websocket-Protocol"); len(ps) > 1 {
		st.Close()
		return nil, resp, newError("", ErrProto, detail("repeated Sec-WebSocket-Protocol"))
	} else if len(ps) == 1 {
		if proto = ps[0]; !slices.Contains(offered, proto) {
			st.Close()
			return nil, resp, newError("", ErrProto, detail("server chose a subprotocol that was not offered"))
		}
	}
	var exts [][]byte
	for _, v := range header.Values("Sec-Websocket-Extensions") {
		exts = append(exts, []byte(v))
	}
	dp, err := acceptedDeflate(cfg.compression(), exts)
	if err != nil {
		st.Close()
		return nil, resp, newError("", ErrProto, err)
	}
	meta := connMeta{resource: t.resource, host: t.host, subprotocol: proto, deflate: dp}
	conn, err := cfg.attachUpgraded(op, st, flags, nil, true, nil, meta)
	return conn, resp, err
}

// readRefusal returns the body of a refusal, as much as arrives before
// the stream ends or ctx does.
func (s *clientStream) readRefusal(ctx context.Context) []byte {
	for {
		s.c.mu.Lock()
		done := s.eof || s.rerr != nil || len(s.body) >= maxErrorBody
		body := s.body
		s.c.mu.Unlock()
		if done {
			return body
		}
		select {
		case <-s.readCh:
		case <-ctx.Done():
			return body
		}
	}
}
