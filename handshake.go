package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// The HTTP/1.1 upgrade (RFC 6455 §4), written and parsed over the
// connection's own buffers. Parsing is pure: it works on the bytes of a
// complete head.

// headEnd returns the length of the HTTP head at the start of b, through
// its blank line, or -1 if b does not hold all of it yet.
func headEnd(b []byte) int {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return -1
	}
	return i + 4
}

// fields iterates over the header fields of a head (after its first line).
// f returns false to stop. It fails on a line without a colon, with
// obsolete folding, with a field name that is not a token (white space
// before the colon included), or with a value holding control characters
// other than HTAB, CR and LF above all (RFC 7230 §3.2, §3.2.4), as
// net/http does.
func fields(head []byte, f func(name, value []byte) bool) bool {
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 1 || head[i-1] != '\r' {
			return false // no line end, or a bare LF
		}
		line := head[:i-1]
		head = head[i+1:]
		if len(line) == 0 {
			return true
		}
		if line[0] == ' ' || line[0] == '\t' {
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validToken(line[:colon]) || !validValueBytes(line[colon+1:]) {
			return false
		}
		if !f(line[:colon], trimOWS(line[colon+1:])) {
			return true
		}
	}
	return false
}

// trimOWS removes the optional white space around a field value or list
// element (RFC 7230 §3.2.3).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v contains token,
// compared without regard to ASCII case (RFC 7230 §7, §6.7).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if strings.EqualFold(string(trimOWS(t)), token) {
			return true
		}
	}
	return false
}

// nameIs compares a field name with want without regard to ASCII case;
// lengths are compared first, which settles almost every comparison.
func nameIs(name []byte, want string) bool {
	return len(name) == len(want) && strings.EqualFold(string(name), want)
}

// request is what a server needs from a client's upgrade request.
type request struct {
	method, target, proto []byte
	host, origin, key     []byte
	version               []byte
	upgrade, connection   bool
	body                  bool // a body is declared (Content-Length, Transfer-Encoding)
	loopback              bool // the connection came in on a loopback address
	keys, hosts           int
	protocols             fieldValues // Sec-WebSocket-Protocol values, in order
	extensions            fieldValues // Sec-WebSocket-Extensions values, in order
	head                  []byte
}

// fieldValues are the values of a repeatable header field, in order. The
// first ones are kept inline, so that parsing a request whose fields
// appear once or twice allocates nothing.
type fieldValues struct {
	n      int
	inline [2][]byte
	more   [][]byte // the values after the inline ones
}

func (f *fieldValues) add(v []byte) {
	if f.n < len(f.inline) {
		f.inline[f.n] = v
	} else {
		f.more = append(f.more, v)
	}
	f.n++
}

// list returns the values; it allocates only past the inline ones.
func (f *fieldValues) list() [][]byte {
	if f.n <= len(f.inline) {
		return f.inline[:f.n:f.n]
	}
	return append(f.inline[:len(f.inline):len(f.inline)], f.more...)
}

// parseRequest parses an upgrade request head (RFC 6455 §4.2.1). It
// returns false if the head is not well-formed HTTP.
func parseRequest(head []byte, r *request) bool {
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return false
	}
	line := head[:i]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return false
	}
	r.method, r.target, r.proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !validToken(r.method) || !validTarget(r.target) || !bytes.HasPrefix(r.proto, []byte("HTTP/")) {
		return false
	}
	r.head = head
	return fields(head[i+2:], func(name, v []byte) bool {
		switch {
		case nameIs(name, "Host"):
			r.host = v
			r.hosts++
		case nameIs(name, "Upgrade"):
			r.upgrade = r.upgrade || hasToken(v, "websocket")
		case nameIs(name, "Connection"):
			r.connection = r.connection || hasToken(v, "upgrade")
		case nameIs(name, "Sec-WebSocket-Key"):
			r.key = v
			r.keys++
		case nameIs(name, "Sec-WebSocket-Version"):
			r.version = v
		case nameIs(name, "Origin"):
			r.origin = v
		case nameIs(name, "Sec-WebSocket-Protocol"):
			r.protocols.add(v)
		case nameIs(name, "Sec-WebSocket-Extensions"):
			r.extensions.add(v)
		case nameIs(name, "Content-Length"):
			r.body = r.body || !zeroLength(v)
		case nameIs(name, "Transfer-Encoding"):
			r.body = true
		}
		return true
	})
}

