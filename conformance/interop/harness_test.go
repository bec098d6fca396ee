package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Time bounds: every wait in this package ends by one of them.
const (
	peerStartTimeout = 20 * time.Second // a peer process prints "listening"
	connectTimeout   = 15 * time.Second // one connection is open on both sides
	scenarioTimeout  = 90 * time.Second // one scenario, 16 MiB echo included
)

// serverProtocols are the subprotocols every server in these tests speaks,
// in its order of preference; the peers use the same list.
var serverProtocols = []string{"chat", "superchat"}

// endpoint is our side of one WebSocket connection. The scenarios are written
// against it once; ws_test.go implements it with github.com/dillgo/ws and
// gorilla_test.go with gorilla/websocket as a reference.
type endpoint interface {
	// Send sends one message.
	Send(ctx context.Context, text bool, p []byte) error
	// Recv reads one whole message into p. When the peer closed the
	// connection, it returns a peerClose with the peer's code and reason.
	Recv(ctx context.Context, p []byte) (n int, text bool, err error)
	// SendParts sends one message produced in parts (a streaming writer:
	// the library decides how it fragments it).
	SendParts(ctx context.Context, text bool, parts [][]byte) error
	// RecvStream reads one whole message through a streaming reader, in
	// reads of at most chunk bytes.
	RecvStream(ctx context.Context, chunk int) (data []byte, text bool, err error)
	// Done sends our close frame and keeps receiving (a half-close).
	Done(ctx context.Context, code int, reason string) error
	// Detach runs the close handshake with code and reason (starting it, or
	// answering the peer's close) and closes the transport.
	Detach(ctx context.Context, code int, reason string) error
	Subprotocol() string
	// Close closes the transport at once.
	Close() error
}

// peerClose is what endpoint.Recv returns when the peer closed.
type peerClose struct {
	code   int
	reason string
}

func (e peerClose) Error() string { return fmt.Sprintf("peer closed: %d %q", e.code, e.reason) }

// library is the WebSocket implementation on our side.
type library struct {
	name string
	// dial connects to a WebSocket server at addr (host:port) and asks for
	// path, offering protocols.
	dial func(ctx context.Context, addr, path string, protocols []string) (endpoint, error)
	// listen starts a server on 127.0.0.1:0 that speaks serverProtocols and
	// hands every accepted connection to d, until the test ends.
	listen func(t *testing.T, d *dispatcher) (addr string)
	// contract classifies errors as ws documents them; nil for a reference
	// library, which then skips the scenarios that check ws's contract.
	contract *contract
	// servesPages: listen serves dispatcher.page on the WebSocket port.
	servesPages bool
}

// contract tells the error kinds of ws's documented contract.
type contract struct {
	isProto    func(error) bool // ErrProto: the peer broke the protocol
	isMsgSize  func(error) bool // ErrMsgSize: the message did not fit
	isTimedOut func(error) bool // ErrTimedOut: ctx's deadline passed
	isCanceled func(error) bool // ErrCanceled: ctx was canceled
}

// dispatcher hands connections accepted by our server to the subtest that
// asked a peer client for them, matched by the id query parameter.
type dispatcher struct {
	mu    sync.Mutex
	conns map[string]chan endpoint
	peer  map[string]chan event // the peer client's "open" (or error) per id
	errs  []string              // handshakes that failed on our side

	// handle, when set, serves every connection instead (on its own
	// goroutine); anyOrigin makes the server accept any Origin (a browser
	// page from another port).
	handle    func(target string, ep endpoint)
	anyOrigin bool
	// page, when set, is served for plain HTTP requests by a library whose
	// server is a net/http one (library.servesPages).
	page http.Handler
}

func newDispatcher() *dispatcher {
	return &dispatcher{conns: map[string]chan endpoint{}, peer: map[string]chan event{}}
}

func (d *dispatcher) slot(id string) chan endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.conns[id]
	if ch == nil {
		ch = make(chan endpoint, 1)
		d.conns[id] = ch
	}
	return ch
}

// deliver is called by a library's server for every accepted connection
// with the request target it was asked for.
func (d *dispatcher) deliver(target string, ep endpoint) {
	if d.handle != nil {
		go d.handle(target, ep)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		d.fail(fmt.Errorf("bad request target %q: %v", target, err))
		ep.Close()
		return
	}
	select {
	case d.slot(u.Query().Get("id")) <- ep:
	default:
		d.fail(fmt.Errorf("second connection for %q", target))
		ep.Close()
	}
}

// fail records a handshake that failed on our side.
func (d *dispatcher) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs = append(d.errs, err.Error())
}

func (d *dispatcher) peerSlot(id string) chan event {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.peer[id]
	if ch == nil {
		ch = make(chan event, 1)
		d.peer[id] = ch
	}
	return ch
}

