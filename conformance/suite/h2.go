package suite

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// The HTTP/2 transport (Options.HTTP2) carries every case over one
// RFC 8441 stream on an h2c connection instead of a TCP connection of its
// own. The cases do not change: they talk HTTP/1.1 and frames on a
// net.Conn (one end of a net.Pipe), and a shim translates the opening
// handshake at the other end:
//
//   - ModeServer: the shim reads the engine's HTTP/1.1 upgrade request and
//     sends it as an extended CONNECT (:protocol websocket) with the same
//     fields, less those RFC 8441 §5 drops (Upgrade, Connection,
//     Sec-WebSocket-Key). A 200 becomes "101 Switching Protocols" with the
//     Sec-WebSocket-Accept the engine expects (HTTP/2 has no key) and the
//     server's fields; any other status goes back as it came.
//   - ModeClient: the engine serves h2c (net/http, which needs
//     GODEBUG=http2xconnect=1 in the process). The shim checks that the
//     client sent CONNECT with :protocol websocket and no
//     Sec-WebSocket-Key, and hands the engine the equivalent HTTP/1.1
//     request; the engine's 101 becomes a 200 with its fields.
//
// Then the shim copies bytes both ways. The end of the engine's writing
// ends the stream (END_STREAM), the end of the peer's stream (END_STREAM
// or RST_STREAM) ends the engine's connection, as a FIN or a reset would.
// The Raw cases of section H, which test HTTP/1.1 handshake bytes, do not
// apply over HTTP/2 (Case.RunsOverHTTP2).

// xconnect is the switch net/http's HTTP/2 server needs for RFC 8441.
const xconnect = "http2xconnect=1"

// XConnectOn reports whether this process has GODEBUG=http2xconnect=1,
// which net/http reads at start-up: without it, its HTTP/2 server does
// not offer extended CONNECT.
func XConnectOn() bool { return strings.Contains(os.Getenv("GODEBUG"), xconnect) }

// RunsOverHTTP2 reports whether c runs over the HTTP/2 transport: every
// case but the Raw cases of section H, whose handshake bytes test
// HTTP/1.1 itself. (The Raw permessage-deflate cases send and answer
// ordinary upgrades with their own offers; the shim carries those.)
func (c *Case) RunsOverHTTP2() bool { return !c.Raw || !strings.HasPrefix(c.ID, "H.") }

