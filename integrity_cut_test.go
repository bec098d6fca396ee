package ws_test

// The cut test: sessions recorded from a real ws sender (plain and
// permessage-deflate with context takeover; fragmented messages, pings and
// a pong between fragments, multibyte text, an empty message, a close frame
// at the end) are replayed to a receiver cut at every byte offset, over
// loopback TCP (and TLS), for both roles and every receive layer. The
// receiver must return exactly the messages wholly sent before the cut,
// then ErrConnReset, or the peer's CloseError once the close frame is
// complete: never a shorter message, never a nil error, never ErrProto or
// ErrMsgSize.
//
// Every offset of every recording is replayed (about 13,000 connections);
// WS_INTEGRITY_LONG=1 replays each offset 5 times, to shake out
// scheduling-dependent outcomes.

import (
	"context"
	"crypto/tls"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// igRecording is a session as a peer sends it, with what a receiver must
// make of each prefix.
type igRecording struct {
	name       string
	client     bool // sent by a client: masked frames; the receiver is a server
	compressed bool
	wire       []byte
	msgs       []igMsg
	ends       []int // ends[i]: offset just after the last frame of msgs[i]
	closeEnd   int   // offset just after the close frame
	code       ws.StatusCode
	reason     string
}

// igStep is one message of a recorded session.
type igStep struct {
	msg    igMsg
	writer bool              // sent through Conn.Writer, in writes of 1000 bytes (fragments when the write buffer fills)
	split  func(n int) []int // re-frame the single frame's wire payload of n bytes at these offsets
	pong   bool              // an unsolicited pong follows the message
}

const (
	igCloseCode   = ws.StatusNormalClosure
	igCloseReason = "done ✓"
)

// igRecord records steps sent by a real ws Conn (client or server role)
// and re-frames them: split payloads with a ping between the parts, pings
// between the Writer's fragments.
func igRecord(t testing.TB, name string, client, compressed bool, steps []igStep) *igRecording {
	t.Helper()
	cfg := &ws.Config{}
	if compressed {
		cfg.Compression = &ws.CompressionOptions{Threshold: -1}
	}
	raw := igCapture(t, client, cfg, func(ctx context.Context, c *ws.Conn) error {
		for _, s := range steps {
			flags := ws.Binary
			if s.msg.text {
				flags = ws.Text
			}
			if !s.writer {
				if err := c.Send(ctx, flags, s.msg.data); err != nil {
					return err
				}
				continue
			}
			w, err := c.Writer(ctx, flags)
			if err != nil {
				return err
			}
			for p := s.msg.data; len(p) > 0; {
				k := min(len(p), 1000)
				if _, err := w.Write(p[:k]); err != nil {
					return err
				}
				p = p[k:]
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
		return c.Done(ctx, igCloseCode, igCloseReason)
	})
	frames, err := igParseFrames(raw)
	if err != nil {
		t.Fatalf("%s: recorded bytes: %v", name, err)
	}
	rec := &igRecording{name: name, client: client, compressed: compressed, code: igCloseCode, reason: igCloseReason}
	rng := mrand.New(mrand.NewPCG(1, uint64(len(name))))
	pings := 0
	ping := func() {
		pings++
		rec.wire = igAppendFrame(rec.wire, igFrame{fin: true, op: igOpPing, payload: fmt.Appendf(nil, "ping %d", pings)}, client, rng)
	}
	for _, s := range steps {
		var msg []igFrame
		for len(frames) > 0 {
			f := frames[0]
			frames = frames[1:]
			if f.op >= igOpClose {
				t.Fatalf("%s: unexpected control frame %#x in the recording", name, f.op)
			}
			msg = append(msg, f)
			if f.fin {
				break
			}
		}
		switch {
		case len(msg) == 0 || !msg[len(msg)-1].fin:
			t.Fatalf("%s: the recording ends inside message %v", name, s.msg)
		case s.writer && len(msg) < 2:
			t.Fatalf("%s: Writer sent %v in %d frame(s); the test needs fragments", name, s.msg, len(msg))
		case s.split != nil && len(msg) != 1:
			t.Fatalf("%s: Send sent %v in %d frames", name, s.msg, len(msg))
		case s.split != nil:
			msg = igSplit(msg[0], s.split(len(msg[0].payload)))
		}
		for i, f := range msg {
			if i > 0 {
				ping()
			}
			rec.wire = igAppendFrame(rec.wire, f, client, rng)
		}
		rec.msgs = append(rec.msgs, s.msg)
		rec.ends = append(rec.ends, len(rec.wire))
		if s.pong {
			rec.wire = igAppendFrame(rec.wire, igFrame{fin: true, op: igOpPong, payload: []byte("unsolicited")}, client, rng)
		}
	}
	if len(frames) != 1 || frames[0].op != igOpClose {
		t.Fatalf("%s: the recording does not end with one close frame: %d frames left", name, len(frames))
	}
	rec.wire = igAppendFrame(rec.wire, frames[0], client, rng)
	rec.closeEnd = len(rec.wire)
	return rec
}

// igSplit re-frames a single-frame message at the payload offsets at.
func igSplit(f igFrame, at []int) []igFrame {
	var out []igFrame
	prev := 0
	for _, a := range append(at, len(f.payload)) {
		if a <= prev || a > len(f.payload) {
			continue
		}
		out = append(out, igFrame{op: igOpCont, payload: f.payload[prev:a]})
		prev = a
	}
	if len(out) == 0 {
		out = append(out, igFrame{op: igOpCont})
	}
	out[0].op, out[0].rsv = f.op, f.rsv
	out[len(out)-1].fin = true
	return out
}

// igRecordings returns the plain and compressed sessions, sent by a
// client and by a server.
func igRecordings(t testing.TB) []*igRecording {
	multibyte := []byte("héllo wörld €𝄞 ✓") // 2-, 3- and 4-byte characters
	bin300 := make([]byte, 300)             // a 16-bit length
	for i := range bin300 {
		bin300[i] = byte(i * 7)
	}
	plain := []igStep{
		// cut inside "é" (bytes 1-2), "€" (14-16) and "𝄞" (18-21)
		{msg: igMsg{text: true, data: multibyte}, split: func(int) []int { return []int{2, 15, 20} }},
		{msg: igMsg{data: []byte{}}},
		{msg: igMsg{data: bin300}, split: func(n int) []int { return []int{n / 2} }, pong: true},
		{msg: igMsg{text: true, data: []byte("whole")}},
	}
	long := []byte(strings.Repeat("compressible “text” — ", 9))
	big := make([]byte, 40000) // three fragments from the Writer
	for i := range big {
		big[i] = "abcdefgh"[i%8] ^ byte(i/4096)
	}
	compressed := []igStep{
		{msg: igMsg{text: true, data: long}, split: func(n int) []int { return []int{1, n / 2} }},
		{msg: igMsg{data: big}, writer: true, pong: true},
		{msg: igMsg{text: true, data: long}}, // refers to the first through the window
		{msg: igMsg{text: true, data: multibyte}, split: func(n int) []int { return []int{n / 3, 2 * n / 3} }},
		{msg: igMsg{data: []byte{}}},
	}
	return []*igRecording{
		igRecord(t, "plain-from-client", true, false, plain),
		igRecord(t, "plain-from-server", false, false, plain),
		igRecord(t, "deflate-from-client", true, true, compressed),
		igRecord(t, "deflate-from-server", false, true, compressed),
	}
}

// igTransport replays bytes to a receiver: it returns the receiver's end
// and a function that sends wire, ends the stream and drains what the
// receiver writes.
type igTransport struct {
	name  string
	setup func(ctx context.Context, l *igLoop) (recv net.Conn, replay func(wire []byte), err error)
}

var igTCP = igTransport{name: "tcp", setup: func(ctx context.Context, l *igLoop) (net.Conn, func([]byte), error) {
	d, a, err := l.pair()
	if err != nil {
		return nil, nil, err
	}
	return d, func(wire []byte) {
		a.Write(wire)
		a.CloseWrite() // FIN: the receiver's reads end with io.EOF
		igDrain(a)
		a.Close()
	}, nil
}}

// igTLS is the replayer as a TLS server; closeNotify chooses how the cut
// ends the stream: with a close_notify alert or a bare TCP FIN.
func igTLS(scfg, ccfg *tls.Config, closeNotify bool) igTransport {
	name := "tls-fin"
	if closeNotify {
		name = "tls-close_notify"
	}
	return igTransport{name: name, setup: func(ctx context.Context, l *igLoop) (net.Conn, func([]byte), error) {
		d, a, err := l.pair()
		if err != nil {
			return nil, nil, err
		}
		s := tls.Server(a, scfg)
		c := tls.Client(d, ccfg)
		herr := make(chan error, 1)
		go func() { herr <- s.HandshakeContext(ctx) }()
		err = c.HandshakeContext(ctx)
		if serr := <-herr; err == nil {
			err = serr
		}
		if err != nil {
			c.Close()
			s.Close()
			return nil, nil, err
		}
		return c, func(wire []byte) {
			if len(wire) > 0 {
				s.Write(wire) // one record
			}
			if closeNotify {
				s.CloseWrite()
			} else {
				a.CloseWrite()
			}
			igDrain(s)
			s.Close()
		}, nil
	}}
}

// igReplay replays rec cut at offset k to a receiver using layer l and
// returns what went wrong, "" if nothing.
func igReplay(l *igLoop, tr igTransport, rec *igRecording, k int, layer igLayer) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, replay, err := tr.setup(ctx, l)
	if err != nil {
		return fmt.Sprintf("setup: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		replay(rec.wire[:k])
	}()
	defer func() { <-done }()
	flags := ws.NoHTTP
	if layer.text {
		flags |= ws.Text
	}
	cfg := &ws.Config{}
	if rec.compressed {
		cfg.Compression = &ws.CompressionOptions{}
	}
	var c *ws.Conn
	if rec.client {
		c, err = cfg.AttachServer(ctx, u, flags)
	} else {
		c, err = cfg.AttachClient(ctx, u, flags, "/", "localhost")
	}
	if err != nil {
		return fmt.Sprintf("attach: %v", err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for i := 0; ; i++ {
		m, mismatch, err := layer.next(ctx, c, buf)
		if mismatch != nil && (i >= len(rec.msgs) || rec.msgs[i].text) {
			return fmt.Sprintf("offset %d: MRecv: error %q on item %d, which is not a binary message", k, mismatch, i)
		}
		if i < len(rec.ends) && rec.ends[i] <= k {
			want := igWant(layer, rec.msgs[i])
			if err != nil {
				return fmt.Sprintf("offset %d: message %d: error %q, want %v", k, i, err, want)
			}
			if !igEqual(m, want) {
				return fmt.Sprintf("offset %d: message %d: got %v, want %v", k, i, m, want)
			}
			continue
		}
		var what string
		if rec.closeEnd <= k {
			what = igCheckClose(err, rec.code, rec.reason)
		} else {
			what = igCheckReset(err)
		}
		if what == "" {
			return ""
		}
		if err == nil || len(m.data) > 0 {
			what = fmt.Sprintf("%s, with message %v", what, m)
		}
		cut := "the close frame"
		if i < len(rec.msgs) {
			cut = fmt.Sprintf("message %d (%v)", i, rec.msgs[i])
		}
		return fmt.Sprintf("offset %d (inside %s): %s", k, cut, what)
	}
}

// igCutAll replays every offset of rec with a few connections in flight.
func igCutAll(t *testing.T, tr igTransport, rec *igRecording, layer igLayer) {
	l := igListen(t)
	reps := 1
	if os.Getenv("WS_INTEGRITY_LONG") != "" {
		reps = 5
	}
	var fails igFailures
	var wg sync.WaitGroup
	offsets := make(chan int)
	for range 4 {
		wg.Go(func() {
			for k := range offsets {
				if what := igReplay(l, tr, rec, k, layer); what != "" {
					fails.add("%s", what)
				}
			}
		})
	}
	for range reps {
		for k := 0; k <= len(rec.wire); k++ {
			offsets <- k
		}
	}
	close(offsets)
	wg.Wait()
	fails.report(t, reps*(len(rec.wire)+1), "cut offsets")
}

// TestCutEveryOffset: every recording, both roles, every receive layer,
// over TCP, cut at every offset.
func TestCutEveryOffset(t *testing.T) {
	for _, rec := range igRecordings(t) {
		for _, layer := range igLayers {
			t.Run(rec.name+"/"+layer.name, func(t *testing.T) {
				igCutAll(t, igTCP, rec, layer)
			})
		}
	}
}

// TestCutEveryOffsetTLS: a wss:// client receiving a server's session cut
// at every offset, by a bare FIN (what an on-path attacker without keys can
// do: Go's TLS reports io.EOF at a record boundary) and by a close_notify.
func TestCutEveryOffsetTLS(t *testing.T) {
	scfg, ccfg := igTLSConfigs(t)
	recs := igRecordings(t)
	plain, deflate := recs[1], recs[3] // sent by the server
	fin, notify := igTLS(scfg, ccfg, false), igTLS(scfg, ccfg, true)
	recv, reader := igLayers[0], igLayers[4]
	for _, c := range []struct {
		rec   *igRecording
		tr    igTransport
		layer igLayer
	}{
		{plain, fin, recv},
		{plain, notify, reader},
		{deflate, fin, reader},
	} {
		t.Run(c.rec.name+"/"+c.tr.name+"/"+c.layer.name, func(t *testing.T) {
			igCutAll(t, c.tr, c.rec, c.layer)
		})
	}
}
