package ws

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
)

// The server's Host policy (Config.Hosts): which names a server answers
// to, and the defence of loopback servers against DNS rebinding. Pure
// functions over the parsed request.

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
	a, err := netip.ParseAddr(string(name))
	if err != nil || a.Zone() != "" {
		return false
	}
	if literal {
		return a == netip.IPv6Loopback()
	}
	return a.Is4() && a.IsLoopback()
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
