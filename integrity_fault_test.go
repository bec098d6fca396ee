package ws_test

// Fault tests. TestRecvFaults: a receiver over a fault-injecting net.Conn
// (short reads, io.EOF, a reset, spurious timeouts, from a seeded source)
// and with random short context deadlines and cancellations; every receive
// returns the next message exactly as sent, or an error; after a timeout
// the connection is either usable with no byte lost or broken (every later
// receive fails with ErrConnReset). TestSendTimeoutsCompressed: a
// compressing sender (context takeover) with random short deadlines against
// a slow receiver; the receiver gets exactly the successful Sends, in
// order, possibly with some timed-out ones, each byte-exact.
//
// CI runs 200 and 100 seeds; WS_INTEGRITY_LONG=1 runs 20 times as many.
// A failure prints its seed; WS_INTEGRITY_SEED=n reruns that seed alone
// (WS_INTEGRITY_TRACE=1 prints every call). The faults are reproducible
// from the seed; where a context deadline fires is not, so a rerun may
// fail differently.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// igSeeds returns the seeds to run: n, or 20n with WS_INTEGRITY_LONG, or
// the one WS_INTEGRITY_SEED names.
func igSeeds(t *testing.T, n int) []uint64 {
	if s := os.Getenv("WS_INTEGRITY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WS_INTEGRITY_SEED: %v", err)
		}
		return []uint64{v}
	}
	if os.Getenv("WS_INTEGRITY_LONG") != "" {
		n *= 20
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// igTimeoutError is a spurious timeout from the underlying conn.
type igTimeoutError struct{}

func (igTimeoutError) Error() string        { return "injected i/o timeout" }
func (igTimeoutError) Timeout() bool        { return true }
func (igTimeoutError) Temporary() bool      { return true }
func (igTimeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// igFaultConn wraps a real TCP conn and, from a seeded source, makes
// short reads, spurious timeouts (no byte consumed), and ends the stream
// with io.EOF or a reset (sticky, as a real connection's end is).
type igFaultConn struct {
	net.Conn
	mu      sync.Mutex
	rng     *mrand.Rand
	pShort  int   // per mille of reads cut short
	pTime   int   // per mille of reads failing with a timeout
	pEnd    int   // per mille of reads ending the stream (EOF or reset)
	end     error // the stream's end, once injected
	injects int   // faults injected
}

func (c *igFaultConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.end != nil {
		c.mu.Unlock()
		return 0, c.end
	}
	r := c.rng.IntN(1000)
	switch {
	case r < c.pEnd:
		c.end = io.EOF
		if c.rng.IntN(2) == 0 {
			c.end = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		}
		c.injects++
		c.mu.Unlock()
		return 0, c.end
	case r < c.pEnd+c.pTime:
		c.injects++
		c.mu.Unlock()
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: igTimeoutError{}}
	case r < c.pEnd+c.pTime+c.pShort && len(p) > 1:
		p = p[:1+c.rng.IntN(len(p)-1)]
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// igCtx returns a context for one call: a safety bound (a hang fails the
// test, never a timing assertion), a short deadline, a cancellation at a
// random moment, or one already done.
func igCtx(rng *mrand.Rand) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	switch rng.IntN(8) {
	case 0, 1:
		c2, c2cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Microsecond)
		return c2, func() { c2cancel(); cancel() }
	case 2:
		c2, c2cancel := context.WithCancel(ctx)
		t := time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, c2cancel)
		return c2, func() { t.Stop(); c2cancel(); cancel() }
	case 3:
		if rng.IntN(4) == 0 {
			c2, c2cancel := context.WithCancel(ctx)
			c2cancel()
			return c2, cancel
		}
	}
	return ctx, cancel
}

// igIsTimeout reports a timeout or cancellation that does not say the
// direction broke (a broken direction's ErrConnReset may wrap the timeout
// that broke it).
func igIsTimeout(err error) bool {
	return (errors.Is(err, ws.ErrTimedOut) || errors.Is(err, ws.ErrCanceled)) && !errors.Is(err, ws.ErrConnReset)
}

