package suite

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Sections 12 and 13: permessage-deflate (RFC 7692), after Autobahn's
// case12_x_x.py. Each case negotiates permessage-deflate, then sends
// messages one at a time, compressed by the engine (auto-fragmented into
// frames of the case's size where it has one), and waits for each echo,
// which the engine inflates with a checking decoder: every back-reference
// must stay within the agreed window (2^max_window_bits) and, under
// no_context_takeover, within the message itself.
//
// 12.1–12.5 use the default offer with five kinds of payload; 13.1–13.7
// use the JSON payload with seven offers (ModeServer: the engine is the
// client and offers) or seven ways of answering the client's offer
// (ModeClient: the engine is the server and answers). Autobahn sends
// 1000 messages per case; the CI set sends a few (at least three, so that
// context takeover carries across messages), the full set 1000.
//
// A peer that declines (no permessage-deflate in the answer, or a client
// that offered nothing the case's answer can accept) is UNIMPLEMENTED.

// pmdSize is one row of Autobahn's MSG_SIZES: message size, message
// count (full set), time limit, auto-fragment size.
type pmdSize struct{ size, count, secs, frag int }

var pmdSizes = []pmdSize{
	{16, 1000, 60, 0}, {64, 1000, 60, 0}, {256, 1000, 120, 0}, {1024, 1000, 240, 0},
	{4096, 1000, 480, 0}, {8192, 1000, 480, 0}, {16384, 1000, 480, 0}, {32768, 1000, 480, 0},
	{65536, 1000, 480, 0}, {131072, 1000, 480, 0},
	{8192, 1000, 480, 256}, {16384, 1000, 480, 256}, {32768, 1000, 480, 256}, {65536, 1000, 480, 256},
	{131072, 1000, 480, 256}, {131072, 1000, 480, 1024}, {131072, 1000, 480, 4096}, {131072, 1000, 480, 32768},
}

// ciCount is the number of messages of a CI run: about 128 KiB in all,
// between 3 and 20 messages.
func ciCount(size int) int { return min(20, max(3, 128*kib/size)) }

// pmdData is a test payload; messages are consecutive slices of it,
// wrapping around, as Autobahn takes them from its files.
type pmdData struct {
	desc string
	text bool
	gen  func() []byte
	once sync.Once
	data []byte
}

func (d *pmdData) bytes() []byte {
	d.once.Do(func() { d.data = d.gen() })
	return d.data
}

// Autobahn's data files are not ours to ship; these are generated,
// deterministic stand-ins of the same kinds and sizes, in the order
// Autobahn's reports number them. Text payloads are ASCII, so any slice
// is valid UTF-8.
var (
	pmdJSON  = &pmdData{desc: "large JSON data (text)", text: true, gen: genJSON}
	pmdImage = &pmdData{desc: "512×512 8-bit greyscale bitmap (binary)", gen: genBitmap}
	pmdProse = &pmdData{desc: "human-readable German text, UTF-8 (binary)", gen: genProse}
	pmdHTML  = &pmdData{desc: "large HTML file (text)", text: true, gen: genHTML}
	pmdPDF   = &pmdData{desc: "a larger PDF-like file, mostly compressed streams (binary)", gen: genPDF}
)

// pmdOffer is a 13.x parameter set: what the engine offers as a client,
// and how it answers as a server.
type pmdOffer struct {
	desc   string
	offers []DeflateParams // ModeServer: sent in this order
	accept func(DeflateParams) (DeflateParams, bool)
}

// autobahnOffer is Autobahn's PerMessageDeflateOffer: the client accepts
// no_context_takeover and a client window limit, and may request the
// server's.
func autobahnOffer(serverNoTakeover bool, serverBits int) DeflateParams {
	p := DeflateParams{ClientNoContextTakeover: true, ClientMaxWindowBits: 0,
		ServerNoContextTakeover: serverNoTakeover, ServerMaxWindowBits: -1}
	if serverBits > 0 {
		p.ServerMaxWindowBits = serverBits
	}
	return p
}

// answer accepts offer o as a server that honours it (server parameters
// as offered) and requests clientNoTakeover and clientBits (0: none) from
// the client. A client window limit may only be answered when the client
// offered client_max_window_bits (RFC 7692 §7.1.2.2); client_no_context_takeover
// may always be (§7.1.1.2).
func answer(o DeflateParams, clientNoTakeover bool, clientBits int) (DeflateParams, bool) {
	a := DeflateParams{ServerNoContextTakeover: o.ServerNoContextTakeover, ServerMaxWindowBits: o.ServerMaxWindowBits,
		ClientNoContextTakeover: clientNoTakeover, ClientMaxWindowBits: -1}
	if clientBits > 0 {
		if o.ClientMaxWindowBits < 0 {
			return a, false
		}
		a.ClientMaxWindowBits = clientBits
		if o.ClientMaxWindowBits > 0 && o.ClientMaxWindowBits < clientBits {
			a.ClientMaxWindowBits = o.ClientMaxWindowBits
		}
	}
	return a, true
}

