package ws

import (
	"encoding/binary"
	"strconv"
)

// HTTP/2 framing (RFC 9113 §4, §6) as pure functions over byte slices: the
// frame header, the checks a frame must pass before its payload is used,
// and the payloads of the frames the client writes.

// Frame types.
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2Priority     = 0x2
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2PushPromise  = 0x5
	h2Ping         = 0x6
	h2GoAway       = 0x7
	h2WindowUpdate = 0x8
	h2Continuation = 0x9
)

// Frame flags.
const (
	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20
)

// Error codes (RFC 9113 §7).
const (
	h2NoError          = 0x0
	h2ProtocolError    = 0x1
	h2InternalError    = 0x2
	h2FlowControlError = 0x3
	h2StreamClosed     = 0x5
	h2FrameSizeError   = 0x6
	h2RefusedStream    = 0x7
	h2Cancel           = 0x8
	h2CompressionError = 0x9
	h2EnhanceYourCalm  = 0xb
)

// Settings (RFC 9113 §6.5.2, RFC 8441 §3).
const (
	h2SetHeaderTableSize      = 0x1
	h2SetEnablePush           = 0x2
	h2SetMaxConcurrentStreams = 0x3
	h2SetInitialWindowSize    = 0x4
	h2SetMaxFrameSize         = 0x5
	h2SetMaxHeaderListSize    = 0x6
	h2SetEnableConnectProto   = 0x8
)

const (
	h2HeaderLen      = 9
	h2DefaultFrame   = 16384 // SETTINGS_MAX_FRAME_SIZE we keep
	h2MaxWindow      = 1<<31 - 1
	h2DefaultWindow  = 65535
	h2Preface        = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2MaxStreamID    = 1<<31 - 1
	h2MaxFrameWanted = 1<<24 - 1
)

// h2Header is a frame header.
type h2Header struct {
	length uint32
	typ    uint8
	flags  uint8
	stream uint32
}

// h2Error is an HTTP/2 error: of the connection unless stream is set.
type h2Error struct {
	code   uint32
	stream uint32 // 0: a connection error
	why    string
}

func (e *h2Error) Error() string {
	s := "http2: "
	if e.stream != 0 {
		s += "stream " + strconv.FormatUint(uint64(e.stream), 10) + ": "
	}
	return s + e.why + " (" + h2CodeName(e.code) + ")"
}

// unprocessed reports a stream error saying the server did not process
// the stream, so that a new stream may retry it (RFC 9113 §8.7):
// REFUSED_STREAM, or a stream above a GOAWAY's last stream id.
func (e *h2Error) unprocessed() bool { return e.stream != 0 && e.code == h2RefusedStream }

