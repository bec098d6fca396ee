package ws

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Config holds the options of a connection; it plays the role of
// net.Dialer or tls.Config. The zero value (and a nil *Config) gives the
// defaults, which the package-level functions use. A Config's options
// are only read: it may be shared by goroutines, and the connections it
// creates keep none of its fields. The one state it holds is the pool of
// HTTP/2 connections its Dial calls share (Config.HTTP2): created by the
// first such Dial, emptied as their WebSockets end; a copy of a Config
// shares no connection with the original. Its functions (CheckOrigin, Proxy, NetDial) are called
// during attach, Upgrade or Dial, possibly from several goroutines at once.
type Config struct {
	// Subprotocols lists the application subprotocols
	// (Sec-WebSocket-Protocol), by preference. A client offers them all;
	// a server picks the first of its own list that the client offered.
	Subprotocols []string

	// Header holds extra header fields for the handshake: sent with the
	// request by a client (an Origin, cookies, Authorization), with the
	// 101 response by a server. Fields the handshake writes itself (Host,
	// Upgrade, Connection, Sec-WebSocket-*: use Subprotocols) and HTTP's
	// framing fields (Content-Length, Transfer-Encoding …) are not sent,
	// nor are names or values that cannot be sent.
	Header http.Header

	// MaxMessageSize bounds a message read through Reader, a message
	// discarded because it did not fit Recv's buffers, and decompressed
	// messages; a larger one fails the connection with close 1009.
	// 0 means 32 MiB; negative means no limit.
	MaxMessageSize int64

	// MaxHeaderBytes bounds the handshake head (request or response line
	// and fields). 0 means 64 KiB. A server answers a larger request with
	// 431.
	MaxHeaderBytes int

	// CheckOrigin decides whether a server accepts a request, typically on
	// its Origin field: AttachServer passes the request without a body,
	// Upgrade the handler's request. It is called only for a request that
	// is otherwise a valid upgrade and whose Host passed the Hosts check,
	// from the goroutine attaching. If nil, a request whose Origin names
	// another host than its Host field is refused with 403 (same-origin
	// policy; requests without Origin, as non-browser clients send, are
	// accepted). To allow listed origins, see AllowOrigins.
	CheckOrigin func(r *http.Request) bool

	// Hosts, when not empty, lists the names a server answers to:
	// AttachServer and Upgrade refuse with 403 a request whose Host field,
	// without its port and compared without regard to case, is none of
	// them, whatever address the connection came in on. Entries are host
	// names or IP addresses without a port ("example.org", "192.0.2.1",
	// "::1" or "[::1]").
	//
	// When Hosts is empty, a connection accepted on a loopback address
	// (127.0.0.0/8 or ::1) accepts only the Hosts "localhost", an IPv4
	// address in 127.0.0.0/8 and "[::1]", with any port, and refuses
	// others with 403: a web page whose name an attacker re-pointed to
	// 127.0.0.1 (DNS rebinding) sends its own name as Host and Origin,
	// which the same-origin policy alone would accept. A loopback server
	// reached through a reverse proxy that forwards the public Host must
	// list it here. Connections on other addresses accept any Host.
	//
	// The Host check comes before CheckOrigin and does not depend on it: a
	// CheckOrigin that accepts every origin does not lift it.
	Hosts []string

	// HandshakeTimeout bounds the opening handshake when the context has
	// no deadline or a later one: reading the request and writing the
	// answer in AttachServer, writing the request and reading the answer
	// in AttachClient, writing the 101 answer in Upgrade. It runs from the
	// start of the call; when it passes, the call fails with ErrTimedOut
	// and the connection is closed. 0 means 10 s; negative means no bound
	// but the context's.
	HandshakeTimeout time.Duration

	// Compression enables permessage-deflate (RFC 7692) when not nil: a
	// client offers it, a server accepts a client's offer. With NoHTTP,
	// both sides take the options as the agreed parameters. Options out
	// of range (a Level outside -2…9, a window size other than 0 or
	// 8…15) make attach, Upgrade and Dial fail with ErrInvalid.
	Compression *CompressionOptions

	// TLSConfig configures the TLS client of Dial for wss:// URLs (and an
	// https:// proxy). It is cloned, never modified: an empty ServerName
	// becomes the URL's host, and NextProtos is replaced by "http/1.1",
	// the only protocol a WebSocket upgrade runs on ("h2", "http/1.1"
	// with HTTP2). nil means the
	// defaults of crypto/tls (the system's roots).
	TLSConfig *tls.Config

	// Proxy returns the HTTP proxy Dial goes through for a request, as
	// http.Transport.Proxy does: nil URL for a direct connection. Dial
	// opens a tunnel with CONNECT (over TLS for an https:// proxy) and
	// sends the URL's user information as Proxy-Authorization. The
	// request it gets has an http:// or https:// URL (for ws:// and wss://)
	// and no body. If nil, http.ProxyFromEnvironment is used (HTTP_PROXY,
	// HTTPS_PROXY, NO_PROXY; never for localhost or loopback addresses).
	Proxy func(*http.Request) (*url.URL, error)

	// NetDial opens the TCP connection of Dial, to the server or to the
	// proxy; network is "tcp" and addr is host:port. If nil, a zero
	// net.Dialer's DialContext is used. Dial's context is passed on.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// PingInterval, when positive, makes the connection send a ping every
	// PingInterval and fail when the peer has sent nothing (no pong, no
	// frame) for PongTimeout after a ping (0 means PingInterval). A failed
	// connection's calls return ErrConnReset with the cause "keepalive:
	// peer stopped answering"; the underlying conn is not closed. Pongs
	// are read by Recv: keep a goroutine receiving.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// HTTP2 makes Dial open the WebSocket as an extended CONNECT stream
	// over HTTP/2 (RFC 8441): "h2" by ALPN for wss://, HTTP/2 with prior
	// knowledge (h2c) for ws://. Dial calls made with the same *Config to
	// the same authority share one HTTP/2 connection, which closes with
	// its last WebSocket; a connection whose server limits its concurrent
	// streams, or that got GOAWAY, makes Dial open another; a CONNECT the
	// server did not process (REFUSED_STREAM, or above a GOAWAY's last
	// stream id) is tried once more, on a new connection after GOAWAY.
	// Dial falls back to HTTP/1.1 when the server does not choose h2,
	// does not speak HTTP/2, or does not advertise
	// SETTINGS_ENABLE_CONNECT_PROTOCOL. The Conn's Underlying and Detach
	// then give the stream, as a net.Conn.
	// Upgrade needs no option: it accepts RFC 8441 requests whenever
	// net/http delivers them (see Upgrade).
	HTTP2 bool

	// h2 holds the HTTP/2 connections Dial shares: an *h2Pool, created
	// by the first Dial over HTTP/2 (see Config.h2Pool).
	h2 atomic.Value
}

