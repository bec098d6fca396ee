package ws

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The RFC's own example key and accept value (RFC 6455 §1.3, §4.2.2).
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// hsHead joins a first line and field lines into an HTTP head.
func hsHead(first string, fields ...string) []byte {
	var b strings.Builder
	b.WriteString(first)
	b.WriteString("\r\n")
	for _, f := range fields {
		b.WriteString(f)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// hsRFCRequest is the opening handshake of RFC 6455 §1.2.
var hsRFCRequest = []string{
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: " + rfcKey,
	"Origin: http://example.com",
	"Sec-WebSocket-Protocol: chat, superchat",
	"Sec-WebSocket-Version: 13",
}

// hsRequest is a minimal valid request with fields replaced or added:
// "Name: value" replaces the field of that name ("Name:" alone drops it),
// "+Name: value" adds a field.
func hsRequest(first string, edits ...string) []byte {
	fields := []string{
		"Host: server.example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + rfcKey,
		"Sec-WebSocket-Version: 13",
	}
	return hsHead(first, hsEdit(fields, edits)...)
}

func hsEdit(fields []string, edits []string) []string {
	fields = append([]string(nil), fields...)
	for _, e := range edits {
		if add, ok := strings.CutPrefix(e, "+"); ok {
			fields = append(fields, add)
			continue
		}
		name, value, _ := strings.Cut(e, ":")
		found := false
		for i, f := range fields {
			if n, _, _ := strings.Cut(f, ":"); strings.EqualFold(n, name) {
				if value == "" {
					fields = append(fields[:i], fields[i+1:]...)
				} else {
					fields[i] = e
				}
				found = true
				break
			}
		}
		if !found && value != "" {
			fields = append(fields, e)
		}
	}
	return fields
}

func TestResponseKey_RFC6455_4_2_2(t *testing.T) {
	got, err := ResponseKey(rfcKey)
	if err != nil || got != rfcAccept {
		t.Fatalf("ResponseKey(%q) = %q, %v; want %q", rfcKey, got, err, rfcAccept)
	}
	for _, k := range []string{
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",   // 23 characters
		"dGhlIHNhbXBsZSBub25jZQ===", // 25 characters
		"dGhlIHNhbXBsZSBub25jZR==",  // non-zero padding bits
		"AAAAAAAAAAAAAAAAAAAAAAAA",  // 18 bytes
		"dGhlIHNhbXBsZSBub25jZQ!!",
		"dGhlIHNhbXBsZSBub25jZ Q=",
		"dGhlIHNhbXBsZSBub25jZQ\r\n", // base64 decoders skip newlines
		"dGhlIHNhbXBsZSBub25j\nZQ==",
		"dGhlIHNhbXBsZSBub25jZQ-_", // URL alphabet
	} {
		if a, err := ResponseKey(k); err == nil || !errors.Is(err, ErrProto) {
			t.Errorf("ResponseKey(%q) = %q, %v; want ErrProto", k, a, err)
		}
	}
}

func TestRequestKey_RFC6455_4_1(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		k, err := RequestKey()
		if err != nil {
			t.Fatal(err)
		}
		if !validKey([]byte(k)) {
			t.Fatalf("RequestKey() = %q, not a base64 16-byte nonce", k)
		}
		if seen[k] {
			t.Fatalf("RequestKey() repeated %q", k)
		}
		seen[k] = true
		if _, err := ResponseKey(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHeadEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\n\r", -1},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\r\n\r\nframe", 18},
		{"GET / HTTP/1.1\n\n", -1},
	} {
		if got := headEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("headEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseRequest_RFC6455_4_2_1(t *testing.T) {
	var r request
	head := hsHead("GET /chat HTTP/1.1", hsRFCRequest...)
	if !parseRequest(head, &r) {
		t.Fatal("the RFC's request is malformed")
	}
	for _, c := range []struct{ name, got, want string }{
		{"method", string(r.method), "GET"},
		{"target", string(r.target), "/chat"},
		{"proto", string(r.proto), "HTTP/1.1"},
		{"host", string(r.host), "server.example.com"},
		{"origin", string(r.origin), "http://example.com"},
		{"key", string(r.key), rfcKey},
		{"version", string(r.version), "13"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !r.upgrade || !r.connection || r.keys != 1 || r.hosts != 1 {
		t.Errorf("upgrade %v connection %v keys %d hosts %d", r.upgrade, r.connection, r.keys, r.hosts)
	}
	if ps := r.protocols.list(); len(ps) != 1 || string(ps[0]) != "chat, superchat" {
		t.Errorf("protocols = %q", r.protocols.list())
	}
	// The RFC's Origin is not the Host: accepted only by a CheckOrigin.
	if ref := checkRequest(&r, nil); ref == nil || ref.status != http.StatusForbidden {
		t.Errorf("checkRequest(nil) = %v, want 403", ref)
	}
	allow := &Config{CheckOrigin: func(*http.Request) bool { return true }}
	if ref := checkRequest(&r, allow); ref != nil {
		t.Errorf("checkRequest: %v", ref)
	}

	// Repeated fields: protocols in order, hosts and keys counted.
	r = request{}
	head = hsRequest("GET / HTTP/1.1", "+Sec-WebSocket-Protocol: a", "+sec-websocket-protocol:b,c", "+Host: other")
	if !parseRequest(head, &r) {
		t.Fatal("malformed")
	}
	if ps := r.protocols.list(); len(ps) != 2 || string(ps[0]) != "a" || string(ps[1]) != "b,c" || r.hosts != 2 {
		t.Errorf("protocols %q hosts %d", r.protocols.list(), r.hosts)
	}

	// Bytes over 0x7F pass in targets, as with net/http.
	r = request{}
	if !parseRequest(hsRequest("GET /caf\xc3\xa9?q=%20 HTTP/1.1"), &r) || string(r.target) != "/caf\xc3\xa9?q=%20" {
		t.Errorf("target %q", r.target)
	}

	// Obsolete text (bytes over 0x7F) and tabs are allowed in values.
	r = request{}
	if !parseRequest(hsRequest("GET / HTTP/1.1", "+X-Name: caf\xc3\xa9\tau lait"), &r) {
		t.Error("obs-text value refused")
	}

	// Optional white space around values (RFC 7230 §3.2).
	r = request{}
	if !parseRequest(hsRequest("GET / HTTP/1.1", "Host:  \t example.org \t"), &r) || string(r.host) != "example.org" {
		t.Errorf("host %q", r.host)
	}

	malformed := []struct {
		name string
		head []byte
	}{
		{"empty", nil},
		{"no line end", []byte("GET / HTTP/1.1")},
		{"no blank line", []byte("GET / HTTP/1.1\r\nHost: a\r\n")},
		{"two-part request line", hsRequest("GET /")},
		{"empty target", hsRequest("GET  HTTP/1.1")},
		{"space in target", hsRequest("GET /a b HTTP/1.1")},
		// RFC 7230 §3.1.1: method = token; the target is visible ASCII.
		{"tab in target", hsRequest("GET /a\tb HTTP/1.1")},
		{"bare CR in target", hsRequest("GET /a\rb HTTP/1.1")},
		{"bare LF in target", hsRequest("GET /a\nb HTTP/1.1")},
		{"NUL in target", hsRequest("GET /a\x00b HTTP/1.1")},
		{"DEL in target", hsRequest("GET /a\x7fb HTTP/1.1")},
		{"method not a token", hsRequest("G(T / HTTP/1.1")},
		{"tab after method", hsRequest("GET\t/ HTTP/1.1")},
		{"leading space", hsRequest(" GET / HTTP/1.1")},
		{"not HTTP", hsRequest("GET / FTP/1.1")},
		{"field without colon", hsRequest("GET / HTTP/1.1", "+Upgrade websocket")},
		{"empty field name", hsRequest("GET / HTTP/1.1", "+: x")},
		{"space before colon", hsRequest("GET / HTTP/1.1", "+Upgrade : websocket")},
		{"tab before colon", hsRequest("GET / HTTP/1.1", "+Upgrade\t: websocket")},
		{"obsolete folding", hsRequest("GET / HTTP/1.1", "+X: a", "+ b")},
		{"bare LF line ends", []byte("GET / HTTP/1.1\nHost: a\n\n")},
		// RFC 7230 §3.2: field-name = token, field-value without CTLs.
		{"space in field name", hsRequest("GET / HTTP/1.1", "+X Y: z")},
		{"separator in field name", hsRequest("GET / HTTP/1.1", "+X(Y): z")},
		{"non-ASCII field name", hsRequest("GET / HTTP/1.1", "+X\xc3\xa9: z")},
		{"NUL in field name", hsRequest("GET / HTTP/1.1", "+Host\x00: z")},
		{"bare LF in value", hsRequest("GET / HTTP/1.1", "+X: a\nHost: evil")},
		{"bare CR in value", hsRequest("GET / HTTP/1.1", "+X: a\rb")},
		{"NUL in value", hsRequest("GET / HTTP/1.1", "+X: a\x00b")},
		{"DEL in value", hsRequest("GET / HTTP/1.1", "+X: a\x7fb")},
		{"bare LF in key", hsRequest("GET / HTTP/1.1", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\nZQ==")},
	}
	for _, tt := range malformed {
		var r request
		if parseRequest(tt.head, &r) {
			t.Errorf("%s: %q parsed", tt.name, tt.head)
		}
	}
}

func TestCheckRequest_RFC6455_4_2_1(t *testing.T) {
	const get = "GET /chat HTTP/1.1"
	tests := []struct {
		name   string
		first  string
		edits  []string
		cfg    *Config
		status int // 0: accepted
		extra  string
	}{
		{"minimal", get, nil, nil, 0, ""},
		{"absolute target", "GET ws://server.example.com/chat HTTP/1.1", nil, nil, 0, ""},
		// Method and version of the request line.
		{"POST", "POST /chat HTTP/1.1", nil, nil, 405, "Allow: GET\r\n"},
		{"lowercase get", "get /chat HTTP/1.1", nil, nil, 405, "Allow: GET\r\n"},
		{"HTTP/1.0", "GET /chat HTTP/1.0", nil, nil, 400, ""},
		{"HTTP/2.0", "GET /chat HTTP/2.0", nil, nil, 400, ""},
		// Host.
		{"no Host", get, []string{"Host:"}, nil, 400, ""},
		{"two Hosts", get, []string{"+Host: b"}, nil, 400, ""},
		{"empty Host", get, []string{"Host:", "+Host:  "}, nil, 400, ""},
		// Upgrade, case-insensitive names and tokens.
		{"no Upgrade", get, []string{"Upgrade:"}, nil, 400, ""},
		{"Upgrade h2c", get, []string{"Upgrade: h2c"}, nil, 400, ""},
		{"Upgrade WebSocket", get, []string{"Upgrade: WebSocket"}, nil, 0, ""},
		{"upgrade: WEBSOCKET", get, []string{"Upgrade:", "+upgrade: WEBSOCKET"}, nil, 0, ""},
		{"Upgrade list", get, []string{"Upgrade: h2c, websocket"}, nil, 0, ""},
		{"Upgrade websocketx", get, []string{"Upgrade: websocketx"}, nil, 400, ""},
		// Connection.
		{"no Connection", get, []string{"Connection:"}, nil, 400, ""},
		{"Connection keep-alive", get, []string{"Connection: keep-alive"}, nil, 400, ""},
		{"Connection keep-alive, Upgrade", get, []string{"Connection: keep-alive, Upgrade"}, nil, 0, ""},
		{"CONNECTION: UPGRADE", get, []string{"Connection:", "+CONNECTION: UPGRADE"}, nil, 0, ""},
		{"Connection in two fields", get, []string{"Connection: keep-alive", "+Connection: upgrade"}, nil, 0, ""},
		{"Connection upgrades", get, []string{"Connection: upgrades"}, nil, 400, ""},
		// Version: 426 with the version we speak (§4.2.2 item 4, §4.4).
		{"no version", get, []string{"Sec-WebSocket-Version:"}, nil, 426, "Sec-WebSocket-Version: 13\r\n"},
		{"version 8", get, []string{"Sec-WebSocket-Version: 8"}, nil, 426, "Sec-WebSocket-Version: 13\r\n"},
		{"version 13, 8", get, []string{"Sec-WebSocket-Version: 13, 8"}, nil, 426, "Sec-WebSocket-Version: 13\r\n"},
		{"version name lowercase", get, []string{"Sec-WebSocket-Version:", "+sec-websocket-version: 13"}, nil, 0, ""},
		// Key.
		{"no key", get, []string{"Sec-WebSocket-Key:"}, nil, 400, ""},
		{"repeated key", get, []string{"+Sec-WebSocket-Key: " + rfcKey}, nil, 400, ""},
		{"two different keys", get, []string{"+Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="}, nil, 400, ""},
		{"short key", get, []string{"Sec-WebSocket-Key: abc"}, nil, 400, ""},
		{"18-byte key", get, []string{"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA"}, nil, 400, ""},
		{"key name in capitals", get, []string{"Sec-WebSocket-Key:", "+SEC-WEBSOCKET-KEY: " + rfcKey}, nil, 0, ""},
		// Origin (§4.2.2 item 4, §10.2): same origin by default.
		{"same origin", get, []string{"+Origin: http://server.example.com"}, nil, 0, ""},
		{"same origin https, other case", get, []string{"+Origin: HTTPS://Server.Example.COM"}, nil, 0, ""},
		{"cross origin", get, []string{"+Origin: http://example.com"}, nil, 403, ""},
		{"origin null", get, []string{"+Origin: null"}, nil, 403, ""},
		{"origin other port", get, []string{"+Origin: http://server.example.com:8080"}, nil, 403, ""},
		{"CheckOrigin refuses", get, nil, &Config{CheckOrigin: func(*http.Request) bool { return false }}, 403, ""},
		{"CheckOrigin allows cross origin", get, []string{"+Origin: http://example.com"}, &Config{CheckOrigin: func(*http.Request) bool { return true }}, 0, ""},
		{"nil CheckOrigin in a Config", get, []string{"+Origin: http://example.com"}, &Config{}, 403, ""},
		// Checked in order: the method first.
		{"POST without anything", "POST /chat HTTP/1.1", []string{"Upgrade:", "Sec-WebSocket-Version:"}, nil, 405, "Allow: GET\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r request
			if !parseRequest(hsRequest(tt.first, tt.edits...), &r) {
				t.Fatal("malformed")
			}
			ref := checkRequest(&r, tt.cfg)
			if tt.status == 0 {
				if ref != nil {
					t.Fatalf("refused: %d %v", ref.status, ref)
				}
				if !validKey(r.key) {
					t.Fatal("accepted an invalid key")
				}
				return
			}
			if ref == nil {
				t.Fatalf("accepted, want %d", tt.status)
			}
			if ref.status != tt.status || ref.extra != tt.extra {
				t.Errorf("refused %d %q (%v), want %d %q", ref.status, ref.extra, ref, tt.status, tt.extra)
			}
		})
	}
}

// TestCheckOriginRequest checks the *http.Request that CheckOrigin gets.
func TestCheckOriginRequest_RFC6455_4_2_1(t *testing.T) {
	var got *http.Request
	cfg := &Config{CheckOrigin: func(r *http.Request) bool { got = r; return true }}
	var r request
	if !parseRequest(hsHead("GET /chat?x=1 HTTP/1.1", hsRFCRequest...), &r) {
		t.Fatal("malformed")
	}
	if ref := checkRequest(&r, cfg); ref != nil {
		t.Fatal(ref)
	}
	if got.Method != "GET" || got.Host != "server.example.com" || got.RequestURI != "/chat?x=1" ||
		got.URL.Path != "/chat" || got.URL.RawQuery != "x=1" || got.Proto != "HTTP/1.1" {
		t.Errorf("request %+v", got)
	}
	if got.Header.Get("Origin") != "http://example.com" || got.Header.Get("Sec-WebSocket-Key") != rfcKey {
		t.Errorf("header %v", got.Header)
	}
}

// TestCheckOriginOddTarget: a target or Host net/url refuses must not
// crash the server when CheckOrigin is set (regression: nil Header map).
func TestCheckOriginOddTarget_RFC6455_4_2_1(t *testing.T) {
	for _, tt := range []struct{ first, host string }{
		{"GET /%zz HTTP/1.1", "Host: server.example.com"},
		{"GET / HTTP/1.1", "Host: a b"},
		{"GET / HTTP/1.1", "Host: [::1"},
	} {
		var got *http.Request
		cfg := &Config{CheckOrigin: func(r *http.Request) bool {
			got = r
			return r.URL != nil && r.Header.Get("Origin") == "http://x"
		}}
		var r request
		if !parseRequest(hsRequest(tt.first, tt.host, "+Origin: http://x"), &r) {
			continue // refused as malformed: fine too
		}
		ref := checkRequest(&r, cfg)
		if got == nil {
			if ref == nil || ref.status != http.StatusBadRequest {
				t.Errorf("%q %q: CheckOrigin not called, refusal %v", tt.first, tt.host, ref)
			}
			continue
		}
		if ref != nil {
			t.Errorf("%q %q: refused %d %v", tt.first, tt.host, ref.status, ref)
		}
	}
}

func TestSameOrigin_RFC6454(t *testing.T) {
	for _, tt := range []struct {
		origin, host string
		want         bool
	}{
		{"http://example.com", "example.com", true},
		{"https://example.com:8443", "EXAMPLE.com:8443", true},
		{"http://example.com", "example.com:80", false},
		{"http://example.com:80", "example.com", false},
		{"http://evil.com", "example.com", false},
		{"http://example.com.evil.com", "example.com", false},
		{"example.com", "example.com", false},
		{"null", "example.com", false},
		{"", "", false},
	} {
		if got := sameOrigin(tt.origin, tt.host); got != tt.want {
			t.Errorf("sameOrigin(%q, %q) = %v", tt.origin, tt.host, got)
		}
	}
}

func TestMatchOrigin(t *testing.T) {
	for _, tt := range []struct {
		allowed, origin string
		want            bool
	}{
		{"https://example.org", "https://example.org", true},
		{"https://example.org", "HTTPS://EXAMPLE.ORG", true},
		{"https://example.org", "http://example.org", false},
		{"https://example.org", "https://example.org:444", false},
		{"*.example.org", "https://a.example.org", true},
		{"*.example.org", "http://a.b.example.org:8080", true},
		{"*.example.org", "https://example.org", false},
		{"*.example.org", "https://evilexample.org", false},
		{"*.example.org", "https://a.example.org.evil.com", false},
		{"*.example.org", "a.example.org", false},
		{"*.example.org", "https://.example.org", false},
	} {
		if got := matchOrigin(tt.allowed, tt.origin); got != tt.want {
			t.Errorf("matchOrigin(%q, %q) = %v", tt.allowed, tt.origin, got)
		}
	}
}

func TestPickSubprotocol_RFC6455_4_2_2(t *testing.T) {
	offered := [][]byte{[]byte("chat, superchat"), []byte("v2.json")}
	for _, tt := range []struct {
		ours []string
		want string
	}{
		{nil, ""},
		{[]string{"superchat", "chat"}, "superchat"},
		{[]string{"v2.json"}, "v2.json"},
		{[]string{"CHAT"}, ""}, // names compare exactly, as checkResponse does
		{[]string{"mqtt"}, ""},
		{[]string{"super"}, ""},
	} {
		if got := pickSubprotocol(tt.ours, offered); got != tt.want {
			t.Errorf("pickSubprotocol(%q) = %q, want %q", tt.ours, got, tt.want)
		}
	}
}

func TestValidToken_RFC7230_3_2_6(t *testing.T) {
	for _, s := range []string{"chat", "v2.json", "a-b_c~d!#$%&'*+^`|", "X"} {
		if !validToken(s) {
			t.Errorf("validToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a,b", "a/b", "a:b", "é", "a\x00", "a\x7f", "(x)", "a\tb", "{}", "a=b"} {
		if validToken(s) {
			t.Errorf("validToken(%q) = true", s)
		}
	}
	for _, s := range []string{"", "a b", "a\tb", "é", "/chat?x=1"} {
		if !validFieldValue(s) {
			t.Errorf("validFieldValue(%q) = false", s)
		}
	}
	for _, s := range []string{"a\r\nb", "a\nb", "a\rb", "a\x00", "\x7f"} {
		if validFieldValue(s) {
			t.Errorf("validFieldValue(%q) = true", s)
		}
	}
}

// hsRFCResponse is the server's answer of RFC 6455 §1.2.
var hsRFCResponse = []string{
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Accept: " + rfcAccept,
	"Sec-WebSocket-Protocol: chat",
}

func TestParseResponse_RFC6455_4_1(t *testing.T) {
	var r response
	if !parseResponse(hsHead("HTTP/1.1 101 Switching Protocols", hsRFCResponse...), &r) {
		t.Fatal("the RFC's response is malformed")
	}
	if r.code != 101 || string(r.status) != "101 Switching Protocols" || !r.upgrade || !r.connection ||
		string(r.accept) != rfcAccept || r.accepts != 1 || string(r.protocol) != "chat" || r.protocols != 1 || r.extensions {
		t.Errorf("parsed %+v", r)
	}
	for _, tt := range []struct {
		first string
		code  int
	}{
		{"HTTP/1.1 101", 101},
		{"HTTP/1.1 101 ", 101},
		{"HTTP/1.1 200 OK", 200},
		{"HTTP/1.1 426 Upgrade Required", 426},
		{"HTTP/1.1 999 ?", 999},
	} {
		var r response
		if !parseResponse(hsHead(tt.first), &r) || r.code != tt.code {
			t.Errorf("%q: code %d, want %d", tt.first, r.code, tt.code)
		}
	}
	for _, head := range [][]byte{
		nil,
		[]byte("HTTP/1.1 101 Switching Protocols"),
		[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"),
		hsHead("HTTP/1.0 101 Switching Protocols"),
		hsHead("HTTP/1.1 10"),
		hsHead("HTTP/1.1 1x1 Switching Protocols"),
		hsHead("HTTP/1.1 1011 Switching Protocols"),
		hsHead("HTTP/1.1 +01 Switching Protocols"),
		hsHead("HTTP/1.1  101 Switching Protocols"),
		hsHead("http/1.1 101 Switching Protocols"),
		hsHead("HTTP/1.1 101 Switching Protocols", "Upgrade websocket"),
		hsHead("HTTP/1.1 101 Switching Protocols", "Upgrade : websocket"),
		hsHead("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "\tfolded"),
		hsHead("HTTP/1.1 101 Switching Protocols", "Up grade: websocket"),
		hsHead("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\x00"),
		hsHead("HTTP/1.1 101 Switching Protocols", "X: \nSec-WebSocket-Accept: "+rfcAccept),
	} {
		var r response
		if parseResponse(head, &r) {
			t.Errorf("%q parsed", head)
		}
	}
}

func TestCheckResponse_RFC6455_4_1(t *testing.T) {
	const ok = "HTTP/1.1 101 Switching Protocols"
	base := hsRFCResponse[:3]
	tests := []struct {
		name    string
		first   string
		edits   []string
		offered []string
		proto   string
		fail    bool
	}{
		{"minimal", ok, nil, nil, "", false},
		{"subprotocol offered", ok, []string{"+Sec-WebSocket-Protocol: chat"}, []string{"superchat", "chat"}, "chat", false},
		{"no subprotocol chosen", ok, nil, []string{"chat"}, "", false},
		{"header names and tokens in any case", ok, []string{"Upgrade:", "Connection:", "Sec-WebSocket-Accept:",
			"+UPGRADE: WebSocket", "+connection: keep-alive, UPGRADE", "+sec-websocket-accept: " + rfcAccept}, nil, "", false},
		// §4.1 client requirements 1–6.
		{"200 only", "HTTP/1.1 200 OK", nil, nil, "", true},
		{"301", "HTTP/1.1 301 Moved Permanently", []string{"+Location: /x"}, nil, "", true},
		{"426", "HTTP/1.1 426 Upgrade Required", nil, nil, "", true},
		{"missing Upgrade", ok, []string{"Upgrade:"}, nil, "", true},
		{"Upgrade h2c", ok, []string{"Upgrade: h2c"}, nil, "", true},
		{"missing Connection", ok, []string{"Connection:"}, nil, "", true},
		{"Connection close", ok, []string{"Connection: close"}, nil, "", true},
		{"missing accept", ok, []string{"Sec-WebSocket-Accept:"}, nil, "", true},
		{"wrong accept", ok, []string{"Sec-WebSocket-Accept: " + strings.ToLower(rfcAccept)}, nil, "", true},
		{"accept of another key", ok, []string{"Sec-WebSocket-Accept: ICX+Yqv66kxgM0FcWaLWlFLwTAI="}, nil, "", true},
		{"repeated accept", ok, []string{"+Sec-WebSocket-Accept: " + rfcAccept}, nil, "", true},
		{"unoffered extension", ok, []string{"+Sec-WebSocket-Extensions: permessage-deflate"}, nil, "", true},
		{"empty extensions field", ok, []string{"+Sec-WebSocket-Extensions:  "}, nil, "", false},
		{"unoffered subprotocol", ok, []string{"+Sec-WebSocket-Protocol: mqtt"}, []string{"chat"}, "", true},
		{"subprotocol when none offered", ok, []string{"+Sec-WebSocket-Protocol: chat"}, nil, "", true},
		{"subprotocol list", ok, []string{"+Sec-WebSocket-Protocol: chat, superchat"}, []string{"chat", "superchat"}, "", true},
		{"repeated subprotocol", ok, []string{"+Sec-WebSocket-Protocol: chat", "+Sec-WebSocket-Protocol: chat"}, []string{"chat"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if !parseResponse(hsHead(tt.first, hsEdit(base, tt.edits)...), &r) {
				t.Fatal("malformed")
			}
			proto, err := checkResponse(&r, []byte(rfcKey), tt.offered)
			if err == nil { // the client's extension check (no compression offered)
				_, err = acceptedDeflate(nil, r.extValues)
			}
			if (err != nil) != tt.fail {
				t.Fatalf("err = %v, want failure %v", err, tt.fail)
			}
			if proto != tt.proto {
				t.Errorf("subprotocol %q, want %q", proto, tt.proto)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(hsHead("GET /chat HTTP/1.1", hsRFCRequest...))
	f.Add(hsRequest("GET / HTTP/1.1"))
	f.Add(hsRequest("GET / HTTP/1.1", "Connection: keep-alive, Upgrade", "+Origin: http://server.example.com"))
	f.Add(hsRequest("GET /%zz HTTP/1.1", "+Origin: http://x"))
	f.Add(hsRequest("GET / HTTP/1.1", "+Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="))
	f.Add(hsRequest("POST / HTTP/1.0", "Sec-WebSocket-Version: 8"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n X: a\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		orig := bytes.Clone(head)
		var r request
		ok := parseRequest(head, &r)
		if !bytes.Equal(head, orig) {
			t.Fatal("parseRequest modified its input")
		}
		if !ok {
			return
		}
		if !bytes.Contains(head, []byte("\r\n\r\n")) {
			t.Fatal("parsed a head without its blank line")
		}
		if len(r.target) == 0 || bytes.ContainsAny(r.target, " \r\n") {
			t.Fatalf("target %q", r.target)
		}
		var seen *http.Request
		allow := &Config{CheckOrigin: func(r *http.Request) bool { seen = r; return true }}
		for _, cfg := range []*Config{nil, allow} {
			ref := checkRequest(&r, cfg)
			if ref != nil {
				if ref.status < 400 || ref.status > 499 || ref.Error() == "" {
					t.Fatalf("refusal %d %q", ref.status, ref)
				}
				if !validFieldValue(ref.extra) && !strings.HasSuffix(ref.extra, "\r\n") {
					t.Fatalf("extra %q", ref.extra)
				}
				continue
			}
			// Whatever passes is a well-formed upgrade request.
			if string(r.method) != "GET" || string(r.proto) != "HTTP/1.1" || r.hosts != 1 || len(r.host) == 0 ||
				!r.upgrade || !r.connection || string(r.version) != "13" || r.keys != 1 {
				t.Fatalf("accepted %+v", r)
			}
			if _, err := ResponseKey(string(r.key)); err != nil {
				t.Fatalf("accepted key %q: %v", r.key, err)
			}
			if cfg == allow && (seen == nil || seen.Header == nil || seen.URL == nil) {
				t.Fatalf("CheckOrigin saw %+v", seen)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add(hsHead("HTTP/1.1 101 Switching Protocols", hsRFCResponse...))
	f.Add(hsHead("HTTP/1.1 101 Switching Protocols", hsRFCResponse[:3]...))
	f.Add(hsHead("HTTP/1.1 101", "upgrade: WebSocket", "connection: keep-alive, upgrade", "sec-websocket-accept: "+rfcAccept))
	f.Add(hsHead("HTTP/1.1 200 OK", "Content-Length: 0"))
	f.Add(hsHead("HTTP/1.1 101 Switching Protocols", append(hsRFCResponse, "Sec-WebSocket-Extensions: permessage-deflate")...))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		orig := bytes.Clone(head)
		var r response
		ok := parseResponse(head, &r)
		if !bytes.Equal(head, orig) {
			t.Fatal("parseResponse modified its input")
		}
		if !ok {
			return
		}
		if !bytes.Contains(head, []byte("\r\n\r\n")) {
			t.Fatal("parsed a head without its blank line")
		}
		if r.code < 0 || r.code > 999 {
			t.Fatalf("code %d", r.code)
		}
		for _, offered := range [][]string{nil, {"chat", "superchat"}} {
			proto, err := checkResponse(&r, []byte(rfcKey), offered)
			if err == nil {
				if _, err = acceptedDeflate(nil, r.extValues); err != nil {
					proto = ""
				}
			}
			if err != nil {
				if proto != "" {
					t.Fatalf("subprotocol %q with error %v", proto, err)
				}
				continue
			}
			if r.code != 101 || !r.upgrade || !r.connection || r.accepts != 1 || string(r.accept) != rfcAccept || r.extensions {
				t.Fatalf("accepted %+v", r)
			}
			if proto != "" && proto != "chat" && proto != "superchat" {
				t.Fatalf("subprotocol %q", proto)
			}
			if proto != "" && offered == nil {
				t.Fatalf("subprotocol %q when none offered", proto)
			}
		}
	})
}

// TestValidFieldValueWords_RFC7230_3_2: the eight-bytes-at-a-time check
// agrees with the byte-wise rule for every byte value at every position.
func TestValidFieldValueWords_RFC7230_3_2(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				want := !(c < ' ' && c != '\t' || c == 0x7f)
				if got := validValueBytes(b); got != want || validFieldValue(b) != want {
					t.Fatalf("len %d, byte %#x at %d: %v, want %v", n, c, pos, got, want)
				}
			}
		}
	}
}
