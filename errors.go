package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// sentinel is the type of the package's error values. Each stands for one
// libdill errno; some also match a standard error (ErrTimedOut matches
// context.DeadlineExceeded, ErrCanceled matches context.Canceled).
type sentinel struct {
	msg     string
	also    error
	timeout bool
}

func (e *sentinel) Error() string                { return e.msg }
func (e *sentinel) Is(target error) bool         { return e.also != nil && target == e.also }
func (e *sentinel) Timeout() bool                { return e.timeout }
func (e *sentinel) Temporary() bool              { return e.timeout }
func newSentinel(msg string) *sentinel           { return &sentinel{msg: msg} }
func (e *sentinel) withAlso(err error) *sentinel { e.also = err; return e }

// The errors returned by this package, one per libdill errno. Test for them
// with errors.Is; the error returned carries the operation and a detail.
var (
	// ErrPipe (EPIPE): the direction is closed. Send after Done; Recv after
	// the peer's close (then the error is a CloseError, which is ErrPipe).
	ErrPipe error = newSentinel("ws: closed (EPIPE)")
	// ErrProto (EPROTO): the peer broke the protocol (the connection was
	// failed with close code 1002 or 1007), the handshake was refused, or
	// MRecv met a message of the other type.
	ErrProto error = newSentinel("ws: protocol error (EPROTO)")
	// ErrMsgSize (EMSGSIZE): a message does not fit the caller's buffers or
	// exceeds Config.MaxMessageSize.
	ErrMsgSize error = newSentinel("ws: message too large (EMSGSIZE)")
	// ErrTimedOut (ETIMEDOUT): the context's deadline passed. It also
	// matches context.DeadlineExceeded and reports Timeout() == true.
	ErrTimedOut error = &sentinel{msg: "ws: deadline reached (ETIMEDOUT)", also: context.DeadlineExceeded, timeout: true}
	// ErrCanceled (ECANCELED): the context was canceled. It also matches
	// context.Canceled.
	ErrCanceled error = newSentinel("ws: canceled (ECANCELED)").withAlso(context.Canceled)
	// ErrConnReset (ECONNRESET): the underlying connection failed, or this
	// direction broke earlier; the condition is sticky.
	ErrConnReset error = newSentinel("ws: connection broken (ECONNRESET)")
	// ErrInvalid (EINVAL): an invalid argument.
	ErrInvalid error = newSentinel("ws: invalid argument (EINVAL)")
	// ErrBusy (EBUSY): another goroutine is using the same direction.
	ErrBusy error = newSentinel("ws: direction in use by another goroutine (EBUSY)")
	// ErrAgain (EAGAIN): Status was called before the peer closed.
	ErrAgain error = newSentinel("ws: peer has not closed yet (EAGAIN)")
)

// opError is every error this package returns except CloseError: the
// operation, the sentinel kind and an optional cause. A failure that no
// sentinel describes truly (a dial refused, a host not found) has no kind,
// only its cause.
type opError struct {
	op    string
	kind  error
	cause error
}

func (e *opError) Error() string {
	s := "ws: " + e.op
	if e.kind != nil {
		s += ": " + strings.TrimPrefix(e.kind.Error(), "ws: ")
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *opError) Unwrap() []error {
	switch {
	case e.kind == nil:
		return []error{e.cause}
	case e.cause == nil:
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// Timeout reports whether the operation failed because a deadline passed,
// as net.Error does.
func (e *opError) Timeout() bool {
	var ne net.Error
	return e.kind == ErrTimedOut || e.kind == nil && errors.As(e.cause, &ne) && ne.Timeout()
}

// newError is how every error of the package except CloseError is built:
// op may be "" below the API layer, where withOp fills it in.
func newError(op string, kind, cause error) error {
	return &opError{op: op, kind: kind, cause: cause}
}

// peerText is text the peer sent, for an error message: as is when it is
// printable ASCII, quoted with escapes otherwise, so that printing an
// error never sends the peer's control characters to a terminal.
func peerText(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return strconv.Quote(string(b))
		}
	}
	return string(b)
}

// firstLine returns ": " and the first line of a refusal's body, escaped
// as peerText, at most 200 bytes of it; "" for an empty body.
func firstLine(body []byte) string {
	if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
		body = body[:i]
	}
	body = bytes.TrimSpace(body[:min(len(body), 200)])
	if len(body) == 0 {
		return ""
	}
	return ": " + peerText(body)
}

// detail is a static error message used as a cause.
type detail string

func (d detail) Error() string { return string(d) }

// wireError is a violation of the protocol by the peer: the connection is
// failed and closed with code.
type wireError struct {
	code StatusCode
	kind error
	msg  string
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.kind }

func protoErr(msg string) *wireError { return &wireError{StatusProtocolError, ErrProto, msg} }

// The protocol violations; static so that detecting one allocates nothing.
var (
	errReservedBits  = protoErr("reserved bits set without a negotiated extension")
	errReservedOp    = protoErr("reserved opcode")
	errFragControl   = protoErr("fragmented control frame")
	errBigControl    = protoErr("control frame payload over 125 bytes")
	errBadLength     = protoErr("64-bit payload length with the most significant bit set")
	errNonMinimal    = protoErr("payload length not in its minimal encoding (RFC 6455 §5.2)")
	errNoMessage     = protoErr("continuation frame outside a fragmented message")
	errNested        = protoErr("new data frame inside a fragmented message")
	errUnmasked      = protoErr("unmasked frame from a client")
	errMasked        = protoErr("masked frame from a server")
	errCloseLen      = protoErr("close frame payload of 1 byte")
	errCloseCode     = protoErr("invalid close code")
	errBadUTF8       = &wireError{StatusInvalidFramePayloadData, ErrProto, "invalid UTF-8 in text message"}
	errBadReason     = &wireError{StatusInvalidFramePayloadData, ErrProto, "invalid UTF-8 in close reason"}
	errTooBig        = &wireError{StatusMessageTooBig, ErrMsgSize, "message exceeds the size limit"}
	errRSV1          = protoErr("RSV1 set on a continuation or control frame")
	errBadDeflate    = &wireError{StatusInvalidFramePayloadData, ErrProto, "invalid compressed data"}
	errDoesNotFit    = detail("message does not fit the buffers; it was discarded")
	errWrongType     = detail("message type differs from the socket type; the message stays queued")
	errEOF           = detail("connection closed without a close frame")
	errShort         = errors.New("ws: short buffer")
	errStaleReader   = detail("message reader used after its message ended")
	errWriterClosed  = detail("message writer already closed")
	errCutMessage    = detail("a streamed message was cut by a failed write")
	errHandshakeSize = detail("handshake head too large")
	errLostWindow    = detail("a compressed message did not reach the peer: the compression window is lost")
	errEndOfMessage  = errors.New("ws: end of message") // internal: never from the bytestream
)

// ctxKind returns ErrTimedOut or ErrCanceled when err (or ctx) says the
// operation was cut short by ctx, nil otherwise.
func ctxKind(ctx context.Context, err error) error {
	switch ctx.Err() {
	case nil:
	case context.DeadlineExceeded:
		return ErrTimedOut
	default:
		return ErrCanceled
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if _, ok := ctx.Deadline(); ok {
			return ErrTimedOut
		}
	}
	return nil
}

// ioKind classifies an I/O error of the underlying connection.
func (c *Conn) ioKind(ctx context.Context, err error) (kind, cause error) {
	if c.closed.Load() {
		return net.ErrClosed, nil
	}
	if k := ctxKind(ctx, err); k != nil {
		return k, nil
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrConnReset, errEOF
	}
	return ErrConnReset, err
}
