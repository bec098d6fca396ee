package ws_test

// Helpers of the message-integrity tests (integrity_*_test.go): a raw frame
// builder and parser of our own, loopback TCP and TLS pairs, the receive
// layers behind one signature, and the checks on terminal errors. They use
// only the exported API, so that internal renames do not break them.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// Opcodes of RFC 6455 §5.2.
const (
	igOpCont   byte = 0x0
	igOpText   byte = 0x1
	igOpBinary byte = 0x2
	igOpClose  byte = 0x8
	igOpPing   byte = 0x9
	igOpPong   byte = 0xA
)

// igFrame is one frame, its payload unmasked.
type igFrame struct {
	fin     bool
	rsv     byte // the three RSV bits, 0..7 (RSV1 = 4)
	op      byte
	payload []byte
}

// igAppendFrame appends the wire form of f to dst: masked with a key
// drawn from rng when masked is set. The payload is never modified.
func igAppendFrame(dst []byte, f igFrame, masked bool, rng *mrand.Rand) []byte {
	b0 := f.rsv&7<<4 | f.op&0xF
	if f.fin {
		b0 |= 0x80
	}
	var b1 byte
	if masked {
		b1 = 0x80
	}
	switch n := len(f.payload); {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !masked {
		return append(dst, f.payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rng.Uint32())
	dst = append(dst, key[:]...)
	for i, c := range f.payload {
		dst = append(dst, c^key[i&3])
	}
	return dst
}

// igParseFrames splits b into whole frames, unmasking payloads. It fails if
// b ends inside a frame.
func igParseFrames(b []byte) ([]igFrame, error) {
	var fs []igFrame
	for len(b) > 0 {
		if len(b) < 2 {
			return fs, errors.New("truncated header")
		}
		f := igFrame{fin: b[0]&0x80 != 0, rsv: b[0] >> 4 & 7, op: b[0] & 0xF}
		masked := b[1]&0x80 != 0
		n := uint64(b[1] & 0x7F)
		h := 2
		switch n {
		case 126:
			if len(b) < 4 {
				return fs, errors.New("truncated header")
			}
			n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return fs, errors.New("truncated header")
			}
			n, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		var key [4]byte
		if masked {
			if len(b) < h+4 {
				return fs, errors.New("truncated header")
			}
			copy(key[:], b[h:])
			h += 4
		}
		if uint64(len(b)-h) < n {
			return fs, errors.New("truncated payload")
		}
		f.payload = append([]byte(nil), b[h:h+int(n)]...)
		if masked {
			for i := range f.payload {
				f.payload[i] ^= key[i&3]
			}
		}
		fs = append(fs, f)
		b = b[h+int(n):]
	}
	return fs, nil
}

// igLoop is a loopback TCP listener handing out connected pairs.
type igLoop struct {
	ln net.Listener
	mu sync.Mutex // one Dial+Accept at a time, so that each pair is one connection
}

func igListen(t testing.TB) *igLoop {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &igLoop{ln: ln}
}

// pair returns a dialed and an accepted end of a fresh connection. The
// dialing end takes the ephemeral port, so the accepted end may close first
// (TIME_WAIT) without exhausting ports.
func (l *igLoop) pair() (dialed, accepted *net.TCPConn, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	a, err := l.ln.Accept()
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d.(*net.TCPConn), a.(*net.TCPConn), nil
}

// igCapture runs a real ws sender over loopback TCP and returns every byte
// it wrote: script runs on the sender, then the sender is closed.
func igCapture(t testing.TB, client bool, cfg *ws.Config, script func(ctx context.Context, c *ws.Conn) error) []byte {
	t.Helper()
	l := igListen(t)
	d, a, err := l.pair()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(a)
		a.Close()
		got <- b
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c *ws.Conn
	if client {
		c, err = cfg.AttachClient(ctx, d, ws.NoHTTP, "/", "localhost")
	} else {
		c, err = cfg.AttachServer(ctx, d, ws.NoHTTP)
	}
	if err != nil {
		t.Fatal(err)
	}
	serr := script(ctx, c)
	c.Close()
	b := <-got
	if serr != nil {
		t.Fatalf("recording: %v", serr)
	}
	return b
}

// igMsg is one message as the receiver must return it.
type igMsg struct {
	text bool
	data []byte
}

func (m igMsg) String() string {
	typ := "binary"
	if m.text {
		typ = "text"
	}
	return fmt.Sprintf("%s %s", typ, igPreview(m.data))
}

func igPreview(p []byte) string {
	if len(p) <= 24 {
		return fmt.Sprintf("%q (%d bytes)", p, len(p))
	}
	return fmt.Sprintf("%q… (%d bytes)", p[:24], len(p))
}

// igLayer is a receive layer: next returns one message or an error.
// mismatch is MRecv's ErrProto when the layer refused a message as of the
// other type before taking it with Recv: the message must then be binary.
type igLayer struct {
	name string
	text bool // attach the receiver typed Text (for MRecv)
	next func(ctx context.Context, c *ws.Conn, buf []byte) (m igMsg, mismatch, err error)
}

// igSkipAt and igSkipLen place the Skip element of the RecvV+Skip layer.
const (
	igSkipAt  = 3
	igSkipLen = 2
)

var igLayers = []igLayer{
	{name: "Recv", next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		n, f, err := c.Recv(ctx, buf)
		return igMsg{text: f&ws.Text != 0, data: append([]byte(nil), buf[:n]...)}, nil, err
	}},
	{name: "RecvV", next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		n, f, err := c.RecvV(ctx, buf[:7], buf[7:])
		return igMsg{text: f&ws.Text != 0, data: append([]byte(nil), buf[:n]...)}, nil, err
	}},
	{name: "RecvV+Skip", next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		// bytes [igSkipAt, igSkipAt+igSkipLen) are discarded: they read as zeros.
		rest := buf[igSkipAt+igSkipLen:]
		n, f, err := c.RecvV(ctx, buf[:igSkipAt], ws.Skip(igSkipLen), rest)
		out := make([]byte, n)
		copy(out, buf[:min(n, igSkipAt)])
		if n > igSkipAt+igSkipLen {
			copy(out[igSkipAt+igSkipLen:], rest[:n-igSkipAt-igSkipLen])
		}
		return igMsg{text: f&ws.Text != 0, data: out}, nil, err
	}},
	{name: "MRecv", text: true, next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		n, err := c.MRecv(ctx, buf)
		if err == nil {
			return igMsg{text: true, data: append([]byte(nil), buf[:n]...)}, nil, nil
		}
		if !errors.Is(err, ws.ErrProto) {
			return igMsg{}, nil, err
		}
		// A binary message: MRecv refuses it and leaves it queued.
		n, f, rerr := c.Recv(ctx, buf)
		return igMsg{text: f&ws.Text != 0, data: append([]byte(nil), buf[:n]...)}, err, rerr
	}},
	{name: "Reader", next: func(ctx context.Context, c *ws.Conn, buf []byte) (igMsg, error, error) {
		f, r, err := c.Reader(ctx)
		if err != nil {
			return igMsg{}, nil, err
		}
		b, err := io.ReadAll(r)
		return igMsg{text: f&ws.Text != 0, data: b}, nil, err
	}},
}

