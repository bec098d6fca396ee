package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// ClientAgent is an in-process WebSocket client under test: it must
// connect to url (ws://127.0.0.1:port/runCase?case=ID&agent=NAME), echo
// every message with the same type until the connection ends, and return.
// Its error is only logged: failing a connection is what many cases want.
type ClientAgent func(ctx context.Context, url string) error

// Progress, when set, is called after each case.
type Progress func(Result)

func newT(c *Case, mode Mode, opts Options, conn net.Conn) *T {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = opts.Timeout
	}
	t := &T{c: c, mode: mode, opts: opts, conn: conn, q: newEventQueue(),
		deadline: time.Now().Add(timeout)}
	t.br = bufio.NewReaderSize(conn, 64<<10)
	// Reads (including the frame reader goroutine) and writes never
	// outlive the case by much.
	conn.SetDeadline(t.deadline.Add(time.Second))
	return t
}

// runCase runs c.Run on t, turning a panic into a crashed result.
func runCase(t *T, body func()) (res Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			t.Fail("suite crashed: %v\n%s", p, debug.Stack())
			res.Crashed = true
		}
		res.ID, res.Description, res.Expectation, res.Feature = t.c.ID, t.c.Desc, t.c.Expect, t.c.Feature
		res.Outcome, res.Detail = t.result()
		res.Duration = time.Since(start)
	}()
	body()
	return res
}

// Resource is the request target the engine uses for a case.
func Resource(id, agent string) string {
	return "/runCase?case=" + url.QueryEscape(id) + "&agent=" + url.QueryEscape(agent)
}

// RunServer runs cases against the WebSocket server listening at addr
// (host:port); the engine is the fuzzing client.
func RunServer(ctx context.Context, addr, agent string, cases []*Case, opts Options, progress Progress) *Report {
	opts = opts.withDefaults()
	rep := &Report{Agent: agent, Mode: ModeServer.String(), Full: opts.Full, Started: time.Now(), Transport: opts.transport()}
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		res := runServerCase(ctx, addr, agent, c, opts)
		rep.Results = append(rep.Results, res)
		if progress != nil {
			progress(res)
		}
	}
	rep.Elapsed = time.Since(rep.Started).Seconds()
	rep.Finish()
	return rep
}

func runServerCase(ctx context.Context, addr, agent string, c *Case, opts Options) Result {
	var conn net.Conn
	var err error
	if opts.HTTP2 {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel() // after conn.Close: the stream ends with the case
		conn, err = dialH2(sctx, addr)
	} else {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return Result{ID: c.ID, Description: c.Desc, Expectation: c.Expect, Feature: c.Feature,
			Outcome: Failed, Detail: fmt.Sprintf("could not connect to %s: %v", addr, err)}
	}
	defer conn.Close()
	t := newT(c, ModeServer, opts, conn)
	t.addr = addr
	t.resource = Resource(c.ID, agent)
	return runCase(t, func() {
		if !c.Raw {
			var extra []string
			if c.Offer != "" {
				extra = append(extra, "Sec-WebSocket-Extensions: "+c.Offer)
			}
			if err := t.OpenClient(t.resource, addr, extra...); err != nil {
				t.Fail("opening handshake: %v", err)
				return
			}
		}
		c.Run(t)
	})
}

// OpenClient performs a standard opening handshake as the client and
// starts the frame reader. Extra header lines are added to the request.
func (t *T) OpenClient(resource, host string, extra ...string) error {
	t.Key = NewKey()
	t.Write(Request(resource, host, t.Key, extra...))
	if t.writeErr != nil {
		return t.writeErr
	}
	resp, err := ReadResponse(t.br)
	if err != nil {
		return err
	}
	t.Resp = resp
	if err := CheckUpgradeResponse(resp, t.Key, t.c.Offer != ""); err != nil {
		return err
	}
	t.Start()
	return nil
}

// RunClient runs cases against an in-process client agent; the engine
// listens on 127.0.0.1 and plays the fuzzing server.
func RunClient(ctx context.Context, agentName string, agent ClientAgent, cases []*Case, opts Options, progress Progress) (*Report, error) {
	opts = opts.withDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	accept := func(resource string, deadline time.Time) (net.Conn, error) {
		return acceptFor(ln.(*net.TCPListener), resource, deadline)
	}
	if opts.HTTP2 {
		a, err := newH2Acceptor(ln)
		if err != nil {
			return nil, err
		}
		defer a.close()
		accept = a.accept
	}
	rep := &Report{Agent: agentName, Mode: ModeClient.String(), Full: opts.Full, Started: time.Now(), Transport: opts.transport()}
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		res := runClientCase(ctx, ln.Addr().String(), accept, agentName, agent, c, opts)
		rep.Results = append(rep.Results, res)
		if progress != nil {
			progress(res)
		}
	}
	rep.Elapsed = time.Since(rep.Started).Seconds()
	rep.Finish()
	return rep, nil
}

