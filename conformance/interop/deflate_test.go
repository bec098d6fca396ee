package interop

// permessage-deflate (RFC 7692) with the extension really negotiated: our
// side has Config.Compression set, the peer offers or accepts the extension
// and compresses everything it sends (peer.js: threshold 0; peer.py:
// websockets always compresses), and every connection checks that both sides
// agreed on permessage-deflate with the same parameters.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dillgo/ws"
)

// deflateParams are agreed permessage-deflate parameters, as the peers
// report them and as parseDeflate reads our Extensions(); window bits are
// 15 when the parameter is absent.
type deflateParams struct {
	ServerNoContextTakeover bool `json:"server_no_context_takeover"`
	ClientNoContextTakeover bool `json:"client_no_context_takeover"`
	ServerMaxWindowBits     int  `json:"server_max_window_bits"`
	ClientMaxWindowBits     int  `json:"client_max_window_bits"`
}

func (p deflateParams) String() string {
	s := fmt.Sprintf("server_max_window_bits=%d client_max_window_bits=%d", p.ServerMaxWindowBits, p.ClientMaxWindowBits)
	if p.ServerNoContextTakeover {
		s += " server_no_context_takeover"
	}
	if p.ClientNoContextTakeover {
		s += " client_no_context_takeover"
	}
	return s
}

// parseDeflate reads the permessage-deflate element of a
// Sec-WebSocket-Extensions value.
func parseDeflate(ext string) (deflateParams, error) {
	for _, e := range strings.Split(ext, ",") {
		parts := strings.Split(e, ";")
		if strings.TrimSpace(parts[0]) != "permessage-deflate" {
			continue
		}
		p := deflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		for _, kv := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
			bits := func() (int, error) {
				if v == "" {
					return 15, nil
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < 8 || n > 15 {
					return 0, fmt.Errorf("%s=%q in %q", k, v, ext)
				}
				return n, nil
			}
			var err error
			switch k {
			case "server_no_context_takeover":
				p.ServerNoContextTakeover = true
			case "client_no_context_takeover":
				p.ClientNoContextTakeover = true
			case "server_max_window_bits":
				p.ServerMaxWindowBits, err = bits()
			case "client_max_window_bits":
				p.ClientMaxWindowBits, err = bits()
			default:
				err = fmt.Errorf("unknown parameter %q in %q", k, ext)
			}
			if err != nil {
				return p, err
			}
		}
		return p, nil
	}
	return deflateParams{}, fmt.Errorf("no permessage-deflate in %q", ext)
}

// deflateVariant is one configuration of the extension: our options and the
// peer's (nil: the peer library's defaults).
type deflateVariant struct {
	name   string
	ours   ws.CompressionOptions
	node   map[string]any // PerMessageDeflate options of Node's ws
	python map[string]any // (Server|Client)PerMessageDeflateFactory arguments
	// check, when set, tells whether the agreed parameters honour the
	// variant's requests.
	check func(p deflateParams) error
}

func (v deflateVariant) peerOptions(kind string) map[string]any {
	if kind == "node" {
		return v.node
	}
	return v.python
}

var deflateVariants = []deflateVariant{
	{
		name: "ours-server-no-context-takeover",
		ours: ws.CompressionOptions{ServerNoContextTakeover: true},
		check: func(p deflateParams) error {
			return want(p.ServerNoContextTakeover, "server_no_context_takeover")
		},
	},
	{
		name: "ours-client-no-context-takeover",
		ours: ws.CompressionOptions{ClientNoContextTakeover: true},
		check: func(p deflateParams) error {
			return want(p.ClientNoContextTakeover, "client_no_context_takeover")
		},
	},
	{
		name: "ours-max-window-bits-10-9",
		ours: ws.CompressionOptions{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9},
		check: func(p deflateParams) error {
			return want(p.ServerMaxWindowBits <= 10 && p.ClientMaxWindowBits <= 9, "server_max_window_bits ≤ 10 and client_max_window_bits ≤ 9")
		},
	},
	{
		name:   "peer-no-context-takeover-both",
		node:   map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true},
		python: map[string]any{"server_no_context_takeover": true, "client_no_context_takeover": true},
		check: func(p deflateParams) error {
			return want(p.ServerNoContextTakeover && p.ClientNoContextTakeover, "server_no_context_takeover and client_no_context_takeover")
		},
	},
	{
		name:   "peer-max-window-bits-10-11",
		node:   map[string]any{"serverMaxWindowBits": 10, "clientMaxWindowBits": 11},
		python: map[string]any{"server_max_window_bits": 10, "client_max_window_bits": 11},
		check: func(p deflateParams) error {
			return want(p.ServerMaxWindowBits == 10 && p.ClientMaxWindowBits == 11, "server_max_window_bits=10 and client_max_window_bits=11")
		},
	},
	{
		name:   "level-9-threshold-all-no-takeover-bits-9",
		ours:   ws.CompressionOptions{Level: 9, Threshold: -1, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 9},
		node:   map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true, "serverMaxWindowBits": 9, "clientMaxWindowBits": 9},
		python: map[string]any{"server_no_context_takeover": true, "client_no_context_takeover": true, "server_max_window_bits": 9, "client_max_window_bits": 9},
		check: func(p deflateParams) error {
			return want(p == deflateParams{true, true, 9, 9}, "both no_context_takeover, both window bits 9")
		},
	},
}