// igWant returns m as layer l shows it (RecvV+Skip zeroes the skipped bytes).
func igWant(l igLayer, m igMsg) igMsg {
	if l.name != "RecvV+Skip" || len(m.data) <= igSkipAt {
		return m
	}
	d := append([]byte(nil), m.data...)
	clear(d[igSkipAt:min(len(d), igSkipAt+igSkipLen)])
	return igMsg{text: m.text, data: d}
}

func igEqual(a, b igMsg) bool { return a.text == b.text && bytes.Equal(a.data, b.data) }

// igCheckReset reports what is wrong with err as the error of a cut
// connection: it must be ErrConnReset, and neither ErrProto nor ErrMsgSize.
func igCheckReset(err error) string {
	switch {
	case err == nil:
		return "nil error"
	case !errors.Is(err, ws.ErrConnReset):
		return fmt.Sprintf("error %q is not ErrConnReset", err)
	case errors.Is(err, ws.ErrProto):
		return fmt.Sprintf("error %q is ErrProto", err)
	case errors.Is(err, ws.ErrMsgSize):
		return fmt.Sprintf("error %q is ErrMsgSize", err)
	}
	return ""
}

// igCheckClose reports what is wrong with err as the peer's close.
func igCheckClose(err error, code ws.StatusCode, reason string) string {
	var ce ws.CloseError
	if !errors.As(err, &ce) {
		return fmt.Sprintf("error %v, want CloseError %d %q", err, code, reason)
	}
	if ce.Code != code || ce.Reason != reason {
		return fmt.Sprintf("CloseError %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
	}
	return ""
}

// igDrain reads and discards what the receiver writes (pongs, its close)
// until the connection ends.
func igDrain(r io.Reader) { io.Copy(io.Discard, r) }

// igFailures collects the failures of many parallel runs and reports the
// first few, with a count.
type igFailures struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (f *igFailures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < 4 || os.Getenv("WS_INTEGRITY_VERBOSE") != "" {
		f.first = append(f.first, fmt.Sprintf(format, args...))
	}
}

func (f *igFailures) report(t testing.TB, of int, what string) {
	t.Helper()
	if f.n == 0 {
		return
	}
	msg := fmt.Sprintf("%d of %d %s wrong; first:", f.n, of, what)
	for _, s := range f.first {
		msg += "\n\t" + s
	}
	t.Error(msg)
}

// igTLSConfigs returns a server and a client TLS configuration sharing a
// self-signed certificate for 127.0.0.1, generated here.
func igTLSConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ws integrity test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	// Resumed sessions keep thousands of handshakes cheap.
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	return server, client
}
