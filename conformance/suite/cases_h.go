package suite

import (
	"fmt"
	"strings"
	"time"
)

// Section H (ours, not Autobahn's): the opening handshake.
// H.1 — a server must accept variants RFC 6455 §4.2.1 allows.
// H.2 — a server must refuse malformed requests with an HTTP error.
// H.3 — a client must accept valid answers and fail invalid ones (§4.1).

// httpReq is an HTTP request head under construction.
type httpReq struct {
	line   string
	fields []string
}

func (t *T) stdRequest() httpReq {
	t.Key = NewKey()
	return httpReq{
		line: "GET " + Resource(t.c.ID, "handshake") + " HTTP/1.1",
		fields: []string{"Host: " + t.Host(), "Upgrade: websocket", "Connection: Upgrade",
			"Sec-WebSocket-Key: " + t.Key, "Sec-WebSocket-Version: 13"},
	}
}

// set replaces the field named like f (or drops it when f is "Name:" alone).
func (r httpReq) set(f string) httpReq {
	name, val, _ := strings.Cut(f, ":")
	var out []string
	for _, old := range r.fields {
		n, _, _ := strings.Cut(old, ":")
		if !strings.EqualFold(n, name) {
			out = append(out, old)
		}
	}
	if strings.TrimSpace(val) != "" {
		out = append(out, f)
	}
	r.fields = out
	return r
}

func (r httpReq) bytes() []byte {
	return []byte(r.line + "\r\n" + strings.Join(r.fields, "\r\n") + "\r\n\r\n")
}

// acceptedEcho reads the server's response, requires a valid 101 and an
// echo of a text message.
func acceptedEcho(t *T, pipelined bool) {
	resp, err := ReadResponse(t.Reader())
	if err == nil {
		t.Resp = resp
		err = CheckUpgradeResponse(resp, t.Key, false)
	}
	if err != nil && pipelined {
		// RFC 6455 §4.1: the client MUST wait for the 101 before sending
		// more data, so a server may refuse what came early; tolerant
		// servers (the ones browsers-in-a-hurry need) echo it.
		t.NonStrict("server refused a frame sent before its 101: %v", err)
		return
	}
	if err != nil {
		t.Fail("server refused a valid handshake: %v", err)
		return
	}
	t.Start()
	if !pipelined {
		t.Send(Text(hello))
	}
	echoThenClose(t, WantText(hello))
}