// zeroLength reports whether a Content-Length value is 0: one or more
// zero digits (RFC 7230 §3.3.2). Anything else, malformed values included,
// declares a body.
func zeroLength(v []byte) bool {
	for _, c := range v {
		if c != '0' {
			return false
		}
	}
	return len(v) > 0
}

// refusal is an HTTP error answer to a failed upgrade.
type refusal struct {
	status int
	why    string
	extra  string // more header lines, each ending in CRLF
}

func (r *refusal) Error() string { return "handshake refused: " + r.why }

// checkRequest applies RFC 6455 §4.2.1 to a parsed request; cfg may be nil.
func checkRequest(r *request, cfg *Config) *refusal {
	if ref := checkUpgrade(r); ref != nil {
		return ref
	}
	if ref := checkHost(cfg, r); ref != nil {
		return ref
	}
	return checkOrigin(cfg, r.origin, r.host, r.httpRequest)
}

// checkUpgrade applies the checks of RFC 6455 §4.2.1 that do not depend on
// the configuration.
func checkUpgrade(r *request) *refusal {
	switch {
	case string(r.method) != "GET":
		return &refusal{http.StatusMethodNotAllowed, "method is not GET", "Allow: GET\r\n"}
	case string(r.proto) != "HTTP/1.1":
		return &refusal{http.StatusBadRequest, "protocol is not HTTP/1.1", ""}
	case r.body:
		// What follows the head would be read as frames (request
		// smuggling); a GET body has no meaning (RFC 7231 §4.3.1).
		return &refusal{http.StatusBadRequest, "upgrade request declares a body", ""}
	case r.hosts != 1 || len(r.host) == 0:
		return &refusal{http.StatusBadRequest, "missing or repeated Host", ""}
	case !r.upgrade:
		return &refusal{http.StatusBadRequest, "Upgrade lacks websocket", ""}
	case !r.connection:
		return &refusal{http.StatusBadRequest, "Connection lacks upgrade", ""}
	case string(r.version) != "13":
		return &refusal{http.StatusUpgradeRequired, "Sec-WebSocket-Version is not 13", "Sec-WebSocket-Version: 13\r\n"}
	case r.keys != 1 || !validKey(r.key):
		return &refusal{http.StatusBadRequest, "missing or invalid Sec-WebSocket-Key", ""}
	}
	return nil
}

// response is what a client needs from the server's answer.
type response struct {
	status     []byte
	code       int
	upgrade    bool
	connection bool
	accept     []byte
	accepts    int
	protocol   []byte
	protocols  int
	extensions bool
	extValues  [][]byte
	location   []byte
}

// parseResponse parses a response head (RFC 6455 §4.1, RFC 7230 §3.1.2).
func parseResponse(head []byte, r *response) bool {
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return false
	}
	line := head[:i]
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || len(line) < 12 {
		return false
	}
	r.status = line[9:]
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return false
		}
		code = code*10 + int(d-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return false
	}
	r.code = code
	return fields(head[i+2:], func(name, v []byte) bool {
		switch {
		case nameIs(name, "Upgrade"):
			r.upgrade = r.upgrade || hasToken(v, "websocket")
		case nameIs(name, "Connection"):
			r.connection = r.connection || hasToken(v, "upgrade")
		case nameIs(name, "Sec-WebSocket-Accept"):
			r.accept = v
			r.accepts++
		case nameIs(name, "Sec-WebSocket-Protocol"):
			r.protocol = v
			r.protocols++
		case nameIs(name, "Sec-WebSocket-Extensions"):
			r.extensions = r.extensions || len(v) > 0
			r.extValues = append(r.extValues, v)
		case nameIs(name, "Location"):
			r.location = v
		}
		return true
	})
}

