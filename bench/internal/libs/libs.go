// Package libs adapts each benchmarked library (and the raw-TCP baseline) to
// one small interface so every scenario drives them the same way, each
// through its cheapest idiomatic API.
package libs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Conn is one established connection of a library.
type Conn interface {
	// Send sends p as one binary message.
	Send(p []byte) error
	// Serve receives messages, each copied into buf when the library
	// reads into caller memory, and calls fn with each whole message until
	// fn returns false (Serve then returns nil; push-style libraries may
	// close the connection to stop) or an error occurs.
	Serve(buf []byte, fn func(msg []byte) bool) error
	// Close releases the connection.
	Close() error
}

// Opts are per-connection options.
type Opts struct {
	Deflate bool // negotiate permessage-deflate
	MaxSize int  // largest message expected
}

// Lib is one library under test.
type Lib struct {
	Name    string
	Raw     bool // length-prefixed raw TCP, no WebSocket framing or handshake
	Deflate bool // supports Opts.Deflate
	// Client performs the client handshake over c (resource "/", host 127.0.0.1).
	Client func(c net.Conn, o Opts) (Conn, error)
	// Server performs the server handshake over c, as the per-message
	// scenarios use it.
	Server func(c net.Conn, o Opts) (Conn, error)
	// Accept, if set, is the server side of the handshake and idle-memory
	// measurements, written as a server accepting many connections would
	// be (for ws: AttachServer without Storage, what Upgrade users get).
	// Nil means Server.
	Accept func(c net.Conn, o Opts) (Conn, error)
	// ServerVariant marks a second configuration of another library
	// (ClientOf) measured only where its server differs: the per-message
	// server scenarios (callgrind, isolated), echo and deflate. Its
	// client→server and server→client sums use ClientOf's client samples;
	// it is left out of the client scenarios, handshakes and idle memory.
	ServerVariant bool
	ClientOf      string
	// IdleOnly marks a server configuration measured only in the idle
	// benchmark, next to ClientOf (ws-poller: connections watched by a
	// ws.Poller, whose Serve returns at once). It is not in the default
	// library list of the other benchmarks.
	IdleOnly bool
}

// AcceptFunc returns the server function of the handshake and idle
// measurements.
func (l Lib) AcceptFunc() func(c net.Conn, o Opts) (Conn, error) {
	if l.Accept != nil {
		return l.Accept
	}
	return l.Server
}

var (
	mu  sync.Mutex
	reg = map[string]Lib{}
)

// Register adds a library; it is called from init functions.
func Register(l Lib) {
	mu.Lock()
	defer mu.Unlock()
	reg[l.Name] = l
}

// Order is the display order of known libraries.
var Order = []string{"raw", "ws", "ws-pooled", "ws-poller", "gorilla", "coder", "gobwas", "gobwas-frame", "gws"}

// All returns the registered libraries in display order.
func All() []Lib {
	mu.Lock()
	defer mu.Unlock()
	var out []Lib
	for _, n := range Order {
		if l, ok := reg[n]; ok {
			out = append(out, l)
		}
	}
	for n, l := range reg {
		if !slices.Contains(Order, n) {
			out = append(out, l)
		}
	}
	return out
}

// Get returns the library called name.
func Get(name string) (Lib, error) {
	mu.Lock()
	defer mu.Unlock()
	l, ok := reg[name]
	if !ok {
		return Lib{}, fmt.Errorf("libs: %q not compiled in", name)
	}
	return l, nil
}

// ErrTooBig reports a message larger than the receive buffer.
var ErrTooBig = errors.New("libs: message larger than buffer")

// ReadMsg reads r to EOF into buf and returns the byte count.
func ReadMsg(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			var one [1]byte
			k, err := r.Read(one[:])
			if k > 0 {
				return n, ErrTooBig
			}
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			continue
		}
		k, err := r.Read(buf[n:])
		n += k
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Hijacker is a minimal http.ResponseWriter + http.Hijacker over a raw conn,
// for libraries whose server side only upgrades net/http requests. It is
// cheaper than a real net/http server, so it favours those libraries.
type Hijacker struct {
	conn   net.Conn
	br     *bufio.Reader
	h      http.Header
	status int
	done   bool
}

// ReadRequest reads the upgrade request from c and returns a response
// writer that hijacks c.
func ReadRequest(c net.Conn) (*Hijacker, *http.Request, error) {
	br := bufio.NewReaderSize(c, 4096)
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	return &Hijacker{conn: c, br: br, h: http.Header{}}, r, nil
}

// Reader returns the buffered reader the request was read with.
func (w *Hijacker) Reader() *bufio.Reader { return w.br }

// Header implements http.ResponseWriter.
func (w *Hijacker) Header() http.Header { return w.h }

// WriteHeader implements http.ResponseWriter.
func (w *Hijacker) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *Hijacker) flush() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	if err := w.h.Write(&b); err != nil {
		return err
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(w.conn, b.String())
	return err
}

// Write implements http.ResponseWriter (used for error answers).
func (w *Hijacker) Write(p []byte) (int, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.conn.Write(p)
}

// Hijack implements http.Hijacker: a status set by WriteHeader is written
// first, as net/http does.
func (w *Hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status != 0 {
		if err := w.flush(); err != nil {
			return nil, nil, err
		}
	}
	w.done = true
	return w.conn, bufio.NewReadWriter(w.br, bufio.NewWriterSize(w.conn, 4096)), nil
}