func acceptWith(clientNoTakeover bool, clientBits int) func(DeflateParams) (DeflateParams, bool) {
	return func(o DeflateParams) (DeflateParams, bool) { return answer(o, clientNoTakeover, clientBits) }
}

var pmdOffers = []pmdOffer{
	{"offer (no_context_takeover, max_window_bits) [(false, 0)] / answer as offered",
		[]DeflateParams{autobahnOffer(false, 0)}, acceptWith(false, 0)},
	{"offer [(true, 0)]: server_no_context_takeover / answer client_no_context_takeover",
		[]DeflateParams{autobahnOffer(true, 0)}, acceptWith(true, 0)},
	{"offer [(false, 8)]: server_max_window_bits=8 / answer client_max_window_bits=8",
		[]DeflateParams{autobahnOffer(false, 8)}, acceptWith(false, 8)},
	{"offer [(false, 15)]: server_max_window_bits=15 / answer client_max_window_bits=15",
		[]DeflateParams{autobahnOffer(false, 15)}, acceptWith(false, 15)},
	{"offer [(true, 8)]: server_no_context_takeover, server_max_window_bits=8 / answer client_no_context_takeover, client_max_window_bits=8",
		[]DeflateParams{autobahnOffer(true, 8)}, acceptWith(true, 8)},
	{"offer [(true, 15)] / answer client_no_context_takeover, client_max_window_bits=15",
		[]DeflateParams{autobahnOffer(true, 15)}, acceptWith(true, 15)},
	{"offers [(true, 8), (true, 0), (false, 0)] / answer as 13.5, else 13.2, else 13.1",
		[]DeflateParams{autobahnOffer(true, 8), autobahnOffer(true, 0), autobahnOffer(false, 0)},
		func(o DeflateParams) (DeflateParams, bool) {
			if a, ok := answer(o, true, 8); ok {
				return a, true
			}
			return answer(o, true, 0)
		}},
}

func offerHeader(offers []DeflateParams) string {
	var s []string
	for _, o := range offers {
		s = append(s, o.String())
	}
	return strings.Join(s, ", ")
}

// Section D (ours): what Autobahn's offers leave out. Autobahn's client
// always offers client_no_context_takeover, which a server may simply
// echo, so a server's inflating with context takeover goes untested;
// and only windows of 8 and 15 bits are tried. D.1 is a browser's offer
// (takeover both ways; ModeServer), D.2 the bare offer, D.3–D.8 windows
// of 9–14 bits both ways (as a server, the engine answers with
// server_max_window_bits=N even when the client did not ask, RFC 7692
// §7.1.2.1, and compresses with that window).
var pmdExtraSizes = []pmdSize{{256, 1000, 120, 0}, {4096, 1000, 480, 0}, {65536, 1000, 480, 0}, {131072, 1000, 480, 1024}}

func windowOffer(n int) pmdOffer {
	return pmdOffer{fmt.Sprintf("offer client_max_window_bits=%d, server_max_window_bits=%d / answer both at %d", n, n, n),
		[]DeflateParams{{ClientMaxWindowBits: n, ServerMaxWindowBits: n}},
		func(o DeflateParams) (DeflateParams, bool) {
			a, ok := answer(o, false, n)
			if ok && (a.ServerMaxWindowBits < 0 || a.ServerMaxWindowBits > n) {
				a.ServerMaxWindowBits = n
			}
			return a, ok
		}}
}

func init() {
	for j, d := range []*pmdData{pmdJSON, pmdImage, pmdProse, pmdHTML, pmdPDF} {
		registerPMD(fmt.Sprintf("12.%d", j+1), d, pmdOffers[0], "the default offer", pmdSizes, 0)
	}
	for j, o := range pmdOffers {
		registerPMD(fmt.Sprintf("13.%d", j+1), pmdJSON, o, o.desc, pmdSizes, 0)
	}
	browser := pmdOffer{"a browser's offer (client_max_window_bits; takeover both ways)",
		[]DeflateParams{{ClientMaxWindowBits: 0, ServerMaxWindowBits: -1}}, acceptWith(false, 0)}
	bare := pmdOffer{"the bare offer (takeover both ways, 15-bit windows) / answer as offered",
		[]DeflateParams{{ClientMaxWindowBits: -1, ServerMaxWindowBits: -1}}, acceptWith(false, 0)}
	registerPMD("D.1", pmdHTML, browser, browser.desc, pmdExtraSizes, ModeServer)
	registerPMD("D.2", pmdProse, bare, bare.desc, pmdExtraSizes, 0)
	for n := 9; n <= 14; n++ {
		o := windowOffer(n)
		registerPMD(fmt.Sprintf("D.%d", n-6), pmdJSON, o, o.desc, pmdExtraSizes, 0)
	}
}

