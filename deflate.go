package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// The permessage-deflate codec (RFC 7692 §7.2) over klauspost/compress's
// flate: a deflater in the send half and an inflater in the receive half.
// An idle connection holds flate state only where context takeover needs
// it: the compressor of its own messages, and a copy of the peer's last
// window. Neither calls into the connection: the inflater reads compressed
// payload from an io.Reader the receive half hands it.

// deflater compresses the connection's messages.
type deflater struct {
	level, threshold int
	bits             int  // the LZ77 window's size, 2^bits
	takeover         bool // the window is kept between messages
	fw               *flate.Writer
	out              sinkBuffer // compressed message being sent
}

// inflater decompresses the peer's messages.
type inflater struct {
	takeover bool         // the peer keeps its window between messages
	fr       *flateReader // open while a compressed message is read
	src      tailReader   // the message's payload, then the tail
	win      []byte       // the peer's window, with takeover
	skip     []byte       // scratch for discarded decompressed bytes
	draining bool         // DEFLATE data ended; the payload's rest is dropped
}

// newCodec returns the deflater and inflater for the agreed parameters p
// on the client or server side.
func newCodec(p *deflateParams, o *CompressionOptions, client bool) (*deflater, *inflater) {
	k := &struct { // one allocation for both halves
		zw deflater
		zr inflater
	}{zw: deflater{level: 1, threshold: 128}}
	zw, zr := &k.zw, &k.zr
	if o != nil {
		if o.Level != 0 {
			zw.level = o.Level
		}
		if o.Threshold != 0 {
			zw.threshold = max(0, o.Threshold)
		}
	}
	if client {
		zw.bits, zw.takeover, zr.takeover = p.clientBits, !p.clientNoTakeover, !p.serverNoTakeover
	} else {
		zw.bits, zw.takeover, zr.takeover = p.serverBits, !p.serverNoTakeover, !p.clientNoTakeover
	}
	return zw, zr
}

// sinkBuffer collects compressed output.
type sinkBuffer struct{ b []byte }

func (s *sinkBuffer) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// Compressors are pooled by level for connections that do not keep one.
var writerPools [12]sync.Pool // levels -2 … 9

func (z *deflater) writer() *flate.Writer {
	if z.fw != nil {
		return z.fw
	}
	var w *flate.Writer
	if z.bits < 15 {
		w, _ = flate.NewWriterWindow(&z.out, 1<<z.bits)
	} else if x, ok := writerPools[z.level+2].Get().(*flate.Writer); ok {
		w = x
		w.Reset(&z.out)
	} else {
		w, _ = flate.NewWriter(&z.out, z.level)
	}
	if z.takeover {
		z.fw = w
	}
	return w
}

func (z *deflater) release(w *flate.Writer) {
	if z.fw == nil && z.bits == 15 {
		writerPools[z.level+2].Put(w)
	}
}

// compress deflates bufs as (part of) one message and returns the output
// (RFC 7692 §7.2.1): with final, the trailing 0x00 0x00 0xff 0xff of the
// sync flush is removed.
func (z *deflater) compress(bufs [][]byte, final bool) []byte {
	z.out.b = z.out.b[:0]
	w := z.writer()
	for _, b := range bufs {
		w.Write(b)
	}
	w.Flush()
	out := z.out.b
	if final {
		out = bytes.TrimSuffix(out, []byte{0, 0, 0xff, 0xff})
		if !z.takeover {
			z.release(w)
		}
	}
	return out
}

// The tail that completes a message's compressed data (RFC 7692 §7.2.2):
// the 0x00 0x00 0xff 0xff the sender removed: the LEN and NLEN of the
// empty stored block that ends the sender's data (its 3-bit header is in
// the payload's last byte). After it, endBlock, an empty final stored
// block, lets the decompressor end cleanly.
const (
	syncMarker = "\x00\x00\xff\xff"
	endBlock   = "\x01\x00\x00\xff\xff"
	tail       = syncMarker + endBlock
)