func want(ok bool, what string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("want %s", what)
}

// jsonText returns n bytes of compressible, JSON-like UTF-8 text: records
// that repeat with varying fields, cut at n (padded with spaces so that no
// code point is split).
func jsonText(n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 256)
	b.WriteByte('[')
	cities := []string{"Zürich", "Kraków", "São Paulo", "東京", "Αθήνα"}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","city":%q,"active":%t,"score":%d.%d,"tags":["alpha","beta","gamma"]},`,
			i, i%97, cities[i%len(cities)], i%3 == 0, i%1000, i%10)
	}
	p := b.Bytes()[:n]
	for k := len(p); k > 0 && k > len(p)-utf8.UTFMax; k-- {
		if utf8.RuneStart(p[k-1]) {
			if !utf8.FullRune(p[k-1:]) {
				for j := k - 1; j < len(p); j++ {
					p[j] = ' '
				}
			}
			break
		}
	}
	return p
}

// deflateSizes are the echo sizes of the default configuration.
var deflateSizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20}

// deflateLink opens a connection for scenario with permessage-deflate asked
// of the peer (with peerOpts, nil for its defaults) and checks both sides
// agreed on it with the same parameters.
func deflateLink(t *testing.T, s *session, scenario string, v *deflateVariant) *link {
	t.Helper()
	o := connOptions{deflate: true}
	if v != nil {
		o.peerDeflate = v.peerOptions(s.peer.kind)
	}
	l := s.dial(t, scenario, o)
	ours := l.ep.(interface{ Extensions() string }).Extensions()
	if !strings.Contains(ours, "permessage-deflate") {
		t.Fatalf("our side did not negotiate permessage-deflate with the %s peer: Extensions() = %q (peer: %q)", s.peer.kind, ours, l.open.Extensions)
	}
	if l.open.DeflateParams == nil || !strings.Contains(l.open.Extensions, "permessage-deflate") {
		t.Fatalf("the %s peer did not negotiate permessage-deflate: extensions %q; ours %q", s.peer.kind, l.open.Extensions, ours)
	}
	p, err := parseDeflate(ours)
	if err != nil {
		t.Fatalf("our Extensions(): %v", err)
	}
	if p != *l.open.DeflateParams {
		t.Errorf("agreed parameters differ: ours %q = {%v}, the %s peer's {%v}", ours, p, s.peer.kind, *l.open.DeflateParams)
	}
	if v != nil && v.check != nil {
		if err := v.check(p); err != nil {
			t.Errorf("variant %s: agreed %q: %v", v.name, ours, err)
		}
	}
	t.Logf("negotiated: ours %q; %s peer {%v}", ours, s.peer.kind, *l.open.DeflateParams)
	return l
}

func testDeflateEcho(t *testing.T, s *session, v *deflateVariant, text bool, msg []byte) {
	ctx := scenarioContext(t)
	l := deflateLink(t, s, "echo", v)
	if err := l.ep.Send(ctx, text, msg); err != nil {
		t.Fatalf("Send %s %s: %v", kindName(text), describe(msg), err)
	}
	if !expectMessage(t, ctx, l, text, msg) {
		return
	}
	checkCompressed(t, l, text, len(msg))
	weClose(t, ctx, l, 1000, "")
}