// igMessages returns n distinct messages: text (multibyte) and binary, up
// to max bytes, compressible, each starting with its index.
func igMessages(rng *mrand.Rand, n, max int) []igMsg {
	words := []string{"integrity ", "wörld ", "€uro ", "𝄞 ", "frame ", "window ", "deflate "}
	msgs := make([]igMsg, n)
	for i := range msgs {
		size := rng.IntN(max)
		if rng.IntN(4) == 0 {
			size = rng.IntN(200)
		}
		b := fmt.Appendf(nil, "message %d: ", i)
		for len(b) < size {
			b = append(b, words[rng.IntN(len(words))]...)
		}
		msgs[i] = igMsg{text: rng.IntN(3) != 0, data: b}
		if !msgs[i].text && rng.IntN(2) == 0 {
			for j := len(b) / 2; j < len(b); j++ {
				b[j] ^= byte(rng.Uint32())
			}
		}
	}
	return msgs
}

func igFlags(m igMsg) ws.Flags {
	if m.text {
		return ws.Text
	}
	return ws.Binary
}

// TestRecvFaults: see the file's comment.
func TestRecvFaults(t *testing.T) {
	l := igListen(t)
	var fails igFailures
	seeds := igSeeds(t, 200)
	for _, seed := range seeds {
		if what := igRecvFaults(l, seed); what != "" {
			fails.add("seed %d (rerun: WS_INTEGRITY_SEED=%d go test -race -run TestRecvFaults): %s", seed, seed, what)
		}
	}
	fails.report(t, len(seeds), "seeds")
}

