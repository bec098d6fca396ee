package ws

import (
	"net/http"
)

// Config holds the options of a connection; it plays the role of
// net.Dialer or tls.Config. The zero value (and a nil *Config) gives the
// defaults, which the package-level functions use. A Config is only read:
// it may be shared by goroutines and is not retained by the connections
// it creates, except for CheckOrigin which is called during attach.
type Config struct {
	// Subprotocols lists the application subprotocols
	// (Sec-WebSocket-Protocol), by preference. A client offers them all;
	// a server picks the first of its own list that the client offered.
	Subprotocols []string

	// Header holds extra header fields for the handshake: sent with the
	// request by a client, with the 101 response by a server.
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
	// its Origin field; it gets the request without a body. If nil, a
	// request whose Origin names another host than its Host field is
	// refused with 403 (same-origin policy; requests without Origin, as
	// non-browser clients send, are accepted). To allow listed origins,
	// see AllowOrigins.
	CheckOrigin func(r *http.Request) bool
}

const (
	defaultMaxMessage = 32 << 20
	defaultMaxHeader  = 64 << 10
)

func (cfg *Config) maxMessage() int64 {
	switch {
	case cfg == nil || cfg.MaxMessageSize == 0:
		return defaultMaxMessage
	case cfg.MaxMessageSize < 0:
		return 1<<63 - 1
	}
	return cfg.MaxMessageSize
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
