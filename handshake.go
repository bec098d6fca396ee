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

// fields iterates over the header fields of a head (after its first line)
// and reports whether they are well-formed through the blank line that
// ends the head (scanFields).
func fields(head []byte, f func(name, value []byte) bool) bool {
	return scanFields(head, f) > 0
}

// scanFields iterates over the header fields at the start of b, the bytes
// after a head's first line, up to the blank line that ends the head, and
// returns the length through that line. It is one pass: the name is
// checked byte by byte up to its colon, and the check of the value,
// eight bytes at a time, stops at its CR, which ends the line. It
// returns 0 if b ends before the blank line and -1 for a malformed field:
// a line without a colon or ending in a bare LF, obsolete folding, a
// field name that is not a token (white space before the colon
// included), or a value holding control characters other than HTAB
// (RFC 7230 §3.2, §3.2.4), as net/http refuses them. f returns false to
// stop early (the length is then that of the fields seen).
func scanFields(b []byte, f func(name, value []byte) bool) int {
	at := 0
	for at < len(b) {
		if b[at] == '\r' {
			switch {
			case at+1 == len(b):
				return 0
			case b[at+1] != '\n':
				return -1
			}
			return at + 2
		}
		colon := at
		for colon < len(b) && tokenChar[b[colon]] {
			colon++
		}
		switch {
		case colon == len(b):
			return 0
		case colon == at || b[colon] != ':':
			return -1 // folding, an empty name, no colon, a bad name byte
		}
		cr := colon + 1 + ctlIndex(b[colon+1:])
		switch {
		case cr+1 >= len(b):
			return 0
		case b[cr] != '\r' || b[cr+1] != '\n':
			return -1
		}
		name, value := b[at:colon], trimOWS(b[colon+1:cr])
		at = cr + 2
		if !f(name, value) {
			return at
		}
	}
	return 0
}

// ctlIndex returns the index of the first control character other than
// HTAB in b (a byte below 0x20, or 0x7f), or len(b): eight bytes at a
// time, a word holding one (SWAR "has less than" and "has zero") is
// looked at byte by byte.
func ctlIndex(b []byte) int {
	i := 0
	for i < len(b) {
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			d := x ^ 0x7f7f7f7f7f7f7f7f
			if ((x-0x2020202020202020)&^x|(d-0x0101010101010101)&^d)&0x8080808080808080 == 0 {
				i += 8
				continue
			}
		}
		for end := min(i+8, len(b)); i < end; i++ {
			if c := b[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return i
			}
		}
	}
	return len(b)
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
// compared without regard to ASCII case (RFC 7230 §7, §6.7); token is
// lower-case letters only (foldIs).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if foldIs(trimOWS(t), token) {
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

// foldIs reports whether b equals lower without regard to ASCII case,
// eight bytes at a time. lower holds lower-case letters, digits and '-';
// b holds no control characters (a token, a checked field value), so
// that setting bit 0x20 of each byte of b folds only its letters.
func foldIs(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])|0x2020202020202020 != load64(lower[i:]) {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// load64 reads the first eight bytes of s as a little-endian word.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
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

// parseRequest parses an upgrade request head (RFC 6455 §4.2.1), through
// its blank line. It returns false if the head is not well-formed HTTP.
func parseRequest(head []byte, r *request) bool {
	n := scanRequest(head, r)
	return n > 0 && n == len(head)
}

// scanRequest parses the upgrade request at the start of b in one pass,
// which also finds where its head ends, and returns the head's length: 0
// if b ends before the head does, -1 if it is not well-formed HTTP (the
// fields are scanFields'). Only the fields the handshake uses are looked
// at, each name compared once (field), and r keeps slices of b, no
// strings.
func scanRequest(b []byte, r *request) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0
	}
	if i < 1 || b[i-1] != '\r' {
		return -1
	}
	line := b[:i-1]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return -1
	}
	r.method, r.target, r.proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !validToken(r.method) || !validTarget(r.target) || !bytes.HasPrefix(r.proto, []byte("HTTP/")) {
		return -1
	}
	n := scanFields(b[i+1:], func(name, v []byte) bool {
		r.field(name, v)
		return true
	})
	if n <= 0 {
		return n
	}
	r.head = b[:i+1+n]
	return len(r.head)
}

// field records a request field the handshake uses: the length of the
// name picks the one or two names it can be.
func (r *request) field(name, v []byte) {
	switch len(name) {
	case 4:
		if foldIs(name, "host") {
			r.host = v
			r.hosts++
		}
	case 6:
		if foldIs(name, "origin") {
			r.origin = v
		}
	case 7:
		if foldIs(name, "upgrade") {
			r.upgrade = r.upgrade || hasToken(v, "websocket")
		}
	case 10:
		if foldIs(name, "connection") {
			r.connection = r.connection || hasToken(v, "upgrade")
		}
	case 14:
		if foldIs(name, "content-length") {
			r.body = r.body || !zeroLength(v)
		}
	case 17:
		if foldIs(name, "sec-websocket-key") {
			r.key = v
			r.keys++
		} else if foldIs(name, "transfer-encoding") {
			r.body = true
		}
	case 21:
		if foldIs(name, "sec-websocket-version") {
			r.version = v
		}
	case 22:
		if foldIs(name, "sec-websocket-protocol") {
			r.protocols.add(v)
		}
	case 24:
		if foldIs(name, "sec-websocket-extensions") {
			r.extensions.add(v)
		}
	}
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
// time (ctlIndex).
func validValueBytes(b []byte) bool {
	return ctlIndex(b) == len(b)
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
