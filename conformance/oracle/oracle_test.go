package oracle

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dillgo/ws"
	"github.com/dillgo/ws/conformance/suite"
)

// limit is the receiver's Config.MaxMessageSize and its Recv buffer: a
// message of more bytes (decompressed) must fail with ErrMsgSize.
const limit = 64 << 10

// message is one message the receiver must deliver.
type message struct {
	text bool
	data []byte
	// mayRefuse: a compressed message whose DEFLATE data ended (BFINAL)
	// before its payload did. Ignoring the rest of the payload and
	// refusing the message (ErrProto) are both correct; parsing the rest
	// as frames is not.
	mayRefuse bool
}

func (m message) String() string {
	typ := "binary"
	if m.text {
		typ = "text"
	}
	if len(m.data) <= 24 {
		return fmt.Sprintf("%s %q (%d bytes)", typ, m.data, len(m.data))
	}
	return fmt.Sprintf("%s %q… (%d bytes)", typ, m.data[:24], len(m.data))
}

// outcome is what the receiver must do with a session: deliver msgs, then
// fail with one of the allowed errors.
type outcome struct {
	msgs    []message
	reset   bool // ErrConnReset (the input ended inside a frame or a message, or between messages)
	proto   bool // ErrProto
	msgSize bool // ErrMsgSize
	close   bool // CloseError{code, reason}
	code    int
	reason  string
	why     string // the oracle's reason, for reports
}

func (o outcome) String() string {
	var allowed []string
	if o.reset {
		allowed = append(allowed, "ErrConnReset")
	}
	if o.proto {
		allowed = append(allowed, "ErrProto")
	}
	if o.msgSize {
		allowed = append(allowed, "ErrMsgSize")
	}
	if o.close {
		allowed = append(allowed, fmt.Sprintf("CloseError{%d, %q}", o.code, o.reason))
	}
	return fmt.Sprintf("%d messages then %v (%s)", len(o.msgs), allowed, o.why)
}

// decide runs the suite's frame reader and inflater over data.
func decide(data []byte, fromClient, compressed bool) outcome {
	d := suite.NewFrameDecoder(data, fromClient, compressed)
	var o outcome
	var hist []byte // the peer's output, for context takeover
	for {
		start := d.Offset()
		if o.preCheck(d, data[start:], fromClient, compressed, hist) {
			return o
		}
		ev, _ := d.Next()
		if ev == nil {
			continue
		}
		switch ev.Kind {
		case suite.EvPing, suite.EvPong:
			continue
		case suite.EvClose:
			o.close, o.code, o.reason, o.why = true, ev.Code, ev.Reason, "close frame"
			return o
		case suite.EvProto:
			o.proto, o.why = true, ev.Err.Error()
			o.lenient(d, data[start:], fromClient, compressed, hist)
			return o
		case suite.EvEOF:
			o.reset, o.why = true, "end of input: "+ev.Err.Error()
			o.lenient(d, data[start:], fromClient, compressed, hist)
			return o
		}
		m := message{text: ev.Text, data: ev.Data}
		if ev.Rsv&4 != 0 {
			res, err := suite.InflateMessage(ev.Data, hist, 15, 4*limit, false)
			if err != nil {
				o.proto, o.why = true, "inflate: "+err.Error()
				o.msgSize = len(res.Out) > limit
				return o
			}
			m.data = res.Out
			m.mayRefuse = res.Final && res.Consumed < len(ev.Data)
			hist = append(hist, res.Out...)
			if n := len(hist) - 1<<15; n > 0 {
				hist = append([]byte(nil), hist[n:]...)
			}
			if m.text && !utf8.Valid(m.data) {
				o.proto, o.why = true, "compressed text message not UTF-8"
				return o
			}
		}
		if len(m.data) > limit {
			o.msgSize, o.why = true, fmt.Sprintf("message of %d bytes", len(m.data))
			o.proto = m.mayRefuse
			return o
		}
		o.msgs = append(o.msgs, m)
	}
}

