// Package wire holds the fixed, cheap side of every benchmark: pre-encoded
// frames, a canned HTTP upgrade request and response, and load generators
// that drive a library's server or client without any WebSocket library.
package wire

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
)

// RequestKey is the fixed Sec-WebSocket-Key the generators send (RFC 6455's example).
const RequestKey = "dGhlIHNhbXBsZSBub25jZQ=="

// Request is the upgrade request generators send to a server library.
var Request = []byte("GET / HTTP/1.1\r\n" +
	"Host: 127.0.0.1\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: " + RequestKey + "\r\n" +
	"Sec-WebSocket-Version: 13\r\n\r\n")

// AcceptKey computes Sec-WebSocket-Accept for key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Response returns the 101 answer to a request carrying key.
func Response(key string) []byte {
	return []byte("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + AcceptKey(key) + "\r\n\r\n")
}

// Mask is the fixed masking key of the generators' client frames.
var Mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// AppendFrame appends one final frame with opcode op carrying payload;
// masked frames (client to server) use Mask.
func AppendFrame(dst []byte, op byte, payload []byte, masked bool) []byte {
	n := len(payload)
	b1 := byte(0)
	if masked {
		b1 = 0x80
	}
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, b1|byte(n))
	case n < 65536:
		dst = append(dst, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !masked {
		return append(dst, payload...)
	}
	dst = append(dst, Mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= Mask[i&3]
	}
	return dst
}

// AppendRaw appends payload with the raw-TCP baseline's 4-byte big-endian length prefix.
func AppendRaw(dst []byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// Encode returns one encoded message for the given library framing:
// "raw" gets the length prefix, anything else a WebSocket binary frame.
func Encode(raw, masked bool, payload []byte) []byte {
	if raw {
		return AppendRaw(nil, payload)
	}
	return AppendFrame(nil, 2, payload, masked)
}

// Payload returns a deterministic payload of n bytes.
func Payload(n int) []byte {
	p := make([]byte, n)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

// JSONPayload returns a compressible JSON document of about n bytes.
func JSONPayload(n int) []byte { return jsonDoc(n, 0) }

// JSONDocs is how many distinct documents JSONPayloads returns.
const JSONDocs = 64

// JSONPayloads returns JSONDocs distinct JSON documents of exactly n bytes
// each: the same shape, with ids, names, prices, tags and flags drawn from
// a generator seeded by the document's index, so every library sends the
// same rotating set and a message is not a copy of the previous one.
func JSONPayloads(n int) [][]byte {
	out := make([][]byte, JSONDocs)
	for i := range out {
		out[i] = jsonDoc(n, uint64(i)+1)
	}
	return out
}

var jsonTags = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"}
var jsonWords = []string{"widget", "gadget", "sprocket", "gizmo", "doohickey", "bracket", "flange", "valve", "rotor", "spindle", "coupler", "bearing"}

// jsonDoc builds one document; seed 0 is the historical fixed document.
func jsonDoc(n int, seed uint64) []byte {
	var b bytes.Buffer
	if seed == 0 {
		b.WriteString(`{"items":[`)
		for i := 0; b.Len() < n-64; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,"name":"item-%d","price":%d.%02d,"tags":["alpha","beta"],"active":%t}`,
				i, i*7%1000, i*13%500, i%100, i%3 == 0)
		}
	} else {
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		fmt.Fprintf(&b, `{"batch":%d,"ts":%d,"items":[`, seed, 1700000000000+r.Int64N(1e9))
		for i := 0; b.Len() < n-160; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,"name":"%s-%d","price":%d.%02d,"qty":%d,"tags":["%s","%s"],"active":%t}`,
				r.Int64N(1e9), jsonWords[r.IntN(len(jsonWords))], r.IntN(100000), r.IntN(5000), r.IntN(100),
				r.IntN(1000), jsonTags[r.IntN(len(jsonTags))], jsonTags[r.IntN(len(jsonTags))], r.IntN(2) == 0)
		}
	}
	b.WriteString(`]}`)
	for b.Len() < n {
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

var errHeader = errors.New("wire: bad handshake header")

// readHeader reads an HTTP header block (through the blank line) one buffered
// chunk at a time and returns it and anything read past it.
func readHeader(c io.Reader) (hdr, rest []byte, err error) {
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], buf[i+4:], nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(buf) > 16<<10 {
			return nil, nil, errHeader
		}
	}
}

// ClientHandshake plays the client towards a server library: it sends Request
// and reads the 101 response. It returns bytes the server sent after it.
func ClientHandshake(c io.ReadWriter) ([]byte, error) {
	if _, err := c.Write(Request); err != nil {
		return nil, err
	}
	hdr, rest, err := readHeader(c)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(hdr, []byte("HTTP/1.1 101")) {
		return nil, fmt.Errorf("wire: server answered %q", firstLine(hdr))
	}
	return rest, nil
}

// ServerHandshake plays the server towards a client library: it reads the
// request and answers 101 with the right accept key.
func ServerHandshake(c io.ReadWriter) ([]byte, error) {
	hdr, rest, err := readHeader(c)
	if err != nil {
		return nil, err
	}
	key, ok := headerValue(hdr, "sec-websocket-key")
	if !ok {
		return nil, errHeader
	}
	_, err = c.Write(Response(key))
	return rest, err
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\r'); i >= 0 {
		return b[:i]
	}
	return b
}

// headerValue finds a header (name in lower case) in a raw header block.
func headerValue(hdr []byte, name string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	for sc.Scan() {
		line := sc.Text()
		i := bytes.IndexByte([]byte(line), ':')
		if i < 0 {
			continue
		}
		if string(bytes.ToLower([]byte(line[:i]))) == name {
			return string(bytes.TrimSpace([]byte(line[i+1:]))), true
		}
	}
	return "", false
}

// Source writes count copies of msg to c, batching them into writes of at
// least 64 KiB.
func Source(c net.Conn, msg []byte, count int) error {
	per := max(1, (64<<10)/len(msg))
	block := bytes.Repeat(msg, min(per, count))
	for count > 0 {
		k := min(count, per)
		if _, err := c.Write(block[:k*len(msg)]); err != nil {
			return err
		}
		count -= k
	}
	return nil
}

// Sink reads and discards everything until c fails or reaches EOF.
func Sink(c net.Conn) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
	}
}
