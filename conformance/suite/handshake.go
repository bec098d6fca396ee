package suite

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// NewKey returns a fresh Sec-WebSocket-Key: base64 of 16 random bytes.
func NewKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// AcceptKey computes Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// validKey reports whether key is base64 of exactly 16 bytes.
func validKey(key string) bool {
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

// Request builds an HTTP upgrade request. Extra header lines (already
// "Name: value" formatted) are appended after the standard ones.
func Request(resource, host, key string, extra ...string) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "GET %s HTTP/1.1\r\n", resource)
	fmt.Fprintf(&sb, "Host: %s\r\n", host)
	sb.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&sb, "Sec-WebSocket-Key: %s\r\n", key)
	sb.WriteString("Sec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		sb.WriteString(h + "\r\n")
	}
	sb.WriteString("\r\n")
	return []byte(sb.String())
}

// Response is a parsed HTTP response head.
type Response struct {
	Proto  string
	Status int
	Header textproto.MIMEHeader
}

// ReadResponse reads an HTTP response head (status line and fields) from r,
// leaving any bytes after the blank line buffered in r.
func ReadResponse(r *bufio.Reader) (*Response, error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("reading status line: %w", err)
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	codeStr, _, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 {
		return nil, fmt.Errorf("malformed status code in %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("reading response fields: %w", err)
	}
	return &Response{Proto: proto, Status: code, Header: hdr}, nil
}

// hasToken reports whether any comma-separated token of any value of the
// field equals token, case-insensitively (RFC 6455 §4.1, §4.2.1).
func hasToken(h textproto.MIMEHeader, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// CheckUpgradeResponse validates a server's answer to a request with key
// (RFC 6455 §4.1, the client's checks). Unless offered is set, the server
// must not accept any extension.
func CheckUpgradeResponse(resp *Response, key string, offered bool) error {
	if resp.Status != 101 {
		return fmt.Errorf("status %d, want 101", resp.Status)
	}
	if !hasToken(resp.Header, "Upgrade", "websocket") {
		return fmt.Errorf("Upgrade field %q lacks websocket", resp.Header.Values("Upgrade"))
	}
	if !hasToken(resp.Header, "Connection", "upgrade") {
		return fmt.Errorf("Connection field %q lacks upgrade", resp.Header.Values("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), AcceptKey(key); got != want {
		return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" && !offered {
		return fmt.Errorf("server accepted extensions %q that were not offered", ext)
	}
	return nil
}

// ClientRequest is a parsed upgrade request as a fuzzing server sees it.
type ClientRequest struct {
	Method, Target, Proto string
	Header                textproto.MIMEHeader
}

// ReadRequest reads an HTTP request head from r.
func ReadRequest(r *bufio.Reader) (*ClientRequest, error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("reading request line: %w", err)
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed request line %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("reading request fields: %w", err)
	}
	return &ClientRequest{Method: parts[0], Target: parts[1], Proto: parts[2], Header: hdr}, nil
}

// Check validates a client's opening handshake (RFC 6455 §4.1).
func (req *ClientRequest) Check() error {
	var errs []error
	if req.Method != "GET" {
		errs = append(errs, fmt.Errorf("method %q, want GET", req.Method))
	}
	if req.Proto != "HTTP/1.1" {
		errs = append(errs, fmt.Errorf("protocol %q, want HTTP/1.1", req.Proto))
	}
	if req.Header.Get("Host") == "" {
		errs = append(errs, errors.New("no Host field"))
	}
	if !hasToken(req.Header, "Upgrade", "websocket") {
		errs = append(errs, fmt.Errorf("Upgrade field %q lacks websocket", req.Header.Values("Upgrade")))
	}
	if !hasToken(req.Header, "Connection", "upgrade") {
		errs = append(errs, fmt.Errorf("Connection field %q lacks upgrade", req.Header.Values("Connection")))
	}
	if k := req.Header.Values("Sec-WebSocket-Key"); len(k) != 1 || !validKey(k[0]) {
		errs = append(errs, fmt.Errorf("Sec-WebSocket-Key %q is not one base64 16-byte nonce", k))
	}
	if v := req.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || v[0] != "13" {
		errs = append(errs, fmt.Errorf("Sec-WebSocket-Version %q, want 13", v))
	}
	return errors.Join(errs...)
}

// UpgradeResponse builds the 101 answer to key. Extra lines are appended.
func UpgradeResponse(key string, extra ...string) []byte {
	var sb strings.Builder
	sb.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&sb, "Sec-WebSocket-Accept: %s\r\n", AcceptKey(key))
	for _, h := range extra {
		sb.WriteString(h + "\r\n")
	}
	sb.WriteString("\r\n")
	return []byte(sb.String())
}
