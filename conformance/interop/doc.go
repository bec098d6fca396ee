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
//	peer server [--deflate]   listen on 127.0.0.1:0 and print {"event":"listening","port":N}
//	peer client BASE_URL      for every JSON line {"id","path","protocols","deflate"} read
//	                          from stdin, connect to BASE_URL+path offering those subprotocols
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
// and prints JSON lines on stdout: {"id","event":"open","protocol","extensions"},
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
// permessage-deflate: the peers already accept "deflate" (client request
// field, server --deflate flag) and report the negotiated extensions in their
// "open" event; see the deflate section of scenarios_test.go.
package interop