func igRecvFaults(l *igLoop, seed uint64) string {
	rng := mrand.New(mrand.NewPCG(seed, 0x7265637666))
	d, a, err := l.pair()
	if err != nil {
		return err.Error()
	}
	fc := &igFaultConn{Conn: d, rng: mrand.New(mrand.NewPCG(seed, 1)),
		pShort: rng.IntN(600), pTime: rng.IntN(60), pEnd: rng.IntN(4)}
	cfg := &ws.Config{}
	if seed%2 == 0 {
		cfg.Compression = &ws.CompressionOptions{}
	}
	msgs := igMessages(rng, 12, 40000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recv, err := cfg.AttachServer(ctx, fc, ws.NoHTTP)
	if err != nil {
		a.Close()
		return fmt.Sprintf("attach: %v", err)
	}
	defer recv.Close()
	send, err := cfg.AttachClient(ctx, a, ws.NoHTTP, "/", "localhost")
	if err != nil {
		return fmt.Sprintf("attach: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer send.Close()
		srng := mrand.New(mrand.NewPCG(seed, 2))
		for _, m := range msgs {
			if err := send.Send(ctx, igFlags(m), m.data); err != nil {
				return
			}
			if srng.IntN(3) == 0 {
				time.Sleep(time.Duration(srng.IntN(500)) * time.Microsecond)
			}
		}
		if send.Done(ctx, ws.StatusNormalClosure, "end") == nil {
			// Keep the stream open until the receiver is done with it.
			buf := make([]byte, 128)
			for {
				if _, _, err := send.Recv(ctx, buf); err != nil && !errors.Is(err, ws.ErrMsgSize) {
					return
				}
			}
		}
	}()
	defer func() { recv.Close(); <-done }()

	// A Reader whose Read timed out left its message unfinished: the next
	// call may discard it, as Reader documents, or fail (the receive side
	// broke); a partial message is never taken for a whole one.
	opened := false // Reader succeeded, and its Read failed
	reader := igLayer{name: "Reader", next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		opened = false
		f, r, err := c.Reader(ctx)
		if err != nil {
			return igMsg{}, nil, err
		}
		b, err := io.ReadAll(r)
		opened = err != nil
		return igMsg{text: f&ws.Text != 0, data: b}, nil, err
	}}
	layers := []igLayer{igLayers[0], igLayers[1], reader} // Recv, RecvV, Reader
	buf := make([]byte, 64<<10)
	next := 0          // index of the next message to come
	broken := false    // an ErrConnReset was seen: every later receive must fail
	skippable := false // the message at next was opened by a Reader and abandoned
	afterTimeout := "" // the last timeout, for the report
	for calls := 0; calls < 3000; calls++ {
		layer := layers[rng.IntN(len(layers))]
		cctx, ccancel := igCtx(rng)
		doneAtEntry := cctx.Err() != nil // returns at once, changes nothing: may say so after a break too
		start := time.Now()
		m, _, err := layer.next(cctx, recv, buf)
		// A deadline within 2 ms of the call's start may have passed
		// before the library looked at ctx (a loaded machine preempts
		// between doneAtEntry and the call): the ctx's error may win then.
		// A ctx with more time left must still meet ErrConnReset at once.
		if dl, ok := cctx.Deadline(); ok && dl.Before(start.Add(2*time.Millisecond)) && cctx.Err() != nil {
			doneAtEntry = doneAtEntry || igIsTimeout(err)
		}
		ccancel()
		if os.Getenv("WS_INTEGRITY_TRACE") != "" {
			fmt.Printf("call %d %s: %v %v\n", calls, layer.name, m, err)
		}
		if time.Since(start) > 9*time.Second {
			return fmt.Sprintf("call %d (%s) hung: %v", calls, layer.name, err)
		}
		switch {
		case err == nil && broken:
			return fmt.Sprintf("call %d (%s): got %v after ErrConnReset", calls, layer.name, m)
		case err == nil && next >= len(msgs):
			return fmt.Sprintf("call %d (%s): got %v after the last message", calls, layer.name, m)
		case err == nil && skippable && next+1 < len(msgs) && igEqual(m, msgs[next+1]):
			next += 2
			skippable = false
		case err == nil && !igEqual(m, msgs[next]) && skippable && next+1 < len(msgs):
			return fmt.Sprintf("call %d (%s): got %v, want message %d: %v, or %d: %v (discarding %d, unfinished)%s", calls, layer.name, m, next, msgs[next], next+1, msgs[next+1], next, afterTimeout)
		case err == nil && !igEqual(m, msgs[next]):
			return fmt.Sprintf("call %d (%s): got %v, want message %d: %v%s", calls, layer.name, m, next, msgs[next], afterTimeout)
		case err == nil:
			next++
			skippable = false
		case igIsTimeout(err):
			if layer.name == "Reader" && opened && skippable {
				// This Reader discarded the message abandoned before
				// and opened the next one, which it abandons in turn.
				next++
			}
			skippable = skippable || layer.name == "Reader" && opened
			if broken && !doneAtEntry {
				return fmt.Sprintf("call %d (%s): %q after ErrConnReset", calls, layer.name, err)
			}
			afterTimeout = fmt.Sprintf(" (after call %d timed out: %q)", calls, err)
		case errors.Is(err, ws.ErrPipe):
			if next != len(msgs) && !(skippable && next+1 == len(msgs)) {
				return fmt.Sprintf("call %d (%s): %q before message %d of %d", calls, layer.name, err, next, len(msgs))
			}
			return ""
		case errors.Is(err, ws.ErrConnReset) && !errors.Is(err, ws.ErrProto) && !errors.Is(err, ws.ErrMsgSize):
			if broken {
				return "" // twice: sticky
			}
			broken = true
		default:
			return fmt.Sprintf("call %d (%s): unexpected error %q at message %d (%d faults injected)%s", calls, layer.name, err, next, fc.injects, afterTimeout)
		}
	}
	return fmt.Sprintf("no end after 3000 calls, at message %d", next)
}

// TestSendTimeoutsCompressed: see the file's comment.
// The uncompressed run is the control: it holds on today's code too.
func TestSendTimeoutsCompressed(t *testing.T) {
	for _, compressed := range []bool{true, false} {
		name := "deflate"
		if !compressed {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			l := igListen(t)
			var fails igFailures
			seeds := igSeeds(t, 100)
			for _, seed := range seeds {
				if what := igSendTimeouts(l, seed, compressed); what != "" {
					fails.add("seed %d (rerun: WS_INTEGRITY_SEED=%d go test -race -run TestSendTimeoutsCompressed/%s): %s", seed, seed, name, what)
				}
			}
			fails.report(t, len(seeds), "seeds")
		})
	}
}

// igSent is one Send and what it returned.
type igSent struct {
	msg igMsg
	err error
}