func runClientCase(ctx context.Context, addr string, accept func(string, time.Time) (net.Conn, error), agentName string, agent ClientAgent, c *Case, opts Options) Result {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = opts.Timeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout+opts.AgentExit)
	defer cancel()
	resource := Resource(c.ID, agentName)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("client agent panicked: %v", p)
			}
		}()
		done <- agent(actx, "ws://"+addr+resource)
	}()
	conn, err := accept(resource, time.Now().Add(timeout))
	if err != nil {
		cancel()
		<-done
		return Result{ID: c.ID, Description: c.Desc, Expectation: c.Expect, Feature: c.Feature,
			Outcome: Failed, Detail: err.Error()}
	}
	t := newT(c, ModeClient, opts, conn)
	t.resource = resource
	res := runCase(t, func() {
		defer conn.Close()
		if !t.AcceptClient() {
			return
		}
		if t.Req.Target != resource {
			t.Fail("the client requested %q, not the case's resource %q", t.Req.Target, resource)
			return
		}
		c.Run(t)
	})
	conn.Close()
	select {
	case err := <-done:
		if err != nil {
			res.Detail = joinDetail(res.Detail, "agent: "+err.Error())
		}
	case <-time.After(opts.AgentExit):
		cancel()
		res.Outcome = Failed
		res.Detail = joinDetail(res.Detail, fmt.Sprintf("FAILED: client agent did not return within %v after the connection ended", opts.AgentExit))
		select {
		case <-done:
		case <-time.After(opts.AgentExit):
		}
	}
	return res
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// acceptFor accepts the next connection until deadline.
func acceptFor(ln *net.TCPListener, resource string, deadline time.Time) (net.Conn, error) {
	ln.SetDeadline(deadline)
	defer ln.SetDeadline(time.Time{})
	conn, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("client did not connect for %s: %v", resource, err)
	}
	return conn, nil
}

// AcceptClient reads the client's opening handshake and, unless the case
// is Raw, validates it, answers 101 and starts the frame reader. It
// reports whether the case should continue.
func (t *T) AcceptClient() bool {
	req, err := ReadRequest(t.br)
	if err != nil {
		t.Fail("reading the client's opening handshake: %v", err)
		return false
	}
	t.Req = req
	if t.c.Raw {
		return true
	}
	if err := req.Check(); err != nil {
		t.Fail("client's opening handshake: %v", err)
		return false
	}
	if ext := req.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Logf("client offered extensions %q; declined", ext)
	}
	t.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
	t.Start()
	return true
}

// ServeAutobahn serves external clients with Autobahn's fuzzing-server
// protocol: /getCaseCount answers the number of cases as a text message,
// /runCase?case=N&agent=A runs case N (1-based, or a case ID), and
// /updateReports?agent=A hands A's report to done. It serves connections
// one at a time until ctx ends or the listener fails.
func ServeAutobahn(ctx context.Context, ln net.Listener, cases []*Case, opts Options, progress Progress, done func(*Report)) error {
	opts = opts.withDefaults()
	reports := map[string]*Report{}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		serveOne(conn, cases, opts, reports, progress, done)
	}
}

func serveOne(conn net.Conn, cases []*Case, opts Options, reports map[string]*Report, progress Progress, done func(*Report)) {
	defer conn.Close()
	control := &Case{ID: "control", Run: func(*T) {}}
	br := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(opts.Timeout))
	req, err := ReadRequest(br)
	if err != nil {
		return
	}
	u, err := url.Parse(req.Target)
	if err != nil {
		return
	}
	agent := u.Query().Get("agent")
	if agent == "" {
		agent = "client"
	}
	rep := reports[agent]
	if rep == nil {
		rep = &Report{Agent: agent, Mode: ModeClient.String(), Full: opts.Full, Started: time.Now()}
		reports[agent] = rep
	}
	switch u.Path {
	case "/getCaseCount":
		t := newT(control, ModeClient, opts, conn)
		t.br = br
		t.Req = req
		t.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
		t.Start()
		t.Send(Text([]byte(strconv.Itoa(len(cases)))))
		t.CloseNormal()
	case "/runCase":
		c := pickCase(cases, u.Query().Get("case"))
		if c == nil {
			conn.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		t := newT(c, ModeClient, opts, conn)
		t.br = br
		t.resource = req.Target
		res := runCase(t, func() {
			t.Req = req
			if !c.Raw {
				if err := req.Check(); err != nil {
					t.Fail("client's opening handshake: %v", err)
					return
				}
				t.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
				t.Start()
			}
			c.Run(t)
		})
		rep.Results = append(rep.Results, res)
		if progress != nil {
			progress(res)
		}
	case "/updateReports":
		t := newT(control, ModeClient, opts, conn)
		t.br = br
		t.Write(UpgradeResponse(req.Header.Get("Sec-WebSocket-Key")))
		t.Start()
		t.CloseNormal()
		rep.Elapsed = time.Since(rep.Started).Seconds()
		rep.Finish()
		if done != nil {
			done(rep)
		}
		delete(reports, agent)
	default:
		conn.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
	}
}

func pickCase(cases []*Case, sel string) *Case {
	if n, err := strconv.Atoi(sel); err == nil && !strings.Contains(sel, ".") {
		if n >= 1 && n <= len(cases) {
			return cases[n-1]
		}
		return nil
	}
	for _, c := range cases {
		if c.ID == sel {
			return c
		}
	}
	return nil
}

// ErrNoCases is returned when a filter selects nothing.
var ErrNoCases = errors.New("no cases selected")
