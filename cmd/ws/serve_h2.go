package main

import (
	"net/http"
	"os"
	"strings"
)

// HTTP/2 for ws serve: over TLS "h2" is offered by ALPN; --h2c adds
// HTTP/2 with prior knowledge on plain TCP. net/http hands WebSockets
// over HTTP/2 (RFC 8441) to the handler only in a process started with
// GODEBUG=http2xconnect=1; without it browsers use HTTP/1.1 for them.

func xconnect() bool { return strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") }

// h2Protocols sets the protocols of hs for --h2c.
func (s *server) h2Protocols(hs *http.Server) {
	if s.o.h2c && s.tls == nil {
		hs.Protocols = new(http.Protocols)
		hs.Protocols.SetHTTP1(true)
		hs.Protocols.SetUnencryptedHTTP2(true)
	}
}

// h2Note says whether WebSockets are served over HTTP/2, and why not.
func (s *server) h2Note() string {
	if s.o.nohttp || s.tls == nil && !s.o.h2c {
		return ""
	}
	if !xconnect() {
		return "HTTP/2 WebSockets off: net/http accepts them (RFC 8441) only when started with GODEBUG=http2xconnect=1; HTTP/1.1 WebSockets are served"
	}
	how := "h2 by ALPN"
	if s.tls == nil {
		how = "h2c, prior knowledge"
	}
	return "HTTP/2 WebSockets on (RFC 8441, " + how + "): ws dial --http2"
}

// h2WebSocket reports an RFC 8441 request: CONNECT with :protocol websocket.
func h2WebSocket(r *http.Request) bool {
	return r.Method == http.MethodConnect && strings.EqualFold(r.Header.Get(":protocol"), "websocket")
}