// preCheck decides, before the suite's reader allocates it, a data frame
// whose declared length takes the message over the limit (the receiver
// must refuse it at the header), and a reserved data opcode.
func (o *outcome) preCheck(d *suite.FrameDecoder, rest []byte, fromClient, compressed bool, hist []byte) bool {
	h, n, err := suite.ParseHeader(rest)
	if err != nil || suite.IsControl(h.Op) {
		return false
	}
	if h.Op > suite.OpBinary {
		o.proto, o.why = true, fmt.Sprintf("reserved opcode %#x", h.Op)
		return true
	}
	op, _, pending := d.Pending()
	total := h.Length
	if h.Op == suite.OpCont {
		total += uint64(len(pending))
	}
	if total <= limit {
		return false
	}
	o.msgSize, o.why = true, fmt.Sprintf("a frame declaring %d bytes (message total %d)", h.Length, total)
	// the same header may break the protocol in another way first
	o.proto = h.Masked != fromClient || h.Rsv&^rsvAllowed(compressed) != 0 ||
		h.Rsv != 0 && h.Op == suite.OpCont || (h.Op == suite.OpCont) == (op == 0)
	if compressed {
		// the limit applies to decompressed bytes: the receiver may read on
		// and meet the end of the input
		o.reset = uint64(len(rest)-n) < h.Length
	}
	o.lenient(d, rest, fromClient, compressed, hist)
	return true
}

func rsvAllowed(compressed bool) byte {
	if compressed {
		return 4
	}
	return 0
}

// lenient adds the errors a receiver that detects faults earlier than the
// suite's reader (which checks a frame when whole, UTF-8 at a message's
// end) may return instead: from a partial header (rest), from the partial
// payload of the message in progress.
func (o *outcome) lenient(d *suite.FrameDecoder, rest []byte, fromClient, compressed bool, hist []byte) {
	op, rsv, pending := d.Pending()
	// the frame the input ended in (or that failed)
	h, n, err := suite.ParseHeader(rest)
	if len(rest) > 0 && earlyHeaderViolation(rest, op, fromClient, compressed) {
		// visible in the header, whole or not (a reserved control
		// opcode, say): a receiver may fail before the payload arrives
		o.proto = true
	}
	msgText, msgRsv := op == suite.OpText, rsv
	part := append([]byte(nil), pending...)
	if err == nil && !suite.IsControl(h.Op) {
		if op == 0 && (h.Op == suite.OpText || h.Op == suite.OpBinary) {
			msgText, msgRsv, part = h.Op == suite.OpText, h.Rsv, nil
		}
		p := rest[n:min(len(rest), n+int(min(h.Length, uint64(len(rest)))))]
		p = append([]byte(nil), p...)
		if h.Masked {
			for i := range p {
				p[i] ^= h.Key[i&3]
			}
		}
		part = append(part, p...)
	} else if op == 0 {
		return
	}
	if msgRsv&4 != 0 && compressed {
		res, err := suite.InflateMessage(part, hist, 15, 4*limit, true)
		if err != nil && !errors.Is(err, suite.ErrInflateShort) || stdCorrupt(part, hist) {
			o.proto = true
		}
		if len(res.Out) > limit {
			o.msgSize = true
		}
		part = res.Out
	}
	if msgText && prefixInvalid(part) {
		o.proto = true
	}
}

// stdCorrupt reports whether Go's standard compress/flate, an inflater
// independent of the library's (klauspost/compress), finds the prefix p
// of a compressed message already corrupt: decoders detect some
// corruption (an invalid code, a distance before the window) as soon as
// they decode it, the suite's reader only once the data is whole. The
// suite still decides what a whole message is.
func stdCorrupt(p, hist []byte) bool {
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), cutReader{}), hist)
	_, err := io.Copy(io.Discard, io.LimitReader(r, 4*limit))
	var ce flate.CorruptInputError
	return errors.As(err, &ce)
}

// cutReader is the end of a cut input: an error that is not io.EOF.
type cutReader struct{}