func igSendTimeouts(l *igLoop, seed uint64, compressed bool) string {
	rng := mrand.New(mrand.NewPCG(seed, 0x73656e64))
	d, a, err := l.pair()
	if err != nil {
		return err.Error()
	}
	// A small send buffer, so that writes block on the slow receiver
	// (a small receive buffer too makes TCP stall for 200 ms at a time).
	d.SetWriteBuffer(16 << 10)
	cfg := &ws.Config{}
	if compressed {
		cfg.Compression = &ws.CompressionOptions{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send, err := cfg.AttachClient(ctx, d, ws.NoHTTP, "/", "localhost")
	if err != nil {
		a.Close()
		return fmt.Sprintf("attach: %v", err)
	}
	defer send.Close()
	recv, err := cfg.AttachServer(ctx, a, ws.NoHTTP)
	if err != nil {
		return fmt.Sprintf("attach: %v", err)
	}
	defer recv.Close()
	msgs := igMessages(rng, 24, 30000)

	sent := make(chan []igSent, 1)
	go func() {
		srng := mrand.New(mrand.NewPCG(seed, 3))
		var out []igSent
		defer func() { sent <- out }()
		for _, m := range msgs {
			cctx, ccancel := igCtx(srng)
			t0 := time.Now()
			err := send.Send(cctx, igFlags(m), m.data)
			ccancel()
			if os.Getenv("WS_INTEGRITY_TRACE") != "" {
				fmt.Printf("send %d (%d bytes): %v in %v\n", len(out), len(m.data), err, time.Since(t0))
			}
			out = append(out, igSent{m, err})
			if err != nil && !igIsTimeout(err) {
				break
			}
		}
		if len(out) > 0 && out[len(out)-1].err != nil && !igIsTimeout(out[len(out)-1].err) {
			send.Close() // broken: end the stream
			return
		}
		if err := send.Done(ctx, ws.StatusNormalClosure, "end"); err != nil {
			send.Close()
		}
	}()

	var got []igMsg
	var rerr error
	buf := make([]byte, 64<<10)
	for {
		n, f, err := recv.Recv(ctx, buf)
		if err != nil {
			rerr = err
			break
		}
		got = append(got, igMsg{text: f&ws.Text != 0, data: append([]byte(nil), buf[:n]...)})
		if rng.IntN(2) == 0 {
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
		}
	}
	recv.Close()
	s := <-sent

	// got must be s with some timed-out Sends left out, in order.
	j := 0
	for i, m := range got {
		for j < len(s) && !igEqual(s[j].msg, m) {
			if s[j].err == nil {
				return fmt.Sprintf("received message %d is %v, but Send %d (%v) succeeded and never arrived%s", i, m, j, s[j].msg, igSendLog(s, j))
			}
			j++
		}
		switch {
		case j == len(s):
			return fmt.Sprintf("received message %d, %v, was never sent (corrupted?)%s", i, m, igSendLog(s, len(s)))
		case s[j].err != nil && !igIsTimeout(s[j].err):
			return fmt.Sprintf("received message %d whose Send failed with %q", i, s[j].err)
		}
		j++
	}
	for ; j < len(s); j++ {
		if s[j].err == nil {
			return fmt.Sprintf("Send %d (%v) succeeded but never arrived; the receiver stopped with %q%s", j, s[j].msg, rerr, igSendLog(s, j))
		}
	}
	var ce ws.CloseError
	if !errors.As(rerr, &ce) && (!errors.Is(rerr, ws.ErrConnReset) || errors.Is(rerr, ws.ErrProto) || errors.Is(rerr, ws.ErrMsgSize)) {
		return fmt.Sprintf("the receiver stopped with %q after %d messages%s", rerr, len(got), igSendLog(s, len(s)))
	}
	return ""
}

// igSendLog describes the Sends before index at, for a report.
func igSendLog(s []igSent, at int) string {
	var b bytes.Buffer
	b.WriteString("; Sends:")
	for i := max(0, at-4); i < min(len(s), at+1); i++ {
		r := "ok"
		if s[i].err != nil {
			r = s[i].err.Error()
		}
		fmt.Fprintf(&b, " [%d: %s]", i, r)
	}
	return b.String()
}