// h2Transport is an x/net HTTP/2 client speaking h2c with prior knowledge.
func h2Transport() *http2.Transport {
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// hopFields are the request fields an HTTP/2 request does not carry
// (RFC 9113 §8.2.2) or RFC 8441 §5 replaces.
var hopFields = map[string]bool{
	"Host": true, "Upgrade": true, "Connection": true, "Sec-Websocket-Key": true,
	"Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true, "Te": true,
}

// dialH2 opens an HTTP/2 connection to addr and returns the engine's end
// of the case's connection; the shim runs until the stream ends or ctx
// ends.
func dialH2(ctx context.Context, addr string) (net.Conn, error) {
	engine, shim := net.Pipe()
	go shimServerMode(ctx, shim, addr)
	return engine, nil
}

func shimServerMode(ctx context.Context, shim net.Conn, addr string) {
	defer shim.Close()
	tr := h2Transport()
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	br := bufio.NewReaderSize(shim, 64<<10)
	req, err := ReadRequest(br)
	if err != nil {
		return
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	hr, err := http.NewRequestWithContext(ctx, http.MethodConnect, "http://"+addr+req.Target, pr)
	if err != nil {
		fmt.Fprintf(shim, "HTTP/1.1 599 Shim Error\r\nX-Shim-Error: %s\r\n\r\n", err)
		return
	}
	for k, vs := range req.Header {
		if !hopFields[k] {
			hr.Header[k] = vs
		}
	}
	hr.Header.Set(":protocol", "websocket")
	key := req.Header.Get("Sec-WebSocket-Key")
	resp, err := tr.RoundTrip(hr)
	if err != nil {
		fmt.Fprintf(shim, "HTTP/1.1 599 Shim Error\r\nX-Shim-Error: %s\r\n\r\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	defer resp.Body.Close()
	var head strings.Builder
	if resp.StatusCode == http.StatusOK {
		head.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
		fmt.Fprintf(&head, "Sec-WebSocket-Accept: %s\r\n", AcceptKey(key))
	} else {
		fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	writeFields(&head, resp.Header)
	head.WriteString("\r\n")
	if _, err := io.WriteString(shim, head.String()); err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	// Engine to server: the request body; its end is END_STREAM.
	go func() {
		_, err := io.Copy(pw, br)
		pw.CloseWithError(err)
	}()
	// Server to engine: the response body; its end closes the engine's
	// connection.
	io.Copy(shim, resp.Body)
}

// writeFields writes h as HTTP/1.1 field lines, sorted, without the
// fields an HTTP/1.1 101 must not repeat.
func writeFields(sb *strings.Builder, h http.Header) {
	for _, k := range sortedKeys(h) {
		switch k {
		case "Content-Length", "Date", "Upgrade", "Connection", "Sec-Websocket-Accept":
			continue
		}
		for _, v := range h[k] {
			fmt.Fprintf(sb, "%s: %s\r\n", k, v)
		}
	}
}

func sortedKeys(h http.Header) []string { return slices.Sorted(maps.Keys(h)) }

// h2Acceptor is the engine's h2c server of ModeClient: each extended
// CONNECT stream becomes a connection for the running case.
type h2Acceptor struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	wg    sync.WaitGroup
}

// errNoXConnect explains why ModeClient over HTTP/2 cannot run.
var errNoXConnect = errors.New("suite: the HTTP/2 transport's server needs GODEBUG=http2xconnect=1 in the process environment (net/http reads it at start-up)")

func newH2Acceptor(ln net.Listener) (*h2Acceptor, error) {
	if !XConnectOn() {
		return nil, errNoXConnect
	}
	a := &h2Acceptor{conns: make(chan net.Conn), done: make(chan struct{})}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.srv.Serve(ln)
	}()
	return a, nil
}

// accept returns the next stream's engine end, until deadline.
func (a *h2Acceptor) accept(resource string, deadline time.Time) (net.Conn, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c := <-a.conns:
		return c, nil
	case <-t.C:
		return nil, fmt.Errorf("client did not open an HTTP/2 stream for %s", resource)
	}
}

func (a *h2Acceptor) close() {
	close(a.done)
	a.srv.Close()
	a.wg.Wait()
}

// serve is one stream: it checks the RFC 8441 request, hands the engine
// its HTTP/1.1 equivalent and copies bytes until either side ends.
func (a *h2Acceptor) serve(w http.ResponseWriter, r *http.Request) {
	engine, shim := net.Pipe()
	defer shim.Close()
	select {
	case a.conns <- engine:
	case <-a.done:
		http.Error(w, "suite closing", http.StatusServiceUnavailable)
		return
	case <-time.After(10 * time.Second):
		http.Error(w, "no case waits for a stream", http.StatusServiceUnavailable)
		return
	}
	shim.SetDeadline(time.Now().Add(10 * time.Minute))
	// The request line says what was wrong with the HTTP/2 request, so
	// that ClientRequest.Check reports it.
	method, proto := "GET", "HTTP/1.1"
	if r.Method != http.MethodConnect {
		method = "HTTP2-" + r.Method
	}
	if r.ProtoMajor != 2 {
		proto = r.Proto
	}
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s %s\r\nHost: %s\r\n", method, r.URL.RequestURI(), proto, r.Host)
	if r.Header.Get(":protocol") == "websocket" {
		head.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	}
	if len(r.Header.Values("Sec-WebSocket-Key")) == 0 {
		fmt.Fprintf(&head, "Sec-WebSocket-Key: %s\r\n", NewKey())
	} // else: RFC 8441 §5 has no key; the copy below makes Check see it
	for _, k := range sortedKeys(r.Header) {
		if k == ":protocol" || k == "Upgrade" || k == "Connection" {
			continue
		}
		for _, v := range r.Header[k] {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(shim, head.String()); err != nil {
		return
	}
	br := bufio.NewReaderSize(shim, 64<<10)
	resp, err := ReadResponse(br)
	if err != nil {
		return
	}
	if resp.Status != http.StatusSwitchingProtocols {
		w.WriteHeader(resp.Status)
		return
	}
	for k, vs := range resp.Header {
		switch textproto.CanonicalMIMEHeaderKey(k) {
		case "Upgrade", "Connection", "Sec-Websocket-Accept":
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	// Client to engine: the request body; its end closes the engine's
	// connection.
	go func() {
		io.Copy(shim, r.Body)
		shim.Close()
	}()
	// Engine to client: flushed as it comes; the handler's return ends
	// the stream.
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil || rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// transport names the run's transport for its report.
func (o Options) transport() string {
	if o.HTTP2 {
		return "HTTP/2"
	}
	return ""
}
