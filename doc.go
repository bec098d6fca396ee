// Package ws is libdill's WebSocket protocol (RFC 6455, RFC 7692) in Go:
// a message protocol attached on top of any bytestream (a net.Conn: TCP,
// TLS, a Unix socket, net.Pipe …), that speaks whole messages, half-closes
// with Done, hands the bytestream back with Detach, takes a deadline (a
// context) on every blocking call, and can live in caller-supplied
// Storage so that nothing is allocated.
//
// An echo server, in a net/http handler:
//
//	c, err := ws.Upgrade(w, r, ws.Text) // a refused request got its 4xx
//	if err != nil {
//		return
//	}
//	for {
//		msg, flags, err := c.RecvMessage(ctx)
//		if errors.Is(err, ws.ErrPipe) { // the client closed: answer
//			c.Shutdown(closeCtx, 0, "") // closeCtx: with a timeout
//			return
//		} else if err != nil {
//			c.Close()
//			return
//		}
//		c.Send(ctx, flags, msg)
//	}
//
// And a client:
//
//	c, _, err := ws.Dial(ctx, "ws://127.0.0.1:8080/echo", ws.Text)
//	if err != nil {
//		return err
//	}
//	c.Send(ctx, ws.Text, []byte("Hello, world!"))
//	msg, _, err := c.RecvMessage(ctx)
//	…
//	err = c.Shutdown(ctx, ws.StatusNormalClosure, "bye") // handshake, then closed
//
// RecvMessage allocates each message; Recv and RecvV fill the caller's
// buffers and allocate nothing. Ping measures a round trip.
//
// # libdill to Go
//
//	ws_attach_client(s, flags, resource, host, deadline)  AttachClient(ctx, u, flags, resource, host)
//	ws_attach_client_mem(…, mem, deadline)                AttachClientMem(ctx, u, flags, resource, host, st)
//	ws_attach_server(s, flags, resource, …, deadline)     AttachServer(ctx, u, flags); c.Resource(), c.Host()
//	ws_attach_server_mem(…, mem, deadline)                AttachServerMem(ctx, u, flags, st)
//	ws_send / ws_sendl                                    c.Send(ctx, flags, p) / c.SendV(ctx, flags, bufs...)
//	ws_recv / ws_recvl                                    c.Recv(ctx, p) / c.RecvV(ctx, bufs...) (Skip(n) = NULL base)
//	msend / msendl / mrecv / mrecvl                       c.MSend / c.MSendV / c.MRecv / c.MRecvV
//	ws_done(s, status, reason, len, deadline)             c.Done(ctx, code, reason)
//	ws_detach(s, status, reason, len, deadline)           c.Detach(ctx, code, reason) → net.Conn
//	ws_detach, then hclose                                c.Shutdown(ctx, code, reason)
//	ws_status(s, &status, buf, len)                       c.Status()
//	ws_request_key / ws_response_key                      RequestKey() / ResponseKey(key)
//	hclose                                                c.Close()
//	(net/http and URLs, no libdill counterpart)           Upgrade(w, r, flags), Dial(ctx, url, flags)
//	(no libdill counterpart)                              c.RecvMessage(ctx), c.Ping(ctx), Reader, Writer
//	WS_BINARY / WS_TEXT / WS_NOHTTP                       Binary / Text / NoHTTP
//	deadline (ms, -1, 0)                                  ctx: its deadline; Background; an expired ctx
//	EPIPE EPROTO EMSGSIZE ETIMEDOUT ECANCELED             ErrPipe ErrProto ErrMsgSize ErrTimedOut ErrCanceled
//	ECONNRESET EINVAL EBUSY EAGAIN EBADF                  ErrConnReset ErrInvalid ErrBusy ErrAgain net.ErrClosed
//
// # Lifecycle
//
// A server upgrades inside an http.Handler with Upgrade, or attaches to a
// raw connection with AttachServer; a client dials a ws:// or wss:// URL
// with Dial, or attaches to a connection it made with AttachClient. The
// options (subprotocols, extra header fields, limits, origin policy, TLS,
// proxies) live on Config, whose methods mirror the package's functions.
// Attach takes ownership of the bytestream (closing it on failure). Send
// and Recv exchange whole messages; Reader and Writer stream one message.
// Done sends our close frame; the peer's close comes back from Recv as a
// CloseError (which is ErrPipe) after every message it sent before.
// Detach completes the closing handshake and returns the bytestream,
// still open; Close closes everything at once without a handshake.
//
// # Message integrity
//
// A receive returns a whole message exactly as it was sent, or an error:
// never a shortened message, never bytes that were not sent. A connection
// that ends (FIN, RST, a TLS close at a record boundary) inside a frame or
// a message is ErrConnReset on every receive layer, the Reader included,
// whose Read then fails instead of returning io.EOF; the messages wholly
// received before the cut are delivered first. A compressed frame ends
// where its payload length says, whatever its DEFLATE data says. A send
// that fails leaves the connection usable only if the peer will decode
// the next message exactly: a compressed message that entered the
// compressor's window (context takeover) but did not reach the peer
// breaks the send side.
//
// # Concurrency
//
// One goroutine may receive while another sends. A second concurrent call
// on the same direction fails at once with ErrBusy; nothing is corrupted.
// Sends are not queued behind one another: a connection that many
// goroutines send to belongs in a Hub, whose writer takes whatever was
// published while its last write was blocked and sends it in one write
// call (see Hub).
// Pings are answered by the receiving goroutine without waiting for the
// wire: its pong goes out between frames of a concurrent send, written by
// whichever goroutine holds the wire. A send waits for a control frame
// being written only until its ctx ends. Close, Status, Resource, Host
// and Subprotocol are safe from any goroutine.
//
// # Deadlines and cancellation
//
// Every blocking call takes a context: its deadline is libdill's deadline
// (ErrTimedOut), its cancellation libdill's ECANCELED (ErrCanceled). A
// context already done returns at once without touching the connection.
// A receive whose context ends before any byte of the next message
// reached the caller leaves the connection fully usable (retry, or send a
// heartbeat); one that ends in the middle of a message breaks the receive
// side. The same holds for a send that had not written its first byte. The
// underlying connection is never closed to cut a call short.
//
// # Errors
//
// Errors are checked with errors.Is against the sentinels; each carries
// the operation and a detail ("ws: recv: protocol error (EPROTO): …"):
//   - a failure of a direction is sticky: later calls on it return
//     ErrConnReset wrapping the first cause;
//   - when the peer breaks the protocol, the connection is failed with the
//     RFC's close code (1002; 1007 for invalid UTF-8 or compressed data;
//     1009 for a message over the limit), and the close reaches the peer
//     before the connection closes;
//   - a failure no libdill errno describes truly (a dial refused, a host
//     not found) carries no sentinel, only the net error, so that
//     errors.Is(err, syscall.ECONNREFUSED) and errors.As(err, &netErr)
//     work;
//   - a refused handshake is ErrProto with the server's status line and
//     the first line of its body.
package ws