func (cutReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// earlyHeaderViolation reports a protocol violation visible in the first
// bytes of a header: reserved opcode, RSV bits, a control frame not final
// or over 125 bytes, a continuation without a message or a new message
// inside one, the mask bit of the wrong role.
func earlyHeaderViolation(b []byte, op byte, fromClient, compressed bool) bool {
	fin, rsv, fop := b[0]&0x80 != 0, b[0]>>4&7, b[0]&0xF
	switch {
	case fop > suite.OpBinary && fop < suite.OpClose, fop > suite.OpPong:
		return true
	case rsv&^rsvAllowed(compressed) != 0, rsv != 0 && fop != suite.OpText && fop != suite.OpBinary:
		return true
	case suite.IsControl(fop) && !fin:
		return true
	case fop == suite.OpCont && op == 0, (fop == suite.OpText || fop == suite.OpBinary) && op != 0:
		return true
	}
	if len(b) < 2 {
		return false
	}
	masked, l := b[1]&0x80 != 0, b[1]&0x7F
	return masked != fromClient || suite.IsControl(fop) && l > 125
}

// prefixInvalid reports whether b cannot begin a valid UTF-8 text, as the
// most eager validator decides.
func prefixInvalid(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			b = b[n:]
			continue
		}
		return len(b) >= utf8.UTFMax || !completable(b)
	}
	return false
}

// completable reports whether some continuation bytes complete b (at most
// 3 bytes, starting with a lead byte) into one valid character.
func completable(b []byte) bool {
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 2
	case c >= 0xE0 && c <= 0xEF:
		need = 3
	case c >= 0xF0 && c <= 0xF4:
		need = 4
	default:
		return false
	}
	if len(b) >= need {
		return false
	}
	edges := []byte{0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF}
	var try func(p []byte) bool
	try = func(p []byte) bool {
		if len(p) == need {
			return utf8.Valid(p)
		}
		for _, e := range edges {
			if try(append(p[:len(p):len(p)], e)) {
				return true
			}
		}
		return false
	}
	return try(b)
}

// received is what the library delivered.
type received struct {
	msgs []message
	err  error
}