func registerPMD(sub string, d *pmdData, o pmdOffer, how string, sizes []pmdSize, modes Mode) {
	for i, s := range sizes {
		d, o, s := d, o, s
		frag := "no auto-fragmentation"
		if s.frag > 0 {
			frag = fmt.Sprintf("compressed payload auto-fragmented into %d-byte frames", s.frag)
		}
		Register(&Case{
			ID: fmt.Sprintf("%s.%d", sub, i+1),
			Desc: fmt.Sprintf("permessage-deflate with %s: %d compressed messages (%d in the CI set) of %d bytes of %s, %s",
				how, s.count, ciCount(s.size), s.size, d.desc, frag),
			Expect:  "Each message echoed with its payload; compressed echoes decompress within the agreed window and context takeover. Then a clean close.",
			Feature: "permessage-deflate",
			Modes:   modes,
			Offer:   offerHeader(o.offers),
			Raw:     true,
			Timeout: time.Duration(s.secs) * time.Second,
			Run:     func(t *T) { runPMD(t, d, o, s) },
		})
	}
}

// negotiate performs the opening handshake of a deflate case and returns
// whether permessage-deflate is in use.
func negotiate(t *T, o pmdOffer) bool {
	if t.Mode() == ModeServer {
		if err := t.OpenClient(t.Resource(), t.Host(), "Sec-WebSocket-Extensions: "+offerHeader(o.offers)); err != nil {
			t.Fail("opening handshake: %v", err)
			return false
		}
		ans := t.Extensions()
		if ans == "" {
			t.Unimplemented("the server declined permessage-deflate (offer %q)", offerHeader(o.offers))
			t.CloseNormal()
			return false
		}
		a, soft, err := CheckDeflateAnswer(ans, o.offers)
		if err != nil {
			t.Fail("the server answered %q to our offer %q: %v", ans, offerHeader(o.offers), err)
			return false
		}
		if soft != "" {
			t.NonStrict("the server answered %q: %s", ans, soft)
		}
		t.UseDeflate(a)
		return true
	}
	req := t.Req
	if err := req.Check(); err != nil {
		t.Fail("client's opening handshake: %v", err)
		return false
	}
	values := req.Header.Values("Sec-WebSocket-Extensions")
	offers, bad, err := ParseOffers(values)
	if err != nil {
		t.Fail("client's Sec-WebSocket-Extensions %q: %v", values, err)
		return false
	}
	for _, b := range bad {
		t.Logf("declined a permessage-deflate offer of the client: %s", b)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	for _, of := range offers {
		a, ok := o.accept(of)
		if !ok {
			continue
		}
		t.UseDeflate(a) // before Start: RSV1 is allowed from the first frame on
		t.Write(UpgradeResponse(key, "Sec-WebSocket-Extensions: "+a.String()))
		t.Start()
		return true
	}
	t.Write(UpgradeResponse(key))
	t.Start()
	if len(offers) == 0 {
		t.Unimplemented("the client offered no usable permessage-deflate (%q)", values)
	} else {
		t.Unimplemented("the client's offer %q does not allow this case's answer", values)
	}
	t.CloseNormal()
	return false
}

func runPMD(t *T, d *pmdData, o pmdOffer, s pmdSize) {
	if !negotiate(t, o) {
		return
	}
	data := d.bytes()
	count := s.count
	if !t.Full() {
		count = ciCount(s.size)
	}
	pos := 0
	msg := make([]byte, s.size)
	for i := 0; i < count; i++ {
		for n := 0; n < s.size; {
			k := copy(msg[n:], data[pos:])
			n += k
			pos = (pos + k) % len(data)
		}
		t.SendDeflate(d.text, msg, s.frag)
		if !t.Expect(want(d.text, msg)) {
			t.Logf("at message %d of %d; %s", i+1, count, t.DeflateStats())
			return
		}
	}
	t.Logf("%s", t.DeflateStats())
	t.CloseNormal()
}

// The generated payloads.

func genRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

var (
	pmdWords = strings.Fields(`der die das und ist nicht ich du er sie es wir ihr mit auf für von zu
		Faust Mephistopheles Gretchen Wagner Himmel Erde Geist Welt Nacht Tag Herz Seele
		Natur Leben Liebe Wissenschaft Teufel Gott Mensch Zeit Kraft Tat Wort Sinn Lust
		schön bald möchte Augenblick verweile über müssen Blüte Träume ewig Wesen Grün`)
	pmdASCIIWords = strings.Fields(`alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu
		nu xi omicron pi rho sigma tau upsilon phi chi psi omega server client message frame
		window context takeover deflate inflate socket stream buffer token session user`)
)

func genJSON() []byte {
	r := genRand(12)
	var sb strings.Builder
	sb.WriteString("[\n")
	for i := 0; sb.Len() < 194000; i++ {
		if i > 0 {
			sb.WriteString(",\n")
		}
		w := pmdASCIIWords
		fmt.Fprintf(&sb, `  {"id": %d, "guid": "%08x-%04x-%04x", "isActive": %v, "balance": "$%d.%02d", "age": %d, "name": "%s %s", "email": "%s.%s@example.com", "tags": ["%s", "%s", "%s"], "about": "%s %s %s %s %s.", "latitude": %.6f, "longitude": %.6f}`,
			i, r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.IntN(2) == 0, r.IntN(4000), r.IntN(100), 20+r.IntN(50),
			w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))],
			w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))],
			w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))], w[r.IntN(len(w))],
			r.Float64()*180-90, r.Float64()*360-180)
	}
	sb.WriteString("\n]\n")
	return []byte(sb.String())
}