func (d *dispatcher) peerEvent(id string, ev event) { d.peerSlot(id) <- ev }

// event is one JSON line printed by a peer.
type event struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	Port       int    `json:"port"`
	Scenario   string `json:"scenario"`
	Protocol   string `json:"protocol"`
	Extensions string `json:"extensions"`
	Code       int    `json:"code"`
	Reason     string `json:"reason"`
	Error      string `json:"error"`
	// DeflateParams are the permessage-deflate parameters the peer agreed
	// to, null when it did not negotiate the extension.
	DeflateParams *deflateParams `json:"deflateParams"`
}

// peerKind is a peer implementation: how to start its program.
type peerKind struct {
	name string
	// command returns the peer program with args, or an error saying what
	// must be installed.
	command func(args ...string) (*exec.Cmd, error)
}

var nodePeer = peerKind{name: "node", command: func(args ...string) (*exec.Cmd, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found (apt-get install nodejs): %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "node"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
		return nil, fmt.Errorf("npm package ws missing: run `npm ci` in %s: %v", dir, err)
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "peer.js")}, args...)...)
	cmd.Dir = dir
	return cmd, nil
}}

// pythonExe is Debian's interpreter, which has python3-websockets; the
// python3 on PATH may be another build without it.
const pythonExe = "/usr/bin/python3"

var pythonPeer = peerKind{name: "python", command: func(args ...string) (*exec.Cmd, error) {
	if out, err := exec.Command(pythonExe, "-c", "import websockets").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot import websockets (apt-get install python3-websockets): %v\n%s", pythonExe, err, out)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "peer.py"))
	if err != nil {
		return nil, err
	}
	return exec.Command(pythonExe, append([]string{"-u", script}, args...)...), nil
}}

// peerProc is a running peer program.
type peerProc struct {
	kind   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer

	mu     sync.Mutex
	events map[string]chan event // by id; "" for process-wide events
	exited chan struct{}         // closed when stdout ended
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPeer starts kind's program with args; it stops when the test ends.
// A peer that cannot start fails the test.
func startPeer(t *testing.T, kind peerKind, args ...string) *peerProc {
	t.Helper()
	cmd, err := kind.command(args...)
	if err != nil {
		t.Fatalf("peer %s: %v", kind.name, err)
	}
	p := &peerProc{kind: kind.name, cmd: cmd, stderr: &syncBuffer{},
		events: map[string]chan event{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("peer %s: %v", kind.name, err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.stdin.Close() // the peers exit at end of stdin
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("peer %s stderr:\n%s", kind.name, p.stderr)
		}
	})
	return p
}

func (p *peerProc) read(r io.Reader) {
	defer close(p.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintf(p.stderr, "stdout: %s\n", sc.Bytes())
			continue
		}
		select {
		case p.slot(ev.ID) <- ev:
		default:
			fmt.Fprintf(p.stderr, "dropped event: %s\n", sc.Bytes())
		}
	}
}

func (p *peerProc) slot(id string) chan event {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.events[id]
	if ch == nil {
		ch = make(chan event, 64)
		p.events[id] = ch
	}
	return ch
}

// wait returns the next event named name for id; an "error" event from the
// peer, its exit or the end of ctx are errors.
func (p *peerProc) wait(ctx context.Context, id, name string) (event, error) {
	ch := p.slot(id)
	for {
		select {
		case ev := <-ch:
			if ev.Event == name {
				return ev, nil
			}
			if ev.Event == "error" {
				return ev, fmt.Errorf("%s peer reported an error on %s: %s", p.kind, id, ev.Error)
			}
		case <-p.exited:
			return event{}, fmt.Errorf("%s peer exited before %q on %s: %v", p.kind, name, id, p.cmd.ProcessState)
		case <-ctx.Done():
			return event{}, fmt.Errorf("%s peer: no %q event on %s: %w", p.kind, name, id, ctx.Err())
		}
	}
}

