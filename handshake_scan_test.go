package ws

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// refFields is the two-pass field iterator the one-pass scanFields
// replaced (line by IndexByte, then colon, name, value): the reference
// of FuzzScanRequest.
func refFields(head []byte, f func(name, value []byte)) bool {
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 1 || head[i-1] != '\r' {
			return false
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
		if colon <= 0 || !validToken(line[:colon]) || !validFieldValue(line[colon+1:]) {
			return false
		}
		f(line[:colon], trimOWS(line[colon+1:]))
	}
	return false
}

// refParseRequest is parseRequest as it was, with strings.EqualFold on
// every name: the reference of FuzzScanRequest.
func refParseRequest(head []byte, r *request) bool {
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return false
	}
	line := head[:i]
	if bytes.IndexByte(line, '\n') >= 0 {
		// A bare LF in the request line: the old parser let it through
		// to checkUpgrade's 400 (the protocol is not HTTP/1.1); the
		// one-pass parser refuses it as malformed, also 400.
		return false
	}
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
	is := func(name []byte, want string) bool { return strings.EqualFold(string(name), want) }
	tok := func(v []byte, token string) bool {
		for _, t := range strings.Split(string(v), ",") {
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
		return false
	}
	return refFields(head[i+2:], func(name, v []byte) {
		switch {
		case is(name, "Host"):
			r.host = v
			r.hosts++
		case is(name, "Upgrade"):
			r.upgrade = r.upgrade || tok(v, "websocket")
		case is(name, "Connection"):
			r.connection = r.connection || tok(v, "upgrade")
		case is(name, "Sec-WebSocket-Key"):
			r.key = v
			r.keys++
		case is(name, "Sec-WebSocket-Version"):
			r.version = v
		case is(name, "Origin"):
			r.origin = v
		case is(name, "Sec-WebSocket-Protocol"):
			r.protocols.add(v)
		case is(name, "Sec-WebSocket-Extensions"):
			r.extensions.add(v)
		case is(name, "Content-Length"):
			r.body = r.body || !zeroLength(v)
		case is(name, "Transfer-Encoding"):
			r.body = true
		}
	})
}

// FuzzScanRequest: the one-pass scanRequest agrees with the two-pass
// reference on every input: the same verdict, the same fields, and the
// head's end where the blank line is; on a cut head it asks for more
// bytes or refuses, and never reports a head.
func FuzzScanRequest(f *testing.F) {
	f.Add(hsHead("GET /chat HTTP/1.1", hsRFCRequest...), uint16(7))
	f.Add(hsRequest("GET / HTTP/1.1", "Connection: keep-alive, Upgrade", "+Origin: http://server.example.com"), uint16(30))
	f.Add(hsRequest("GET / HTTP/1.1", "+sec-websocket-KEY: AAAAAAAAAAAAAAAAAAAAAA==", "+Content-Length: 00"), uint16(0))
	f.Add(hsRequest("GET / HTTP/1.1", "+Transfer-Encoding: chunked", "+X: a\tb"), uint16(100))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nframes"), uint16(5))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\n\r\n"), uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\nHo st: a\r\n\r\n"), uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\nX: \x7f\r\n\r\n"), uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\r\n"), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		var got, want request
		n := scanRequest(b, &got)
		end := headEnd(b)
		ok := end >= 0 && refParseRequest(b[:end], &want)
		switch {
		case ok && n != end:
			t.Fatalf("%q: scanRequest %d, head ends at %d", b, n, end)
		case !ok && n > 0:
			t.Fatalf("%q: scanRequest %d, reference refuses", b, n)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
		}
		if ok {
			var r request
			if !parseRequest(b[:end], &r) || !reflect.DeepEqual(r, want) {
				t.Fatalf("%q: parseRequest disagrees", b)
			}
		}
		if k := int(cut) % (len(b) + 1); k < len(b) && (end < 0 || k < end) {
			var r request
			if m := scanRequest(b[:k], &r); m > 0 {
				t.Fatalf("%q cut at %d: scanRequest %d", b, k, m)
			}
		}
	})
}
