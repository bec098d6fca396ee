package suite

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692) on the engine's side: parsing offers and
// answers, checking an answer against the offers, compressing our
// messages with the agreed window and context takeover, and inflating
// the peer's messages with inflateMessage, which checks the window and
// context the peer agreed to.

// DeflateParams is one permessage-deflate element of a
// Sec-WebSocket-Extensions value. Window bits are -1 when absent and 0
// when present without a value (client_max_window_bits in an offer).
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// String renders the element as an extension value.
func (p DeflateParams) String() string {
	s := "permessage-deflate"
	if p.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if p.ClientMaxWindowBits == 0 {
		s += "; client_max_window_bits"
	} else if p.ClientMaxWindowBits > 0 {
		s += "; client_max_window_bits=" + strconv.Itoa(p.ClientMaxWindowBits)
	}
	if p.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if p.ServerMaxWindowBits > 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.ServerMaxWindowBits)
	}
	return s
}

// extElement is one extension of a Sec-WebSocket-Extensions value.
type extElement struct {
	name   string
	params []string // "name" or "name=value", trimmed
}

// splitExtensions splits header values into extension elements (RFC 6455
// §9.1), honouring quoted strings.
func splitExtensions(values []string) ([]extElement, error) {
	var out []extElement
	for _, v := range values {
		for _, e := range splitOutsideQuotes(v, ',') {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			parts := splitOutsideQuotes(e, ';')
			el := extElement{name: strings.TrimSpace(parts[0])}
			if !isToken(el.name) {
				return nil, fmt.Errorf("extension name %q is not a token", el.name)
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				name, val, has := strings.Cut(p, "=")
				name = strings.TrimSpace(name)
				if !isToken(name) {
					return nil, fmt.Errorf("parameter name %q is not a token", name)
				}
				if has {
					val = strings.TrimSpace(val)
					if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
						val = val[1 : len(val)-1]
					}
					if !isToken(val) {
						return nil, fmt.Errorf("parameter value %q is not a token", val)
					}
					p = name + "=" + val
				} else {
					p = name
				}
				el.params = append(el.params, p)
			}
			out = append(out, el)
		}
	}
	return out, nil
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// parseDeflate parses permessage-deflate's parameters (RFC 7692 §7.1):
// known names only, each at most once, window bits 8–15 without leading
// zeros. inOffer says whether a client_max_window_bits without value is
// allowed (it is in an offer, not in an answer); server_max_window_bits
// always needs a value.
func parseDeflate(el extElement, inOffer bool) (DeflateParams, error) {
	p := DeflateParams{ServerMaxWindowBits: -1, ClientMaxWindowBits: -1}
	seen := map[string]bool{}
	for _, raw := range el.params {
		name, val, has := strings.Cut(raw, "=")
		if seen[name] {
			return p, fmt.Errorf("parameter %s repeated", name)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if has {
				return p, fmt.Errorf("%s has a value", name)
			}
			if name[0] == 's' {
				p.ServerNoContextTakeover = true
			} else {
				p.ClientNoContextTakeover = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			n := 0
			if has {
				var err error
				n, err = strconv.Atoi(val)
				if err != nil || n < 8 || n > 15 || val[0] == '0' || val[0] == '+' {
					return p, fmt.Errorf("%s=%s is not 8–15", name, val)
				}
			} else if name[0] == 's' || !inOffer {
				return p, fmt.Errorf("%s without a value", name)
			}
			if name[0] == 's' {
				p.ServerMaxWindowBits = n
			} else {
				p.ClientMaxWindowBits = n
			}
		default:
			return p, fmt.Errorf("unknown parameter %q", raw)
		}
	}
	return p, nil
}

// ParseOffers parses a client's Sec-WebSocket-Extensions values into its
// permessage-deflate offers, in order. Offers of other extensions are
// skipped; a permessage-deflate offer with invalid parameters is skipped
// and described in bad (a server must decline it, RFC 7692 §5).
func ParseOffers(values []string) (offers []DeflateParams, bad []string, err error) {
	els, err := splitExtensions(values)
	if err != nil {
		return nil, nil, err
	}
	for _, el := range els {
		if el.name != "permessage-deflate" {
			continue
		}
		p, err := parseDeflate(el, true)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		offers = append(offers, p)
	}
	return offers, bad, nil
}

// CheckDeflateAnswer validates a server's Sec-WebSocket-Extensions answer
// against the offers a client made (RFC 7692 §5, §7.1): exactly one
// permessage-deflate element, valid parameters, and consistent with at
// least one offer: server_no_context_takeover kept when offered,
// server_max_window_bits at most the offered value when one was offered,
// client_max_window_bits only when offered (and at most its value).
//
// An answer that leaves out server_max_window_bits when the offer asked
// for 15 bits breaks that MUST harmlessly (15 is the most a server can
// use): it is accepted and described in soft, for NON-STRICT.
func CheckDeflateAnswer(answer string, offers []DeflateParams) (a DeflateParams, soft string, err error) {
	els, err := splitExtensions([]string{answer})
	if err != nil {
		return DeflateParams{}, "", err
	}
	if len(els) != 1 {
		return DeflateParams{}, "", fmt.Errorf("%d extensions accepted, want one", len(els))
	}
	if els[0].name != "permessage-deflate" {
		return DeflateParams{}, "", fmt.Errorf("extension %q was not offered", els[0].name)
	}
	a, err = parseDeflate(els[0], false)
	if err != nil {
		return a, "", err
	}
	var why []string
	softFor := map[int]string{}
	for i, o := range offers {
		var bad []string
		if o.ServerNoContextTakeover && !a.ServerNoContextTakeover {
			bad = append(bad, "server_no_context_takeover was offered but not answered")
		}
		switch {
		case o.ServerMaxWindowBits == 15 && a.ServerMaxWindowBits < 0:
			softFor[i] = "server_max_window_bits=15 was offered and the answer leaves it out (RFC 7692 §7.1.2.1: it MUST be included; harmless at 15)"
		case o.ServerMaxWindowBits > 0 && (a.ServerMaxWindowBits < 0 || a.ServerMaxWindowBits > o.ServerMaxWindowBits):
			bad = append(bad, fmt.Sprintf("server_max_window_bits=%d was offered; the answer must have a value at most that (RFC 7692 §7.1.2.1)", o.ServerMaxWindowBits))
		}
		if a.ClientMaxWindowBits > 0 && o.ClientMaxWindowBits < 0 {
			bad = append(bad, "client_max_window_bits answered but not offered")
		}
		if a.ClientMaxWindowBits > 0 && o.ClientMaxWindowBits > 0 && a.ClientMaxWindowBits > o.ClientMaxWindowBits {
			bad = append(bad, "client_max_window_bits above the offered value")
		}
		if len(bad) == 0 {
			return a, softFor[i], nil
		}
		why = append(why, fmt.Sprintf("offer %d: %s", i+1, strings.Join(bad, ", ")))
	}
	return a, "", errors.New(strings.Join(why, "; "))
}

func bits(n int) int {
	if n <= 0 {
		return 15
	}
	return n
}

// pmdState is the agreed permessage-deflate state of a connection, from
// the engine's point of view.
type pmdState struct {
	agreed       DeflateParams
	sendBits     int
	sendTakeover bool
	recvBits     int
	recvTakeover bool

	fw   *flate.Writer
	out  bytes.Buffer
	hist []byte // the peer's recent output, with its context takeover

	sentMsgs, sentRaw, sentZ  int
	gotZ, gotPlain            int
	gotZBytes, gotZOut, gotRf int // compressed payload bytes, their output, messages referring to earlier ones
	maxDist                   int
}

// UseDeflate switches the connection to the agreed permessage-deflate
// parameters: the peer may set RSV1 on a message's first frame, our
// messages sent with SendDeflate are compressed, and the peer's
// compressed messages are inflated (and checked) before cases see them.
func (t *T) UseDeflate(p DeflateParams) {
	z := &pmdState{agreed: p}
	if t.mode == ModeServer { // we are the client
		z.sendBits, z.sendTakeover = bits(p.ClientMaxWindowBits), !p.ClientNoContextTakeover
		z.recvBits, z.recvTakeover = bits(p.ServerMaxWindowBits), !p.ServerNoContextTakeover
	} else {
		z.sendBits, z.sendTakeover = bits(p.ServerMaxWindowBits), !p.ServerNoContextTakeover
		z.recvBits, z.recvTakeover = bits(p.ClientMaxWindowBits), !p.ClientNoContextTakeover
	}
	t.pmd = z
	t.AllowRsv(4)
}

// Deflate compresses p as one message with the agreed parameters (RFC
// 7692 §7.2.1: sync flush, trailing 0x00 0x00 0xff 0xff removed).
func (t *T) Deflate(p []byte) []byte {
	z := t.pmd
	if z.fw == nil || !z.sendTakeover {
		z.out.Reset()
		if z.fw != nil {
			z.fw.Reset(&z.out)
		} else if z.sendBits < 15 {
			z.fw, _ = flate.NewWriterWindow(&z.out, 1<<z.sendBits)
		} else {
			z.fw, _ = flate.NewWriter(&z.out, flate.DefaultCompression)
		}
	}
	z.out.Reset()
	z.fw.Write(p)
	z.fw.Flush()
	b := bytes.TrimSuffix(z.out.Bytes(), []byte{0, 0, 0xff, 0xff})
	out := append([]byte(nil), b...)
	z.sentMsgs++
	z.sentRaw += len(p)
	z.sentZ += len(out)
	return out
}

// SendDeflate sends p as one compressed message, its compressed payload
// split into frames of frag bytes (0: one frame); RSV1 is set on the
// first frame only (RFC 7692 §6).
func (t *T) SendDeflate(text bool, p []byte, frag int) {
	op := OpBinary
	if text {
		op = OpText
	}
	z := t.Deflate(p)
	if frag <= 0 || frag >= len(z) {
		t.Send(Frame{Fin: true, Rsv: 4, Op: op, Payload: z})
		return
	}
	var fs []Frame
	for i := 0; i < len(z); i += frag {
		end := min(i+frag, len(z))
		f := Frame{Fin: end == len(z), Op: OpCont, Payload: z[i:end]}
		if i == 0 {
			f.Op, f.Rsv = op, 4
		}
		fs = append(fs, f)
	}
	t.Send(fs...)
}

// inflateEvent replaces a compressed message's payload with its
// decompressed form; a message that does not decompress within the
// agreed parameters becomes a protocol-violation event.
func (t *T) inflateEvent(ev *Event) {
	z := t.pmd
	if ev.Rsv&4 == 0 {
		z.gotPlain++
		return
	}
	lim := inflateLimits{maxDist: 1 << z.recvBits, maxOut: maxMessage}
	if z.recvTakeover {
		lim.hist = z.hist
	}
	res, err := inflateMessage(ev.Data, lim)
	if err != nil {
		what := "context takeover"
		if !z.recvTakeover {
			what = "no context takeover"
		}
		*ev = Event{Kind: EvProto, At: ev.At, Err: fmt.Errorf(
			"the peer's compressed %d-byte message (compressed message %d) does not decompress within the agreed %d-bit window and %s: %v",
			len(ev.Data), z.gotZ+1, z.recvBits, what, err)}
		return
	}
	z.gotZ++
	z.gotZBytes += len(ev.Data)
	z.gotZOut += len(res.out)
	z.maxDist = max(z.maxDist, res.maxDist)
	if res.intoHist {
		z.gotRf++
	}
	if z.recvTakeover {
		// Even after a block with BFINAL set the window carries over:
		// the next message's data may still refer to this output.
		z.hist = append(z.hist, res.out...)
		if n := len(z.hist) - 1<<15; n > 0 {
			z.hist = append(z.hist[:0], z.hist[n:]...)
		}
	}
	ev.Data = res.out
	if ev.Text && !utf8.Valid(ev.Data) {
		*ev = Event{Kind: EvProto, At: ev.At, Err: fmt.Errorf("peer sent a compressed text message that is not valid UTF-8 (%d bytes)", len(res.out))}
	}
}

// DeflateStats describes the compressed traffic of the connection.
func (t *T) DeflateStats() string {
	z := t.pmd
	if z == nil {
		return "permessage-deflate not in use"
	}
	s := fmt.Sprintf("agreed %q; we sent %d messages (%d → %d bytes, %d-bit window, takeover %v); peer sent %d compressed (%d → %d bytes, largest distance %d, %d referring to earlier messages) and %d uncompressed messages (its window %d bits, takeover %v)",
		z.agreed.String(), z.sentMsgs, z.sentRaw, z.sentZ, z.sendBits, z.sendTakeover,
		z.gotZ, z.gotZBytes, z.gotZOut, z.maxDist, z.gotRf, z.gotPlain, z.recvBits, z.recvTakeover)
	return s
}
