package ws

import (
	"bytes"
	"strconv"
)

// permessage-deflate negotiation (RFC 7692 §5–§7): pure functions over
// the handshake's Sec-WebSocket-Extensions values. The codec is in
// deflate.go.

// CompressionOptions configure permessage-deflate (RFC 7692), enabled by
// setting Config.Compression. The zero value compresses at the fastest
// level with context takeover in both directions, as browsers expect.
type CompressionOptions struct {
	// Level is the flate level: 1 (fastest, the default when 0) to 9
	// (smallest), or -2 for Huffman-only.
	Level int
	// Threshold: messages shorter than this are sent uncompressed.
	// 0 means 128 bytes; negative compresses every message.
	Threshold int
	// ServerNoContextTakeover asks that the server compress each message
	// on its own (server_no_context_takeover), so that neither side keeps
	// the server's window between messages.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover likewise for the client's messages.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits limits the server's LZ77 window to 2^n bytes
	// (8–15; 0 means 15), ClientMaxWindowBits the client's.
	ServerMaxWindowBits int
	ClientMaxWindowBits int
}

const extName = "permessage-deflate"

// deflateParams are the agreed parameters of RFC 7692 §7.1.
type deflateParams struct {
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int // 8–15
	response                           string
}

func bitsOr15(n int) int {
	if n < 8 || n > 15 {
		return 15
	}
	return n
}

// offer returns the client's Sec-WebSocket-Extensions offer.
func (o *CompressionOptions) offer() string {
	s := extName + "; client_max_window_bits"
	if n := o.ClientMaxWindowBits; n >= 8 && n < 15 {
		s += "=" + strconv.Itoa(n)
	}
	if n := o.ServerMaxWindowBits; n >= 8 && n < 15 {
		s += "; server_max_window_bits=" + strconv.Itoa(n)
	}
	if o.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	return s
}

// agreed returns the options as agreed parameters, for NoHTTP.
func (o *CompressionOptions) agreed() *deflateParams {
	p := &deflateParams{
		serverNoTakeover: o.ServerNoContextTakeover,
		clientNoTakeover: o.ClientNoContextTakeover,
		serverBits:       bitsOr15(o.ServerMaxWindowBits),
		clientBits:       bitsOr15(o.ClientMaxWindowBits),
		response:         extName,
	}
	if p.serverNoTakeover {
		p.response += "; server_no_context_takeover"
	}
	if p.clientNoTakeover {
		p.response += "; client_no_context_takeover"
	}
	if p.serverBits < 15 {
		p.response += "; server_max_window_bits=" + strconv.Itoa(p.serverBits)
	}
	if p.clientBits < 15 {
		p.response += "; client_max_window_bits=" + strconv.Itoa(p.clientBits)
	}
	return p
}

// extParams is one parsed extension: its name and parameters; bits are
// -1 when absent and 0 when present without a value.
type extParams struct {
	name                               []byte
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
}

// parseExtensions splits Sec-WebSocket-Extensions values into extensions
// (RFC 6455 §9.1) and parses permessage-deflate's parameters (RFC 7692
// §7.1), appending them to exts. ok is false for a malformed value. An
// offer whose parameters are unknown, repeated or out of range gets the
// name "" (declined). It allocates only when exts must grow.
func parseExtensions(values [][]byte, exts []extParams) (_ []extParams, ok bool) {
	for _, v := range values {
		for rest, more := v, true; more; {
			var e []byte
			e, rest, more = cutQuoted(rest, ',')
			e = bytes.TrimSpace(e)
			if len(e) == 0 {
				continue
			}
			name, params, any := cutQuoted(e, ';')
			x := extParams{name: bytes.TrimSpace(name), serverBits: -1, clientBits: -1}
			if !validToken(x.name) {
				return nil, false
			}
			if string(x.name) == extName && !x.parseDeflate(params, any) {
				x.name = nil
			}
			exts = append(exts, x)
		}
	}
	return exts, true
}