// refused reads the server's answer to an invalid request. Any 4xx is OK
// unless preferred lists codes, in which case other 4xx are NON-STRICT.
// needVersion also requires a Sec-WebSocket-Version: 13 field.
func refused(t *T, needVersion bool, preferred ...int) {
	t.Conn().SetReadDeadline(t.Deadline())
	resp, err := ReadResponse(t.Reader())
	if err != nil {
		t.Fail("no HTTP response (RFC 6455 §4.2.1: the server must answer with an HTTP error): %v", err)
		return
	}
	t.Resp = resp
	switch s := resp.Status; {
	case s == 101:
		t.Fail("the server upgraded an invalid request")
		return
	case s >= 400 && s < 500:
		t.Logf("refused with %d", s)
		if len(preferred) > 0 && !containsInt(preferred, s) {
			t.NonStrict("%v is the expected status", preferred)
		}
	case s >= 500 && s < 600:
		t.NonStrict("refused with %d; a 4xx status is expected", s)
	default:
		t.Fail("answered %d instead of a 4xx error", s)
		return
	}
	if needVersion && !hasToken(resp.Header, "Sec-WebSocket-Version", "13") {
		t.Fail("no Sec-WebSocket-Version: 13 field in the refusal (RFC 6455 §4.2.2, §4.4)")
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func init() {
	registerServerHandshake()
	registerClientHandshake()
}

func registerServerHandshake() {
	accept := []struct {
		desc  string
		build func(t *T) httpReq
		chop  int
		pipe  bool
	}{
		{"field names in mixed case", func(t *T) httpReq {
			return httpReq{line: "GET / HTTP/1.1", fields: []string{"hOsT: " + t.Host(), "uPgRaDe: websocket",
				"cOnNeCtIoN: Upgrade", "sec-websocket-key: " + t.Key, "SEC-WEBSOCKET-VERSION: 13"}}
		}, 0, false},
		{"Upgrade and Connection values in other case (WebSocket, UPGRADE)", func(t *T) httpReq {
			return t.stdRequest().set("Upgrade: WebSocket").set("Connection: UPGRADE")
		}, 0, false},
		{"Connection: keep-alive, Upgrade (as Firefox sends)", func(t *T) httpReq {
			return t.stdRequest().set("Connection: keep-alive, Upgrade")
		}, 0, false},
		{"the request written one byte at a time", func(t *T) httpReq { return t.stdRequest() }, 1, false},
		{"the first frame in the same write as the request", func(t *T) httpReq { return t.stdRequest() }, 0, true},
		{"extra fields (Origin, User-Agent, Sec-WebSocket-Protocol not supported by the server)", func(t *T) httpReq {
			r := t.stdRequest()
			r.fields = append(r.fields, "Origin: http://"+t.Host(), "User-Agent: wsconform", "Sec-WebSocket-Protocol: x-unknown-protocol")
			return r
		}, 0, false},
		{"optional whitespace and tabs around field values (RFC 7230 §3.2)", func(t *T) httpReq {
			return t.stdRequest().set("Upgrade: \twebsocket  ").set("Connection:Upgrade\t").
				set("Sec-WebSocket-Key:   " + t.Key + " ").set("Sec-WebSocket-Version: 13 ")
		}, 0, false},
		{"the request target in absolute form (RFC 6455 §4.2.1: an absolute HTTP URI is allowed)", func(t *T) httpReq {
			r := t.stdRequest()
			r.line = "GET http://" + t.Host() + Resource(t.c.ID, "handshake") + " HTTP/1.1"
			return r
		}, 0, false},
		{"Connection split over two field lines (keep-alive, then Upgrade)", func(t *T) httpReq {
			r := t.stdRequest().set("Connection: keep-alive")
			r.fields = append(r.fields, "Connection: Upgrade")
			return r
		}, 0, false},
		{"a 4000-byte Cookie field", func(t *T) httpReq {
			r := t.stdRequest()
			r.fields = append(r.fields, "Cookie: c="+strings.Repeat("x", 3998))
			return r
		}, 0, false},
	}
	for i, a := range accept {
		a := a
		Register(&Case{
			ID: fmt.Sprintf("H.1.%d", i+1), Modes: ModeServer, Raw: true,
			Desc:   "Opening handshake with " + a.desc + ".",
			Expect: acceptExpectation(a.pipe),
			Run: func(t *T) {
				t.Key = NewKey()
				b := a.build(t).bytes()
				if a.pipe {
					b = append(b, t.Build(Text(hello))...)
				}
				t.WriteChopped(a.chop, b)
				acceptedEcho(t, a.pipe)
			},
		})
	}
	reject := []struct {
		desc        string
		build       func(t *T) httpReq
		needVersion bool
		preferred   []int
	}{
		{"no Upgrade field", func(t *T) httpReq { return t.stdRequest().set("Upgrade:") }, false, nil},
		{"no Connection field", func(t *T) httpReq { return t.stdRequest().set("Connection:") }, false, nil},
		{"no Sec-WebSocket-Key field", func(t *T) httpReq { return t.stdRequest().set("Sec-WebSocket-Key:") }, false, nil},
		{"no Host field", func(t *T) httpReq { return t.stdRequest().set("Host:") }, false, nil},
		{"a Sec-WebSocket-Key that is not base64 of 16 bytes", func(t *T) httpReq {
			return t.stdRequest().set("Sec-WebSocket-Key: dGhpcyBpcyBub3QgMTYgYnl0ZXM=")
		}, false, []int{400}},
		{"Sec-WebSocket-Version: 8", func(t *T) httpReq { return t.stdRequest().set("Sec-WebSocket-Version: 8") }, true, []int{426}},
		{"no Sec-WebSocket-Version field", func(t *T) httpReq { return t.stdRequest().set("Sec-WebSocket-Version:") }, false, nil},
		{"HTTP/1.0", func(t *T) httpReq {
			r := t.stdRequest()
			r.line = strings.Replace(r.line, "HTTP/1.1", "HTTP/1.0", 1)
			return r
		}, false, nil},
		{"method POST", func(t *T) httpReq {
			r := t.stdRequest()
			r.line = strings.Replace(r.line, "GET", "POST", 1)
			r.fields = append(r.fields, "Content-Length: 0")
			return r
		}, false, nil},
		{"Upgrade: h2c instead of websocket", func(t *T) httpReq { return t.stdRequest().set("Upgrade: h2c") }, false, nil},
	}
	for i, r := range reject {
		r := r
		Register(&Case{
			ID: fmt.Sprintf("H.2.%d", i+1), Modes: ModeServer, Raw: true,
			Desc:   "Opening handshake with " + r.desc + ".",
			Expect: refusalExpectation(r.needVersion, r.preferred),
			Run: func(t *T) {
				t.Write(r.build(t).bytes())
				refused(t, r.needVersion, r.preferred...)
			},
		})
	}
}

func acceptExpectation(pipe bool) string {
	s := "101 with a valid Sec-WebSocket-Accept; a text message is echoed."
	if pipe {
		s += " Refusing the early frame is NON-STRICT (RFC 6455 §4.1 forbids clients to send it)."
	}
	return s
}

func refusalExpectation(needVersion bool, preferred []int) string {
	s := "An HTTP 4xx error and no upgrade"
	if len(preferred) > 0 {
		s = fmt.Sprintf("HTTP %v (another 4xx is NON-STRICT) and no upgrade", preferred)
	}
	if needVersion {
		s += ", with a Sec-WebSocket-Version: 13 field"
	}
	return s + "."
}

// response builds a 101 answer to the client's key with the given fields.
func (t *T) response(status string, fields ...string) []byte {
	return []byte("HTTP/1.1 " + status + "\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n")
}

func (t *T) acceptField() string {
	return "Sec-WebSocket-Accept: " + AcceptKey(t.Req.Header.Get("Sec-WebSocket-Key"))
}

func registerClientHandshake() {
	Register(&Case{
		ID: "H.3.1", Modes: ModeClient, Raw: true,
		Desc:   "Check the client's opening handshake: GET, HTTP/1.1, Host, Upgrade, Connection, a base64 16-byte key, version 13, the requested resource.",
		Expect: "All present and valid; then a text message is echoed.",
		Run: func(t *T) {
			if err := t.Req.Check(); err != nil {
				t.Fail("%v", err)
				return
			}
			if !strings.HasPrefix(t.Req.Target, "/runCase?") {
				t.Fail("request target %q is not the resource the client was given", t.Req.Target)
			}
			t.Write(UpgradeResponse(t.Req.Header.Get("Sec-WebSocket-Key")))
			t.Start()
			t.Send(Text(hello))
			echoThenClose(t, WantText(hello))
		},
	})
	accept := []struct {
		desc string
		run  func(t *T)
		pipe bool
	}{
		{"field names and values in other case (uPgRaDe: WebSocket, connection: UPGRADE)", func(t *T) {
			t.Write(t.response("101 Switching Protocols", "uPgRaDe: WebSocket", "connection: UPGRADE", "sec-websocket-accept: "+AcceptKey(t.Req.Header.Get("Sec-WebSocket-Key"))))
		}, false},
		{"the response written one byte at a time", func(t *T) {
			t.WriteChopped(1, UpgradeResponse(t.Req.Header.Get("Sec-WebSocket-Key")))
		}, false},
		{"the first frame in the same write as the response", func(t *T) {
			b := UpgradeResponse(t.Req.Header.Get("Sec-WebSocket-Key"))
			t.Write(append(b, t.Build(Text(hello))...))
		}, true},
		{"another reason phrase (101 Web Socket Protocol Handshake) and whitespace around values", func(t *T) {
			t.Write(t.response("101 Web Socket Protocol Handshake", "Upgrade:\twebsocket ", "Connection:  Upgrade",
				"Sec-WebSocket-Accept:  "+AcceptKey(t.Req.Header.Get("Sec-WebSocket-Key"))+" "))
		}, false},
		{"extra fields, a 4000-byte Set-Cookie and Connection split over two lines", func(t *T) {
			t.Write(t.response("101 Switching Protocols", "Server: wsconform", "Upgrade: websocket", "Connection: keep-alive",
				"Connection: Upgrade", "Set-Cookie: c="+strings.Repeat("y", 3998), t.acceptField(), "Date: Tue, 01 Jan 2030 00:00:00 GMT"))
		}, false},
	}
	for i, a := range accept {
		a := a
		Register(&Case{
			ID: fmt.Sprintf("H.3.%d", i+2), Modes: ModeClient, Raw: true,
			Desc:   "Answer the client's handshake with " + a.desc + ".",
			Expect: "The client accepts; a text message is echoed.",
			Run: func(t *T) {
				a.run(t)
				t.Start()
				if !a.pipe {
					t.Send(Text(hello))
				}
				echoThenClose(t, WantText(hello))
			},
		})
	}
	reject := []struct {
		desc   string
		fields func(t *T) []byte
	}{
		{"a wrong Sec-WebSocket-Accept", func(t *T) []byte {
			return t.response("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: "+AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
		}},
		{"status 200 instead of 101", func(t *T) []byte {
			return t.response("200 OK", "Upgrade: websocket", "Connection: Upgrade", t.acceptField(), "Content-Length: 0")
		}},
		{"no Upgrade field", func(t *T) []byte {
			return t.response("101 Switching Protocols", "Connection: Upgrade", t.acceptField())
		}},
		{"no Sec-WebSocket-Accept field", func(t *T) []byte {
			return t.response("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade")
		}},
		{"a Sec-WebSocket-Protocol the client did not offer", func(t *T) []byte {
			return t.response("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", t.acceptField(), "Sec-WebSocket-Protocol: x-never-offered")
		}},
		{"a Sec-WebSocket-Extensions the client did not offer", func(t *T) []byte {
			return t.response("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", t.acceptField(), "Sec-WebSocket-Extensions: x-never-offered")
		}},
	}
	for i, r := range reject {
		r := r
		Register(&Case{
			ID: fmt.Sprintf("H.4.%d", i+1), Modes: ModeClient, Raw: true,
			Desc:   "Answer the client's handshake with " + r.desc + ", then send a text message.",
			Expect: "The client fails the connection (closes TCP) without sending any frame (RFC 6455 §4.1).",
			Run: func(t *T) {
				t.Write(r.fields(t))
				t.Start()
				t.Send(Text(hello))
				clientDrops(t)
			},
		})
	}
}

// clientDrops requires the client to close TCP without sending frames.
func clientDrops(t *T) {
	ev, ok := t.next(time.Time{})
	switch {
	case !ok:
		t.Fail("the client did not fail the connection")
	case ev.Kind == EvEOF:
		t.Logf("client closed TCP")
	case ev.Kind == EvClose:
		t.NonStrict("the client sent %s although the connection was never established (RFC 6455 §4.1: fail the connection)", ev)
	default:
		t.Fail("the client went on after an invalid handshake: %s", ev)
	}
}