// checkCompressed checks, for a JSON-like text message of n bytes sent and
// echoed, that both directions carried it compressed: fewer than half its
// bytes crossed the wire each way (handshake included).
func checkCompressed(t *testing.T, l *link, text bool, n int) {
	t.Helper()
	w, ok := l.ep.(interface{ wireBytes() (int64, int64, bool) })
	if !ok || !text || n < 4096 {
		return
	}
	read, written, ok := w.wireBytes()
	if !ok {
		return
	}
	t.Logf("%d-byte message: %d bytes written, %d read on the wire", n, written, read)
	if written > int64(n/2) {
		t.Errorf("we sent a %d-byte JSON-like message in %d bytes on the wire: not compressed", n, written)
	}
	if read > int64(n/2) {
		t.Errorf("the %s peer echoed a %d-byte JSON-like message in %d bytes on the wire: not compressed", l.peer.kind, n, read)
	}
}

// testDeflateOrder sends count JSON-like messages, alike enough for context
// takeover to matter, and checks the echoes in order; every fifth one is
// binary and every seventh one short (below the default threshold).
func testDeflateOrder(t *testing.T, s *session, v *deflateVariant, count int) {
	ctx := scenarioContext(t)
	l := deflateLink(t, s, "echo", v)
	msg := func(i int) (bool, []byte) {
		if i%7 == 3 {
			return true, []byte(fmt.Sprintf(`{"seq":%d}`, i))
		}
		return i%5 != 4, append([]byte(fmt.Sprintf(`{"seq":%d,"data":`, i)), jsonText(200+i*37%3000)...)
	}
	echoInOrder(t, ctx, l, count, msg)
}

// testDeflateFragments has the peer send the fragments scenario's messages
// compressed (a compressed message cut into frames, a ping between two).
func testDeflateFragments(t *testing.T, s *session, v *deflateVariant) {
	ctx := scenarioContext(t)
	l := deflateLink(t, s, "fragments", v)
	for i, m := range fragmentsExpected() {
		if !expectMessage(t, ctx, l, m.text, m.data) {
			t.Fatalf("at compressed fragmented message %d", i+1)
		}
	}
	// Then an echo on the same contexts.
	msg := jsonText(10000)
	if err := l.ep.Send(ctx, true, msg); err != nil {
		t.Fatal(err)
	}
	if !expectMessage(t, ctx, l, true, msg) {
		return
	}
	weClose(t, ctx, l, 1000, "")
}

// testDeflateStream sends a compressed 1 MiB message through our streaming
// writer (so compressed and fragmented by us) and reads the compressed echo
// through our streaming reader.
func testDeflateStream(t *testing.T, s *session, v *deflateVariant) {
	ctx := scenarioContext(t)
	l := deflateLink(t, s, "echo", v)
	msg := jsonText(1 << 20)
	for range 2 {
		if err := l.ep.SendParts(ctx, true, streamParts(msg)); err != nil {
			t.Fatalf("streaming %s: %v", describe(msg), err)
		}
		got, text, err := l.ep.RecvStream(ctx, 7000)
		if err != nil {
			t.Fatalf("reading the echo through the streaming reader: %v (%d bytes read)", err, len(got))
		}
		if !text || !bytes.Equal(got, msg) {
			t.Fatalf("streaming reader: want text %s, got %s %s%s", describe(msg), kindName(text), describe(got), firstDiff(got, msg))
		}
	}
	weClose(t, ctx, l, 1000, "")
}

// deflateScenarios are run with the extension in its default configuration
// on both sides; big adds the 16 MiB echo.
func deflateScenarios(big bool) []scenario {
	var list []scenario
	for _, n := range deflateSizes {
		if n > 1<<20 && !big {
			continue
		}
		list = append(list, scenario{name: fmt.Sprintf("echo/json/%d", n), run: func(t *testing.T, s *session) {
			testDeflateEcho(t, s, nil, true, jsonText(n))
		}})
	}
	list = append(list,
		scenario{name: "echo/binary/65536", run: func(t *testing.T, s *session) { testDeflateEcho(t, s, nil, false, pattern(65536)) }},
		scenario{name: "echo/utf8-text/65536", run: func(t *testing.T, s *session) { testDeflateEcho(t, s, nil, true, textOf(65536)) }},
		scenario{name: "order/100", run: func(t *testing.T, s *session) { testDeflateOrder(t, s, nil, 100) }},
		scenario{name: "fragments-from-peer", run: func(t *testing.T, s *session) { testDeflateFragments(t, s, nil) }},
		scenario{name: "stream/both-ways/1MiB", run: func(t *testing.T, s *session) { testDeflateStream(t, s, nil) }},
	)
	return list
}

