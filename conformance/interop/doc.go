// Package interop runs github.com/dillgo/ws against real peers: Node's ws
// (npm package, ../node), Python's websockets (Debian python3-websockets,
// testdata/peer.py) and headless Chromium (Debian chromium, driven with
// chromedp). The package has only tests:
//
//	cd conformance && go test ./interop/
//
// A missing peer fails the tests; nothing is skipped. Install them with
//
//	apt-get install -y chromium nodejs npm python3-websockets
//	(cd conformance/node && npm ci)
//
// # The peer protocol
//
// conformance/node/peer.js and testdata/peer.py are the same program for two
// libraries. Both run as
//
//	peer server [--deflate[=OPTS]]  listen on 127.0.0.1:0 and print {"event":"listening","port":N}
//	peer client BASE_URL            for every JSON line {"id","path","protocols","deflate"} read
//	                                from stdin, connect to BASE_URL+path offering those subprotocols
//
// where deflate (flag or field) enables permessage-deflate: true for the peer
// library's defaults, or an object of its own options (Node: serverNoContextTakeover,
// clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits; Python: the
// arguments of ServerPerMessageDeflateFactory or ClientPerMessageDeflateFactory),
// given as JSON after "--deflate=" on a server. A peer that negotiated it
// compresses every message it sends, echoes and fragments included.
//
// and exit when stdin closes. Every connection, in either role, runs the
// scenario named by its path and tags what it prints with the id query
// parameter (/echo?id=n7):
//
//	/echo                      echo every message with its type
//	/fragments                 send fragmented messages (fragmentsExpected), then echo
//	/ping                      ping with 0, 5, 125 bytes; report each pong as a text message
//	                           "pong-ok:N" (or "pong-timeout:N", "pong-bad:N"), then echo
//	/subprotocol               send "proto:" + the negotiated subprotocol, then echo
//	/close?code=C&reason=R     send "closing", then start the close handshake with C and R
//	                           (C = 0: a close frame without a status)
//	/invalid-utf8              send a text message that is not UTF-8, then wait for the close
//
// and prints JSON lines on stdout: {"id","event":"open","protocol","extensions","deflateParams"}
// (deflateParams: the agreed permessage-deflate parameters, null if none),
// {"id","event":"closed","code","reason"} with the close frame it received, and
// {"id","event":"error","error"}. Servers on either side speak the
// subprotocols "chat" and "superchat" and pick the first one the client offered.
//
// The Go side of each scenario is written once (scenarios_test.go) against a
// small endpoint interface, implemented by our library twice (ws_test.go:
// AttachClient/AttachServer on raw TCP, and Dial/Upgrade with net/http) and
// by gorilla/websocket as a reference (gorilla_test.go, TestReferenceGorilla):
// a scenario that passes with gorilla and fails with ws is a bug in ws.
//
// Chromium only plays the client: chromium_test.go serves testdata/page.html
// and runs our server (on another port with AttachServer and an accept-all
// CheckOrigin; on the page's own origin with Upgrade and the default policy),
// plus a server with the default origin policy that the page must be
// refused by; the page's script runs its scenarios and leaves its results
// in a JavaScript variable that the test polls.
//
// # permessage-deflate
//
// deflate_test.go runs with the extension really negotiated: our side has
// Config.Compression set (through both entry points, in both roles), the
// peer offers or accepts it, and every connection checks that our
// Extensions() and the peer's deflateParams name permessage-deflate with
// the same parameters. TestNodeDeflate and TestPythonDeflate exchange
// compressible JSON-like text from 0 bytes to 16 MiB (16 MiB through Attach*
// only), 100 alike messages in order (context takeover), compressed
// fragmented messages from the peer, and compressed streams both ways, then
// repeat a smaller set for parameter variants requested by either side
// (no context takeover, window bits 9–11). Messages of 4 KiB or more are
// checked to cross the wire in fewer than half their bytes. TestChromiumDeflate
// has Chromium, which always offers the extension, run testdata/page.html
// with ?deflate=1 against our compressing server. Without Config.Compression
// our side must decline (deflate/not-negotiated; the page checks Chromium's
// extensions are empty).
package interop
