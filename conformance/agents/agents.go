// Package agents holds the echo agents the conformance suite runs against:
// calibration agents built on gorilla/websocket and coder/websocket, and
// agents built on each API layer of github.com/dillgo/ws.
//
// A server agent listens on 127.0.0.1 and echoes every message with its
// type; a client agent connects to the URL the suite gives it and does
// the same until the connection ends.
package agents

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dillgo/ws/conformance/suite"
)

// Server is a server agent.
type Server struct {
	Name string
	// OnlyType is "text" or "binary" for agents that accept one message
	// type only and close with 1003 on the other (see suite.Options).
	OnlyType string
	// Deflate marks an agent with permessage-deflate enabled: go test
	// runs sections 12 and 13 against it (and the other sections against
	// the agents without it).
	Deflate bool
	// HTTP2 marks an agent the engine reaches over RFC 8441 streams
	// (suite.Options.HTTP2); its counts must equal those of the HTTP/1.1
	// agent named without the "-h2" suffix.
	HTTP2 bool
	// Start listens on 127.0.0.1:0 and serves until stop is called.
	Start func() (addr string, stop func(), err error)
}

// Client is a client agent.
type Client struct {
	Name     string
	OnlyType string
	Deflate  bool // see Server.Deflate
	HTTP2    bool // see Server.HTTP2
	Run      suite.ClientAgent
}

// MaxMessage is the largest message agents must echo (section 9's 16 MiB
// plus headroom).
const MaxMessage = 16<<20 + 4096

// Servers lists every server agent.
func Servers() []Server {
	return append([]Server{GorillaServer(), CoderServer(), GorillaDeflateServer(), CoderDeflateServer()}, WsServers()...)
}

// Clients lists every client agent.
func Clients() []Client {
	return append([]Client{GorillaClient(), CoderClient(), GorillaDeflateClient(), CoderDeflateClient()}, WsClients()...)
}

// tracker closes connections still open when an agent stops.
type tracker struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (tr *tracker) add(c net.Conn) {
	tr.mu.Lock()
	if tr.conns == nil {
		tr.conns = map[net.Conn]struct{}{}
	}
	tr.conns[c] = struct{}{}
	tr.mu.Unlock()
}

func (tr *tracker) remove(c net.Conn) {
	tr.mu.Lock()
	delete(tr.conns, c)
	tr.mu.Unlock()
}

func (tr *tracker) closeAll() {
	tr.mu.Lock()
	for c := range tr.conns {
		c.Close()
	}
	tr.mu.Unlock()
}

// serveTCP accepts raw TCP connections and hands each to serve in its own
// goroutine; stop closes the listener and every open connection and
// waits (bounded) for the goroutines.
func serveTCP(serve func(ctx context.Context, c net.Conn)) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &tracker{}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.add(c)
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				defer tr.remove(c)
				serve(ctx, c)
			}()
		}
	}()
	stop := func() {
		cancel()
		ln.Close()
		tr.closeAll()
		waitBounded(&tr.wg, 5*time.Second)
	}
	return ln.Addr().String(), stop, nil
}

// serveHTTP runs an http.Server whose handler hijacks connections; hijacked
// connections are tracked through ConnState so stop can close them.
func serveHTTP(h http.Handler) (string, func(), error) { return serveHTTPWith(h, false) }

// serveHTTPWith is serveHTTP; with h2c the server also speaks HTTP/2
// with prior knowledge (RFC 8441 streams need GODEBUG=http2xconnect=1).
func serveHTTPWith(h http.Handler, h2c bool) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	tr := &tracker{}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		Protocols:         protocols(h2c),
		ConnState: func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				tr.add(c)
			case http.StateClosed:
				tr.remove(c)
			}
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	stop := func() {
		srv.Close()
		tr.closeAll()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	return ln.Addr().String(), stop, nil
}

// protocols is HTTP/1.1, plus h2c when asked.
func protocols(h2c bool) *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(h2c)
	return &p
}

func waitBounded(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// bufPool holds MaxMessage-sized receive buffers, one per live connection.
var bufPool = sync.Pool{New: func() any { b := make([]byte, MaxMessage); return &b }}