const (
	defaultMaxMessage       = 32 << 20
	defaultMaxHeader        = 64 << 10
	defaultHandshakeTimeout = 10 * time.Second
)

// handshakeBound returns the deadline HandshakeTimeout sets on a
// handshake that starts at now under ctx, or the zero time when ctx's own
// deadline comes first or there is no bound.
func (cfg *Config) handshakeBound(ctx context.Context, now time.Time) time.Time {
	d := defaultHandshakeTimeout
	if cfg != nil && cfg.HandshakeTimeout != 0 {
		d = cfg.HandshakeTimeout
	}
	if d < 0 {
		return time.Time{}
	}
	bound := now.Add(d)
	if dl, ok := ctx.Deadline(); ok && !dl.After(bound) {
		return time.Time{}
	}
	return bound
}

func (cfg *Config) maxMessage() int64 {
	switch {
	case cfg == nil || cfg.MaxMessageSize == 0:
		return defaultMaxMessage
	case cfg.MaxMessageSize < 0:
		return 1<<63 - 1
	}
	return cfg.MaxMessageSize
}

func (cfg *Config) compression() *CompressionOptions {
	if cfg == nil {
		return nil
	}
	return cfg.Compression
}

func (cfg *Config) maxHeader() int {
	if cfg == nil || cfg.MaxHeaderBytes <= 0 {
		return defaultMaxHeader
	}
	return cfg.MaxHeaderBytes
}

// AllowOrigins returns a CheckOrigin function accepting requests without
// Origin, requests whose Origin matches their Host, and requests whose
// Origin equals one of origins (scheme://host[:port], compared without
// regard to case) or, for an entry "*.example.org", any subdomain of it
// on any scheme.
func AllowOrigins(origins ...string) func(*http.Request) bool {
	list := append([]string(nil), origins...)
	return func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		if o == "" || sameOrigin(o, r.Host) {
			return true
		}
		for _, a := range list {
			if matchOrigin(a, o) {
				return true
			}
		}
		return false
	}
}

// check reports why the options cannot be used, nil if they can (a nil
// *CompressionOptions is fine): Level must be -2 (Huffman only), -1
// (flate's default), 0 (the fastest level, 1) or 1 to 9, and each
// MaxWindowBits 0 (15) or 8 to 15. Threshold takes any value. Attach,
// Upgrade and Dial return ErrInvalid with this cause, before any I/O.
func (o *CompressionOptions) check() error {
	switch {
	case o == nil:
		return nil
	case o.Level < -2 || o.Level > 9:
		return detail("CompressionOptions.Level must be -2 to 9")
	case !windowBitsOK(o.ServerMaxWindowBits):
		return detail("CompressionOptions.ServerMaxWindowBits must be 0 or 8 to 15")
	case !windowBitsOK(o.ClientMaxWindowBits):
		return detail("CompressionOptions.ClientMaxWindowBits must be 0 or 8 to 15")
	}
	return nil
}

// windowBitsOK reports whether n is a window size RFC 7692 allows, or 0
// for the default.
func windowBitsOK(n int) bool { return n == 0 || 8 <= n && n <= 15 }