// request asks a peer client for a connection.
func (p *peerProc) request(req peerRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

type peerRequest struct {
	ID        string   `json:"id"`
	Path      string   `json:"path"`
	Protocols []string `json:"protocols"`
	// Deflate is false, true (the peer's default permessage-deflate offer)
	// or an object of the peer library's options for its offer.
	Deflate any `json:"deflate"`
}

var lastID atomic.Int64

// link is one open connection between our library and a peer.
type link struct {
	ep   endpoint
	id   string
	open event // the peer's "open" event
	peer *peerProc
}

// connOptions are what a scenario asks of a connection.
type connOptions struct {
	query     url.Values
	protocols []string // offered by the client, whichever side it is
	deflate   bool     // the peer offers/accepts permessage-deflate
	// peerDeflate, when set, replaces a peer client's default offer with
	// these options of its library (see peer.js and peer.py).
	peerDeflate map[string]any
}

// session connects our library to one running peer in one role.
type session struct {
	lib  library
	peer *peerProc
	// peerIsClient: the peer is the client and our library the server.
	peerIsClient bool
	// connect opens a connection for path and returns our end and the
	// peer's "open" event.
	connect func(ctx context.Context, path string, o connOptions) (endpoint, event, error)
}

// dial opens a connection running scenario; the test fails if it can't.
func (s *session) dial(t *testing.T, scenario string, o connOptions) *link {
	t.Helper()
	l, err := s.tryDial(t, scenario, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tryDial opens a connection running scenario.
func (s *session) tryDial(t *testing.T, scenario string, o connOptions) (*link, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	id := "c" + strconv.FormatInt(lastID.Add(1), 10)
	q := url.Values{}
	for k, v := range o.query {
		q[k] = v
	}
	q.Set("id", id)
	path := "/" + scenario + "?" + q.Encode()
	ep, open, err := s.connect(ctx, path, o)
	if err != nil {
		return nil, fmt.Errorf("%s with %s: connect %s: %w", s.lib.name, s.peer.kind, path, err)
	}
	t.Cleanup(func() { ep.Close() })
	return &link{ep: ep, id: id, open: open, peer: s.peer}, nil
}

// asServer starts a peer server and returns a session in which our library
// is the client.
func asServer(t *testing.T, lib library, kind peerKind, args ...string) *session {
	p := startPeer(t, kind, append([]string{"server"}, args...)...)
	ctx, cancel := context.WithTimeout(context.Background(), peerStartTimeout)
	defer cancel()
	ev, err := p.wait(ctx, "", "listening")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ev.Port)
	return &session{lib: lib, peer: p, connect: func(ctx context.Context, path string, o connOptions) (endpoint, event, error) {
		ep, err := lib.dial(ctx, addr, path, o.protocols)
		if err != nil {
			return nil, event{}, err
		}
		open, err := p.wait(ctx, mustQuery(path).Get("id"), "open")
		if err != nil {
			ep.Close()
			return nil, event{}, err
		}
		return ep, open, nil
	}}
}

// asClient starts our server and a peer client and returns a session in
// which our library is the server.
func asClient(t *testing.T, lib library, kind peerKind) *session {
	d := newDispatcher()
	addr := lib.listen(t, d)
	p := startPeer(t, kind, "client", "ws://"+addr)
	return &session{lib: lib, peer: p, peerIsClient: true, connect: func(ctx context.Context, path string, o connOptions) (endpoint, event, error) {
		id := mustQuery(path).Get("id")
		req := peerRequest{ID: id, Path: path, Protocols: o.protocols, Deflate: o.deflate}
		if o.peerDeflate != nil {
			req.Deflate = o.peerDeflate
		}
		if err := p.request(req); err != nil {
			return nil, event{}, fmt.Errorf("asking the peer client: %w", err)
		}
		var ep endpoint
		var open *event
		go func() {
			ev, err := p.wait(ctx, id, "open")
			if err != nil {
				ev = event{Event: "error", Error: err.Error()}
			}
			d.peerEvent(id, ev)
		}()
		for ep == nil || open == nil {
			select {
			case ep = <-d.slot(id):
			case ev := <-d.peerSlot(id):
				if ev.Event != "open" {
					if ep != nil {
						ep.Close()
					}
					d.mu.Lock()
					defer d.mu.Unlock()
					return nil, event{}, fmt.Errorf("%s (handshake failures on our side so far: %q)", ev.Error, d.errs)
				}
				open = &ev
			}
		}
		return ep, *open, nil
	}}
}

func mustQuery(path string) url.Values {
	u, err := url.Parse(path)
	if err != nil {
		panic(err)
	}
	return u.Query()
}

// runPeerSuite runs every scenario against one peer kind, with the peer as
// server and as client.
func runPeerSuite(t *testing.T, lib library, kind peerKind) {
	t.Run("peer-server", func(t *testing.T) {
		// --deflate: the peer server accepts permessage-deflate when offered.
		s := asServer(t, lib, kind, "--deflate")
		runScenarios(t, s)
	})
	t.Run("peer-client", func(t *testing.T) {
		s := asClient(t, lib, kind)
		runScenarios(t, s)
	})
}

func runScenarios(t *testing.T, s *session) {
	for _, sc := range scenarios() {
		if sc.contract && s.lib.contract == nil {
			continue // a reference library: ws's own promises don't apply
		}
		t.Run(sc.name, func(t *testing.T) {
			currentRow().leaf(t)
			sc.run(t, s)
		})
	}
}

// asPeerClose returns the peer's close carried by err.
func asPeerClose(err error) (peerClose, bool) {
	var pc peerClose
	ok := errors.As(err, &pc)
	return pc, ok
}