func genBitmap() []byte {
	const w, h = 512, 512
	r := genRand(13)
	b := make([]byte, 0, 1078+w*h)
	b = append(b, "BM"...)
	b = append(b, make([]byte, 52)...) // header fields, zero
	for i := 0; i < 256; i++ {
		b = append(b, byte(i), byte(i), byte(i), 0) // grey palette
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 128 + 60*sinApprox(float64(x)/37) + 50*sinApprox(float64(y)/23+float64(x)/91) + float64(r.IntN(9)) - 4
			b = append(b, byte(min(255, max(0, v))))
		}
	}
	return b
}

// sinApprox is a cheap smooth periodic function in [-1, 1].
func sinApprox(x float64) float64 {
	x -= 2 * float64(int(x/2))
	if x < 0 {
		x += 2
	}
	if x > 1 {
		x = 2 - x
	}
	return 2*x*x*(3-2*x) - 1
}

func genProse() []byte {
	r := genRand(14)
	var sb strings.Builder
	for sb.Len() < 222000 {
		n := 4 + r.IntN(14)
		for i := 0; i < n; i++ {
			w := pmdWords[r.IntN(len(pmdWords))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			sb.WriteString(w)
			if i < n-1 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString([]string{".", "!", "?", ",", ";"}[r.IntN(5)])
		if r.IntN(4) == 0 {
			sb.WriteString("\r\n")
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String())
}

func genHTML() []byte {
	r := genRand(15)
	w := pmdASCIIWords
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Test page</title>\n<link rel=\"stylesheet\" href=\"/static/site.css\"></head>\n<body>\n")
	for sb.Len() < 83000 {
		fmt.Fprintf(&sb, "<div class=\"section %s\" id=\"s%d\">\n  <h2>%s %s</h2>\n  <p>", w[r.IntN(len(w))], r.IntN(10000), w[r.IntN(len(w))], w[r.IntN(len(w))])
		for i := 0; i < 10+r.IntN(30); i++ {
			sb.WriteString(w[r.IntN(len(w))] + " ")
		}
		fmt.Fprintf(&sb, "</p>\n  <ul>\n    <li><a href=\"/%s/%d.html\">%s</a></li>\n    <li><a href=\"/%s/%d.html\">%s</a></li>\n  </ul>\n</div>\n",
			w[r.IntN(len(w))], r.IntN(1000), w[r.IntN(len(w))], w[r.IntN(len(w))], r.IntN(1000), w[r.IntN(len(w))])
	}
	sb.WriteString("</body>\n</html>\n")
	return []byte(sb.String())
}

func genPDF() []byte {
	r := genRand(16)
	var b []byte
	b = append(b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"...)
	for obj := 1; len(b) < 1<<20; obj++ {
		if obj%3 == 0 {
			b = fmt.Appendf(b, "%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>\nendobj\n", obj, obj+1)
			continue
		}
		n := 2000 + r.IntN(30000)
		b = fmt.Appendf(b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", obj, n)
		for i := 0; i < n; i++ {
			b = append(b, byte(r.Uint32()))
		}
		b = append(b, "\nendstream\nendobj\n"...)
	}
	return append(b, "trailer\n<< /Root 1 0 R >>\n%%EOF\n"...)
}