// checkResponse applies RFC 6455 §4.1 (the client's checks of the
// server's answer) and returns the agreed subprotocol.
func checkResponse(r *response, key []byte, offered []string) (string, error) {
	switch {
	case r.code/100 == 3 && len(r.location) > 0:
		return "", errors.New("server answered " + peerText(r.status) + ", redirecting to " +
			strconv.Quote(string(r.location)) + "; redirects are not followed")
	case r.code != http.StatusSwitchingProtocols:
		return "", detail("server answered " + peerText(r.status))
	case !r.upgrade:
		return "", detail("response Upgrade lacks websocket")
	case !r.connection:
		return "", detail("response Connection lacks upgrade")
	case r.accepts != 1:
		return "", detail("missing or repeated Sec-WebSocket-Accept")
	case r.protocols > 1:
		return "", detail("repeated Sec-WebSocket-Protocol")
	}
	var want [28]byte
	acceptKey(&want, key)
	if string(r.accept) != string(want[:]) {
		return "", detail("wrong Sec-WebSocket-Accept")
	}
	if r.protocols == 0 {
		return "", nil
	}
	for _, p := range offered {
		if string(r.protocol) == p {
			return p, nil
		}
	}
	return "", detail("server chose a subprotocol that was not offered")
}

// validToken reports whether s is an HTTP token (RFC 7230 §3.2.6).
func validToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// tokenChar marks the bytes allowed in a token (RFC 7230 §3.2.6). It is
// never modified.
var tokenChar = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c)
	}
	return t
}()

// validFieldValue reports whether s can be sent in a request line or
// header field: no control characters (CR and LF above all).
func validFieldValue[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validValueBytes is validFieldValue for the parser, eight bytes at a
// time: a word holding a byte below 0x20 or equal to 0x7f (SWAR "has
// less than" and "has zero") is checked byte by byte.
func validValueBytes(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		d := x ^ 0x7f7f7f7f7f7f7f7f
		if ((x-0x2020202020202020)&^x|(d-0x0101010101010101)&^d)&0x8080808080808080 != 0 {
			break
		}
	}
	return validFieldValue(b[i:])
}

// appendRequest appends the head of an upgrade request for resource on
// host with key, offering the subprotocols offered and the extensions
// ext, with header's sendable fields (appendFields), without the blank
// line that ends the head.
func appendRequest(b []byte, resource, host string, key []byte, offered []string, ext string, header http.Header) []byte {
	b = append(b, "GET "...)
	b = append(b, resource...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	b = appendField(b, "Sec-WebSocket-Protocol", strings.Join(offered, ", "))
	b = appendField(b, "Sec-WebSocket-Extensions", ext)
	return appendFields(b, header)
}

// appendConnect appends the head of a CONNECT request to a proxy for a
// tunnel to addr (host:port), with Proxy-Authorization auth unless it is
// empty, through the blank line that ends the head.
func appendConnect(b []byte, addr, auth string) []byte {
	b = append(b, "CONNECT "...)
	b = append(b, addr...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, addr...)
	b = append(b, "\r\n"...)
	b = appendField(b, "Proxy-Authorization", auth)
	return append(b, "\r\n"...)
}

// appendField appends the field "name: value", unless value is empty.
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendSwitching appends the head of a 101 answer to a request with key
// that agrees on proto ("" for none), with cfg.Header's fields, without
// the blank line that ends the head.
func appendSwitching(b []byte, key []byte, proto, ext string, cfg *Config) []byte {
	var accept [28]byte
	acceptKey(&accept, key)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept[:]...)
	b = append(b, "\r\n"...)
	b = appendField(b, "Sec-WebSocket-Protocol", proto)
	b = appendField(b, "Sec-WebSocket-Extensions", ext)
	return appendHeader(b, cfg)
}

// appendRefusal appends the HTTP error answer to a failed upgrade, with a
// plain-text body giving the reason, and Connection: close.
func appendRefusal(b []byte, ref *refusal) []byte {
	body := ref.why + "\n"
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(ref.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(ref.status)...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	b = append(b, ref.extra...)
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// appendFields appends h's fields, skipping unsendable ones and those the
// handshake or HTTP's framing own (handshakeField).
func appendFields(b []byte, h http.Header) []byte {
	for name, vs := range h {
		if !validToken(name) || handshakeField(name) {
			continue
		}
		for _, v := range vs {
			if validFieldValue(v) {
				b = appendField(b, name, v)
			}
		}
	}
	return b
}

// handshakeField reports whether a field is one the handshake writes
// itself or that HTTP's framing owns, which Config.Header cannot set.
func handshakeField(name string) bool {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Accept",
		"Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
		"Content-Length", "Transfer-Encoding", "Keep-Alive", "Te", "Trailer":
		return true
	}
	return false
}