func h2CodeName(code uint32) string {
	names := [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
		"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
		"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}
	if int(code) < len(names) {
		return names[code]
	}
	return "error 0x" + strconv.FormatUint(uint64(code), 16)
}

func connError(code uint32, why string) *h2Error { return &h2Error{code: code, why: why} }

// parseH2Header decodes the 9-byte frame header at the start of b.
func parseH2Header(b []byte) h2Header {
	_ = b[8]
	return h2Header{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    b[3],
		flags:  b[4],
		stream: binary.BigEndian.Uint32(b[5:9]) & h2MaxStreamID,
	}
}

// appendH2Header appends the header of a frame.
func appendH2Header(b []byte, typ, flags uint8, stream uint32, length int) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// checkFrame checks a frame whose header is h and whose payload is p
// against the rules of its type that need no connection state, and
// returns the payload without padding and priority fields (DATA,
// HEADERS). Unknown types pass, to be ignored.
func checkFrame(h h2Header, p []byte) ([]byte, *h2Error) {
	switch h.typ {
	case h2Data, h2Headers, h2Continuation, h2RSTStream, h2Priority, h2PushPromise:
		if h.stream == 0 {
			return nil, connError(h2ProtocolError, "frame type "+strconv.Itoa(int(h.typ))+" on stream 0")
		}
	case h2Settings, h2Ping, h2GoAway:
		if h.stream != 0 {
			return nil, connError(h2ProtocolError, "frame type "+strconv.Itoa(int(h.typ))+" on a stream")
		}
	}
	switch h.typ {
	case h2Data, h2Headers:
		if h.flags&h2FlagPadded != 0 {
			if len(p) < 1 || int(p[0]) >= len(p) {
				return nil, connError(h2ProtocolError, "padding longer than the frame")
			}
			p = p[1 : len(p)-int(p[0])]
		}
		if h.typ == h2Headers && h.flags&h2FlagPriority != 0 {
			if len(p) < 5 {
				return nil, connError(h2FrameSizeError, "HEADERS too short for its priority")
			}
			p = p[5:]
		}
	case h2RSTStream, h2WindowUpdate:
		if len(p) != 4 {
			return nil, connError(h2FrameSizeError, "RST_STREAM or WINDOW_UPDATE not 4 bytes")
		}
	case h2Priority:
		if len(p) != 5 {
			return nil, connError(h2FrameSizeError, "PRIORITY not 5 bytes")
		}
	case h2Ping:
		if len(p) != 8 {
			return nil, connError(h2FrameSizeError, "PING not 8 bytes")
		}
	case h2Settings:
		if len(p)%6 != 0 || h.flags&h2FlagAck != 0 && len(p) != 0 {
			return nil, connError(h2FrameSizeError, "bad SETTINGS length")
		}
	case h2GoAway:
		if len(p) < 8 {
			return nil, connError(h2FrameSizeError, "GOAWAY shorter than 8 bytes")
		}
	}
	return p, nil
}

// h2Setting is one entry of a SETTINGS frame.
type h2Setting struct {
	id  uint16
	val uint32
}

// parseSetting returns entry i of a checked SETTINGS payload.
func parseSetting(p []byte, i int) h2Setting {
	return h2Setting{binary.BigEndian.Uint16(p[6*i:]), binary.BigEndian.Uint32(p[6*i+2:])}
}

// checkSetting checks a setting's value (RFC 9113 §6.5.2, RFC 8441 §3).
func checkSetting(s h2Setting) *h2Error {
	switch s.id {
	case h2SetEnablePush, h2SetEnableConnectProto:
		if s.val > 1 {
			return connError(h2ProtocolError, "boolean setting not 0 or 1")
		}
	case h2SetInitialWindowSize:
		if s.val > h2MaxWindow {
			return connError(h2FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1")
		}
	case h2SetMaxFrameSize:
		if s.val < h2DefaultFrame || s.val > h2MaxFrameWanted {
			return connError(h2ProtocolError, "SETTINGS_MAX_FRAME_SIZE out of range")
		}
	}
	return nil
}

// appendSettings appends a SETTINGS frame with the entries of s.
func appendSettings(b []byte, s ...h2Setting) []byte {
	b = appendH2Header(b, h2Settings, 0, 0, 6*len(s))
	for _, e := range s {
		b = binary.BigEndian.AppendUint16(b, e.id)
		b = binary.BigEndian.AppendUint32(b, e.val)
	}
	return b
}

// appendWindowUpdate appends a WINDOW_UPDATE frame.
func appendWindowUpdate(b []byte, stream, inc uint32) []byte {
	b = appendH2Header(b, h2WindowUpdate, 0, stream, 4)
	return binary.BigEndian.AppendUint32(b, inc&h2MaxWindow)
}

// appendRST appends a RST_STREAM frame.
func appendRST(b []byte, stream, code uint32) []byte {
	b = appendH2Header(b, h2RSTStream, 0, stream, 4)
	return binary.BigEndian.AppendUint32(b, code)
}

// appendGoAway appends a GOAWAY frame.
func appendGoAway(b []byte, last, code uint32) []byte {
	b = appendH2Header(b, h2GoAway, 0, 0, 8)
	b = binary.BigEndian.AppendUint32(b, last&h2MaxStreamID)
	return binary.BigEndian.AppendUint32(b, code)
}