// parseDeflate parses the ';'-separated parameters of a permessage-deflate
// offer or answer; any tells whether there is at least one (params may be
// empty then, which is malformed).
func (x *extParams) parseDeflate(params []byte, any bool) bool {
	var seen [4]bool
	for rest, more := params, any; more; {
		var p []byte
		p, rest, more = cutQuoted(rest, ';')
		name, val, hasVal := bytes.Cut(bytes.TrimSpace(p), []byte("="))
		name = bytes.TrimSpace(name)
		val = bytes.Trim(bytes.TrimSpace(val), `"`)
		var k int
		switch string(name) {
		case "server_no_context_takeover":
			k = 0
		case "client_no_context_takeover":
			k = 1
		case "server_max_window_bits":
			k = 2
		case "client_max_window_bits":
			k = 3
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		switch k {
		case 0, 1:
			if hasVal {
				return false
			}
			if k == 0 {
				x.serverNoTakeover = true
			} else {
				x.clientNoTakeover = true
			}
		case 2, 3:
			n := 0
			if hasVal {
				var err error
				if n, err = strconv.Atoi(string(val)); err != nil || n < 8 || n > 15 || len(val) > 2 {
					return false
				}
			} else if k == 2 {
				return false // server_max_window_bits needs a value
			}
			if k == 2 {
				x.serverBits = n
			} else {
				x.clientBits = n
			}
		}
	}
	return true
}

// cutQuoted cuts s at the first sep outside double quotes: found is
// false when there is none (then before is s).
func cutQuoted(s []byte, sep byte) (before, after []byte, found bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, nil, false
}

// acceptDeflate is the server's side of RFC 7692 §5–§7: it accepts the
// first permessage-deflate offer it can honour and returns the agreed
// parameters (with the response value), or nil.
func acceptDeflate(o *CompressionOptions, values [][]byte) *deflateParams {
	if o == nil || len(values) == 0 {
		return nil
	}
	var buf [4]extParams
	exts, ok := parseExtensions(values, buf[:0])
	if !ok {
		return nil
	}
	for _, x := range exts {
		if string(x.name) != extName {
			continue
		}
		p := &deflateParams{
			serverNoTakeover: x.serverNoTakeover || o.ServerNoContextTakeover,
			clientNoTakeover: x.clientNoTakeover || o.ClientNoContextTakeover,
			serverBits:       bitsOr15(o.ServerMaxWindowBits),
			clientBits:       15,
		}
		var buf [128]byte
		resp := append(buf[:0], extName...)
		if p.serverNoTakeover {
			resp = append(resp, "; server_no_context_takeover"...)
		}
		if p.clientNoTakeover {
			resp = append(resp, "; client_no_context_takeover"...)
		}
		if x.serverBits > 0 && x.serverBits < p.serverBits {
			p.serverBits = x.serverBits
		}
		if p.serverBits < 15 || x.serverBits > 0 {
			resp = strconv.AppendInt(append(resp, "; server_max_window_bits="...), int64(p.serverBits), 10)
		}
		if x.clientBits >= 0 {
			p.clientBits = bitsOr15(x.clientBits)
			if want := bitsOr15(o.ClientMaxWindowBits); want < p.clientBits {
				p.clientBits = want
			}
			if p.clientBits < 15 {
				resp = strconv.AppendInt(append(resp, "; client_max_window_bits="...), int64(p.clientBits), 10)
			}
		}
		p.response = extName
		if len(resp) > len(extName) {
			p.response = string(resp) // the one string kept
		}
		return p
	}
	return nil
}

// acceptedDeflate is the client's check of the server's answer (RFC 7692
// §5, §7): one permessage-deflate extension, with parameters within the
// offer made from o.
func acceptedDeflate(o *CompressionOptions, values [][]byte) (*deflateParams, error) {
	if len(values) == 0 {
		return nil, nil
	}
	var buf [2]extParams
	exts, ok := parseExtensions(values, buf[:0])
	switch {
	case !ok:
		return nil, detail("malformed Sec-WebSocket-Extensions")
	case len(exts) == 0:
		return nil, nil
	case o == nil || len(exts) != 1 || string(exts[0].name) != extName:
		return nil, detail("server accepted an extension that was not offered")
	}
	x := exts[0]
	if x.serverBits > 0 {
		if want := bitsOr15(o.ServerMaxWindowBits); x.serverBits > want {
			return nil, detail("server_max_window_bits above the offer")
		}
	}
	if x.clientBits == 0 {
		return nil, detail("client_max_window_bits without a value")
	}
	p := &deflateParams{
		serverNoTakeover: x.serverNoTakeover,
		clientNoTakeover: x.clientNoTakeover || o.ClientNoContextTakeover,
		serverBits:       15,
		clientBits:       bitsOr15(o.ClientMaxWindowBits),
		response:         string(values[0]),
	}
	if x.serverBits > 0 {
		p.serverBits = x.serverBits
	}
	if x.clientBits > 0 {
		if x.clientBits > p.clientBits {
			return nil, detail("client_max_window_bits above the offer")
		}
		p.clientBits = x.clientBits
	}
	if o.ServerNoContextTakeover && !p.serverNoTakeover {
		return nil, detail("server_no_context_takeover was requested but not agreed")
	}
	return p, nil
}