// variantScenarios are run for every deflateVariant.
func variantScenarios(v *deflateVariant) []scenario {
	return []scenario{
		{name: "echo/json/65536", run: func(t *testing.T, s *session) { testDeflateEcho(t, s, v, true, jsonText(65536)) }},
		{name: "order/100", run: func(t *testing.T, s *session) { testDeflateOrder(t, s, v, 100) }},
		{name: "fragments-from-peer", run: func(t *testing.T, s *session) { testDeflateFragments(t, s, v) }},
	}
}

// deflateFlag is the peer server's flag for peer options.
func deflateFlag(opts map[string]any) string {
	if opts == nil {
		return "--deflate"
	}
	b, err := json.Marshal(opts)
	if err != nil {
		panic(err)
	}
	return "--deflate=" + string(b)
}

type wsLibrary func(name string, comp *ws.CompressionOptions) library

// runDeflatePeer runs the deflate scenarios against one peer kind, in both
// roles, through both of our entry points; the 16 MiB echo only through
// the first.
func runDeflatePeer(t *testing.T, kind peerKind) {
	for i, entry := range []struct {
		name string
		lib  wsLibrary
	}{{"attach", wsAttachLib}, {"http", wsHTTPLibrary}} {
		t.Run(entry.name, func(t *testing.T) {
			lib := entry.lib("ws+deflate", &ws.CompressionOptions{})
			t.Run("peer-server", func(t *testing.T) {
				s := asServer(t, lib, kind, "--deflate")
				for _, sc := range deflateScenarios(i == 0) {
					t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
				}
			})
			t.Run("peer-client", func(t *testing.T) {
				s := asClient(t, lib, kind)
				for _, sc := range deflateScenarios(i == 0) {
					t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
				}
			})
			for _, v := range deflateVariants {
				lib := entry.lib("ws+deflate "+v.name, &v.ours)
				t.Run(v.name, func(t *testing.T) {
					t.Run("peer-server", func(t *testing.T) {
						s := asServer(t, lib, kind, deflateFlag(v.peerOptions(kind.name)))
						for _, sc := range variantScenarios(&v) {
							t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
						}
					})
					t.Run("peer-client", func(t *testing.T) {
						s := asClient(t, lib, kind)
						for _, sc := range variantScenarios(&v) {
							t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
						}
					})
				})
			}
		})
	}
}

// TestNodeDeflate: permessage-deflate negotiated between ws and Node's ws.
func TestNodeDeflate(t *testing.T) {
	defer withRow(reportRow(t, "Node ws", "permessage-deflate", "HTTP/1.1"))()
	runDeflatePeer(t, nodePeer)
}

// TestPythonDeflate: permessage-deflate negotiated between ws and Python's
// websockets.
func TestPythonDeflate(t *testing.T) {
	defer withRow(reportRow(t, "Python websockets", "permessage-deflate", "HTTP/1.1"))()
	runDeflatePeer(t, pythonPeer)
}

// TestChromiumDeflate: Chromium (which always offers permessage-deflate)
// against our server with Config.Compression set, through AttachServer and
// Upgrade: testdata/page.html with ?deflate=1.
func TestChromiumDeflate(t *testing.T) {
	defer withRow(reportRow(t, "Chromium", "permessage-deflate, AttachServer and Upgrade", "HTTP/1.1"))()
	comp := &ws.CompressionOptions{}
	t.Run("attach", func(t *testing.T) { runChromium(t, wsAttachLib("ws+deflate", comp), true) })
	t.Run("http", func(t *testing.T) { runChromium(t, wsHTTPLibrary("ws+deflate (Dial/Upgrade)", comp), true) })
	// Our server asks for no context takeover and smaller windows in its
	// answer (Chromium offers client_max_window_bits).
	narrow := &ws.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}
	t.Run("attach/no-context-takeover-bits-10-9", func(t *testing.T) {
		runChromium(t, wsAttachLib("ws+deflate narrow", narrow), true)
	})
}
