package ws

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The server's acceptance policy, pure functions over the parsed request:
// which Hosts it answers to (Config.Hosts, and the defence of loopback
// servers against DNS rebinding), which Origins (CheckOrigin, the
// same-origin default), and which subprotocol it picks.

// checkHost applies Config.Hosts, or for a connection on a loopback
// address without Hosts, the loopback names (see Config.Hosts).
func checkHost(cfg *Config, r *request) *refusal {
	var hosts []string
	if cfg != nil {
		hosts = cfg.Hosts
	}
	switch {
	case len(hosts) > 0:
		if servesHost(hosts, r.host) {
			return nil
		}
	case r.loopback:
		if loopbackHost(r.host) {
			return nil
		}
	default:
		return nil
	}
	return &refusal{http.StatusForbidden, "Host not served", ""}
}

// hostName splits a Host field value (RFC 7230 §5.4, RFC 3986 §3.2.2)
// into its name, without the brackets of an IP literal, and drops the
// port; literal tells the name was bracketed. ok is false unless host
// has the form name[:digits].
func hostName(host []byte) (name []byte, literal, ok bool) {
	rest := host
	switch i := bytes.IndexByte(host, ':'); {
	case len(host) > 0 && host[0] == '[':
		j := bytes.IndexByte(host, ']')
		if j < 0 {
			return nil, false, false
		}
		name, rest, literal = host[1:j], host[j+1:], true
	case i >= 0:
		name, rest = host[:i], host[i:]
	default:
		name, rest = host, nil
	}
	if len(rest) > 0 {
		if rest[0] != ':' {
			return nil, false, false
		}
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				return nil, false, false
			}
		}
	}
	return name, literal, len(name) > 0
}

// loopbackHost reports whether host names the loopback interface in a
// way no DNS answer can change: localhost, an IPv4 address in
// 127.0.0.0/8 or [::1], with any port.
func loopbackHost(host []byte) bool {
	name, literal, ok := hostName(host)
	if !ok {
		return false
	}
	if !literal && nameIs(name, "localhost") {
		return true
	}
	if !literal {
		first, ok := parseIPv4(name)
		return ok && first == 127
	}
	a, err := netip.ParseAddr(string(name))
	return err == nil && a.Zone() == "" && a == netip.IPv6Loopback()
}

// parseIPv4 parses a dotted-quad IPv4 address as netip.ParseAddr does
// (four decimal fields of at most 255, no leading zeros), without
// allocating, and returns its first byte.
func parseIPv4(s []byte) (first int, ok bool) {
	fields, v, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || fields == 4 {
				return 0, false
			}
			if fields == 0 {
				first = v
			}
			fields, v, digits = fields+1, 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || (digits == 1 && v == 0) {
			return 0, false
		}
		v, digits = v*10+int(c-'0'), digits+1
		if v > 255 {
			return 0, false
		}
	}
	return first, fields == 4
}

// servesHost reports whether host's name is one of hosts (Config.Hosts),
// compared without regard to case; entries may bracket an IPv6 address.
func servesHost(hosts []string, host []byte) bool {
	name, _, ok := hostName(host)
	if !ok {
		return false
	}
	for _, h := range hosts {
		if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
			h = h[1 : len(h)-1]
		}
		if nameIs(name, h) {
			return true
		}
	}
	return false
}

// loopbackAddr reports whether a is a loopback IP address (127.0.0.0/8,
// ::1, or 127.0.0.0/8 mapped into IPv6).
func loopbackAddr(a net.Addr) bool {
	var ip netip.Addr
	switch a := a.(type) {
	case nil:
		return false
	case *net.TCPAddr:
		if a == nil {
			return false
		}
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	return ip.Unmap().IsLoopback()
}

// checkOrigin applies the origin policy: cfg.CheckOrigin on the request
// req builds, or else same-origin.
func checkOrigin(cfg *Config, origin, host []byte, req func() *http.Request) *refusal {
	if cfg != nil && cfg.CheckOrigin != nil {
		if !cfg.CheckOrigin(req()) {
			return &refusal{http.StatusForbidden, "origin refused", ""}
		}
	} else if len(origin) > 0 && !sameOrigin(string(origin), string(host)) {
		return &refusal{http.StatusForbidden, "cross-origin request refused", ""}
	}
	return nil
}

// httpRequest builds the *http.Request (without a body) that CheckOrigin
// sees.
func (r *request) httpRequest() *http.Request {
	req, err := http.NewRequest(string(r.method), "http://"+string(r.host)+string(r.target), nil)
	if err != nil {
		// A target or Host that net/url refuses: CheckOrigin still gets
		// a request with a URL and a Header to read.
		req = &http.Request{Method: string(r.method), URL: &url.URL{}, Header: make(http.Header)}
	}
	req.Host = string(r.host)
	req.RequestURI = string(r.target)
	req.Proto = string(r.proto)
	req.ProtoMajor, req.ProtoMinor = 1, 1
	i := bytes.Index(r.head, []byte("\r\n"))
	fields(r.head[i+2:], func(name, v []byte) bool {
		req.Header.Add(string(name), string(v))
		return true
	})
	return req
}

// sameOrigin reports whether an Origin field names host (host[:port],
// compared without regard to case).
func sameOrigin(origin, host string) bool {
	i := strings.Index(origin, "://")
	if i < 0 {
		return false
	}
	return strings.EqualFold(origin[i+3:], host)
}

// matchOrigin reports whether origin matches an allowed entry: equal
// without regard to case, or for "*.domain", a subdomain on any scheme.
func matchOrigin(allowed, origin string) bool {
	if strings.EqualFold(allowed, origin) {
		return true
	}
	if suffix, ok := strings.CutPrefix(allowed, "*."); ok {
		i := strings.Index(origin, "://")
		if i < 0 {
			return false
		}
		h := origin[i+3:]
		if j := strings.LastIndexByte(h, ':'); j >= 0 {
			h = h[:j]
		}
		return len(h) > len(suffix)+1 && strings.EqualFold(h[len(h)-len(suffix):], suffix) && h[len(h)-len(suffix)-1] == '.'
	}
	return false
}

// validTarget reports whether a request target holds no white space and
// no control characters, a bare CR or LF above all (RFC 7230 §3.1.1). Like
// net/http, it lets bytes over 0x7F through.
func validTarget(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// pickSubprotocol returns the first of ours that the client offered.
// Subprotocol names compare exactly, as the client checks the answer
// (checkResponse) and as browsers do: a server that matched "chat" to
// an offered "Chat" would answer a name the client did not offer.
func pickSubprotocol(ours []string, offered [][]byte) string {
	for _, p := range ours {
		for _, v := range offered {
			if offers(v, p) {
				return p
			}
		}
	}
	return ""
}

// offers reports whether the comma-separated list v contains p exactly.
func offers(v []byte, p string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if string(trimOWS(t)) == p {
			return true
		}
	}
	return false
}