// tailReader feeds a compressed message's payload, then the tail, to the
// decompressor's read-ahead buffer, and counts what it gave, so that end
// can tell where the DEFLATE data stopped. It keeps the
// payload reader's own error, so that a failure of the bytestream is never
// taken for corrupt data.
type tailReader struct {
	r     io.Reader // the payload: io.EOF after the message's last byte
	given int64     // bytes handed out, payload and tail
	tail  int       // bytes of the tail handed out; the payload is all read
	done  bool      // the payload reader said io.EOF
	err   error     // the payload reader's failure
}

func (s *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	if !s.done {
		n, err := s.r.Read(p)
		s.given += int64(n)
		switch {
		case err == io.EOF:
			s.done = true
		case err != nil:
			s.err = err
		}
		if n > 0 || s.err != nil {
			return n, s.err
		}
	}
	if s.tail == len(tail) {
		return 0, io.EOF
	}
	k := copy(p, tail[s.tail:])
	s.tail += k
	s.given += int64(k)
	return k, nil
}

// flateReader is a decompressor with its input buffer: reading from a
// *bufio.Reader takes klauspost's fast input path.
type flateReader struct {
	fr io.ReadCloser
	br *bufio.Reader
}

var readerPool sync.Pool // of *flateReader

// errDeflateEnd is read's signal that the message's DEFLATE data ended.
var errDeflateEnd = errors.New("ws: end of compressed data")

// read reads decompressed bytes of the open message into dst from src,
// the message's payload. It returns errDeflateEnd once the DEFLATE data
// ended, errBadDeflate for corrupt data, and src's own errors as they are.
func (z *inflater) read(src io.Reader, dst []byte) (int, error) {
	if z.fr == nil {
		z.src = tailReader{r: src}
		if x, ok := readerPool.Get().(*flateReader); ok {
			x.br.Reset(&z.src)
			x.fr.(flate.Resetter).Reset(x.br, z.win)
			z.fr = x
		} else {
			br := bufio.NewReaderSize(&z.src, 4096)
			z.fr = &flateReader{fr: flate.NewReaderDict(br, z.win), br: br}
		}
	}
	n, err := z.fr.fr.Read(dst)
	if z.takeover && n > 0 {
		z.keepWindow(dst[:n])
	}
	switch {
	case z.src.err != nil:
		// The bytestream failed or timed out. flate then flushes what it
		// decoded of a cut block, even with a nil error: not data.
		err = z.src.err
	case err == nil:
	case err == io.EOF:
		err = z.end()
	default:
		err = errBadDeflate
	}
	return n, err
}

// end checks where the DEFLATE data ended and closes the message's
// decompressor: in the payload (the sender's own final block: the rest of
// the payload is dropped) or exactly at the end of the tail; anywhere
// else the sender's data did not end on a block boundary.
func (z *inflater) end() error {
	x := z.fr
	z.fr = nil
	used := z.src.given - int64(x.br.Buffered())
	payload := z.src.given - int64(z.src.tail)
	x.br.Reset(nil)
	readerPool.Put(x)
	if used <= payload || z.src.tail == len(tail) && used == z.src.given {
		return errDeflateEnd
	}
	return errBadDeflate
}

// busy reports whether compressed bytes of the open message were
// consumed: then the message cannot be received again from its start.
func (z *inflater) busy() bool { return z.fr != nil || z.draining }

// scratch returns up to max bytes of space for decompressed bytes that
// are dropped.
func (z *inflater) scratch(max int) []byte {
	if z.skip == nil {
		z.skip = make([]byte, 4096)
	}
	return z.skip[:min(max, len(z.skip))]
}

// keepWindow appends p to the copy of the peer's last 32 KiB of output.
func (z *inflater) keepWindow(p []byte) {
	const size = 32 << 10
	if len(p) >= size {
		z.win = append(z.win[:0], p[len(p)-size:]...)
		return
	}
	if len(z.win)+len(p) > 2*size || cap(z.win) == 0 {
		keep := z.win[max(0, len(z.win)-(size-len(p))):]
		if cap(z.win) == 0 {
			z.win = make([]byte, 0, 2*size)
		}
		z.win = append(z.win[:0], keep...)
	}
	z.win = append(z.win, p...)
}