// deliver feeds data to a ws receiver over loopback TCP (the input's end
// is a FIN) and collects what one receive layer delivers.
func deliver(t testing.TB, ln net.Listener, data []byte, fromClient, compressed, reader bool) received {
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Write(data)
		a.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, a) // pongs and the receiver's close
		a.Close()
	}()
	defer func() { <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := &ws.Config{MaxMessageSize: limit}
	if compressed {
		cfg.Compression = &ws.CompressionOptions{}
	}
	var c *ws.Conn
	if fromClient {
		c, err = cfg.AttachServer(ctx, d, ws.NoHTTP)
	} else {
		c, err = cfg.AttachClient(ctx, d, ws.NoHTTP, "/", "localhost")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var r received
	buf := make([]byte, limit)
	for len(r.msgs) < 1<<16 {
		var m message
		if reader {
			f, rd, err := c.Reader(ctx)
			if err != nil {
				r.err = err
				return r
			}
			m.text = f&ws.Text != 0
			if m.data, err = io.ReadAll(rd); err != nil {
				r.err = err
				return r
			}
		} else {
			n, f, err := c.Recv(ctx, buf)
			if err != nil {
				r.err = err
				return r
			}
			m = message{text: f&ws.Text != 0, data: append([]byte(nil), buf[:n]...)}
		}
		r.msgs = append(r.msgs, m)
	}
	r.err = errors.New("too many messages")
	return r
}

// check compares what the library delivered with the oracle's outcome.
func check(o outcome, r received) string {
	for i, m := range r.msgs {
		if i >= len(o.msgs) {
			return fmt.Sprintf("message %d: got %v; the oracle has only %d messages, then %v", i, m, len(o.msgs), o)
		}
		if m.text != o.msgs[i].text || !bytes.Equal(m.data, o.msgs[i].data) {
			return fmt.Sprintf("message %d: got %v, want %v", i, m, o.msgs[i])
		}
	}
	i := len(r.msgs)
	err := r.err
	if i < len(o.msgs) {
		if o.msgs[i].mayRefuse && errors.Is(err, ws.ErrProto) {
			return ""
		}
		return fmt.Sprintf("after %d messages: error %q, want message %d: %v (then %v)", i, err, i, o.msgs[i], o)
	}
	var ce ws.CloseError
	switch {
	case o.close && errors.As(err, &ce) && int(ce.Code) == o.code && ce.Reason == o.reason:
		return ""
	case o.proto && errors.Is(err, ws.ErrProto):
		return ""
	case o.msgSize && errors.Is(err, ws.ErrMsgSize):
		return ""
	case o.reset && errors.Is(err, ws.ErrConnReset) && !errors.Is(err, ws.ErrProto) && !errors.Is(err, ws.ErrMsgSize):
		return ""
	}
	return fmt.Sprintf("after %d messages: error %q, want %v", i, err, o)
}

// FuzzRecvOracle: the bytes a peer (a client when fromClient) sent, with
// permessage-deflate agreed when compressed, go to a ws receiver (Recv and
// Reader, each on a fresh connection) and to the suite's decoder. The
// receiver must deliver exactly the oracle's messages, then fail as the
// oracle does.
//
// For hunting other defects while the known ones stand, ORACLE_SEEDS=valid
// keeps only the valid sessions as seeds and ORACLE_IGNORE_CUT=1 ignores
// mismatches on inputs the oracle ends with ErrConnReset.
func FuzzRecvOracle(f *testing.F) {
	for _, s := range seeds() {
		if os.Getenv("ORACLE_SEEDS") == "valid" && s.name != "plain" && s.name != "deflate" {
			continue
		}
		f.Add(s.data, s.fromClient, s.compressed)
	}
	ignoreCut := os.Getenv("ORACLE_IGNORE_CUT") != ""
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	f.Fuzz(func(t *testing.T, data []byte, fromClient, compressed bool) {
		o := decide(data, fromClient, compressed)
		for _, reader := range []bool{false, true} {
			layer := "Recv"
			if reader {
				layer = "Reader"
			}
			r := deliver(t, ln, data, fromClient, compressed, reader)
			if what := check(o, r); what != "" && !(ignoreCut && o.reset) {
				t.Errorf("%s (fromClient %v, compressed %v, %d bytes): %s", layer, fromClient, compressed, len(data), what)
			}
		}
	})
}

// seed is one corpus entry.
type seed struct {
	name       string
	data       []byte
	fromClient bool
	compressed bool
}

// compressor produces permessage-deflate payloads with context takeover,
// as a peer does: each message flushed, the final 0x00 0x00 0xff 0xff cut.
type compressor struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newCompressor() *compressor {
	c := &compressor{}
	c.w, _ = flate.NewWriter(&c.buf, flate.BestSpeed)
	return c
}

func (c *compressor) message(p []byte) []byte {
	c.buf.Reset()
	c.w.Write(p)
	c.w.Flush()
	return bytes.TrimSuffix(append([]byte(nil), c.buf.Bytes()...), []byte{0, 0, 0xff, 0xff})
}

// finalBlock is p compressed on its own, ending with a block that has
// BFINAL set.
func finalBlock(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

func frame(dst []byte, fromClient, fin bool, rsv, op byte, p []byte) []byte {
	return suite.AppendFrame(dst, fin, rsv, op, fromClient, [4]byte{0x37, 0xfa, 0x21, 0x3d}, p)
}

func seeds() []seed {
	var out []seed
	text := []byte("héllo wörld €𝄞 ✓")
	big := bytes.Repeat([]byte("integrity "), 30)
	for _, fromClient := range []bool{true, false} {
		// plain: a fragmented text with a ping between, an empty binary,
		// a 16-bit length, a close
		var b []byte
		b = frame(b, fromClient, false, 0, suite.OpText, text[:2])
		b = frame(b, fromClient, true, 0, suite.OpPing, []byte("p"))
		b = frame(b, fromClient, true, 0, suite.OpCont, text[2:])
		b = frame(b, fromClient, true, 0, suite.OpBinary, nil)
		b = frame(b, fromClient, true, 0, suite.OpBinary, big)
		b = frame(b, fromClient, true, 0, suite.OpClose, suite.ClosePayload(1000, "bye"))
		out = append(out, seed{"plain", b, fromClient, false})
		for _, cut := range []int{1, 3, 7, 12, len(b) - 3} {
			out = append(out, seed{"plain cut", b[:cut], fromClient, false})
		}
		// compressed with context takeover, one message fragmented
		z := newCompressor()
		var c []byte
		m1 := z.message(big)
		c = frame(c, fromClient, false, 4, suite.OpBinary, m1[:len(m1)/2])
		c = frame(c, fromClient, true, 0, suite.OpPing, nil)
		c = frame(c, fromClient, true, 0, suite.OpCont, m1[len(m1)/2:])
		c = frame(c, fromClient, true, 4, suite.OpText, z.message(text))
		c = frame(c, fromClient, true, 4, suite.OpText, z.message(big)) // refers to the first
		c = frame(c, fromClient, true, 0, suite.OpText, []byte("plain in a compressed session"))
		c = frame(c, fromClient, true, 0, suite.OpClose, nil)
		out = append(out, seed{"deflate", c, fromClient, true})
		for _, cut := range []int{2, 9, len(c) / 2, len(c) - 2} {
			out = append(out, seed{"deflate cut", c[:cut], fromClient, true})
		}
		// defect 3: a BFINAL block, then bytes that look like frames, all
		// inside one compressed frame's payload, longer than a read buffer
		p := finalBlock([]byte("innocent"))
		for range 200 {
			p = frame(p, fromClient, true, 0, suite.OpPong, bytes.Repeat([]byte{'.'}, 100))
		}
		p = frame(p, fromClient, true, 0, suite.OpText, []byte("smuggled"))
		p = frame(p, fromClient, true, 0, suite.OpClose, suite.ClosePayload(1000, "smuggled"))
		for _, q := range [][]byte{p, p[:len(p)-20000]} {
			var s []byte
			s = frame(s, fromClient, true, 4, suite.OpBinary, q)
			s = frame(s, fromClient, true, 0, suite.OpBinary, []byte("after"))
			out = append(out, seed{"bfinal smuggling", s, fromClient, true})
		}
		// protocol errors: reserved opcode, unmasked/masked of the wrong role
		out = append(out, seed{"reserved opcode", frame(nil, fromClient, true, 0, 0x3, []byte("x")), fromClient, false})
		out = append(out, seed{"wrong role", frame(nil, !fromClient, true, 0, suite.OpText, []byte("x")), fromClient, false})
		out = append(out, seed{"invalid utf-8", frame(nil, fromClient, true, 0, suite.OpText, []byte{'a', 0xff}), fromClient, false})
	}
	return out
}

// TestOracleSeeds runs the seed corpus by name (also run by the fuzz
// target in CI without -fuzz) and checks that the oracle itself decides
// the valid sessions as intended.
func TestOracleSeeds(t *testing.T) {
	for _, s := range seeds() {
		o := decide(s.data, s.fromClient, s.compressed)
		switch s.name {
		case "plain", "deflate":
			if want := map[string]int{"plain": 3, "deflate": 4}[s.name]; !o.close || len(o.msgs) != want {
				t.Errorf("oracle: %s session (fromClient %v): %v", s.name, s.fromClient, o)
			}
		case "bfinal smuggling":
			if len(o.msgs) != 2 || !o.msgs[0].mayRefuse || string(o.msgs[0].data) != "innocent" || !o.reset {
				t.Errorf("oracle: %s: %v", s.name, o)
			}
		}
	}
}
