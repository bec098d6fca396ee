package ws

import (
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
	takeover bool          // the peer keeps its window between messages
	fr       io.ReadCloser // open while a compressed message is read
	src      tailReader    // the message's payload, then the tail
	win      []byte        // the peer's window, with takeover
	skip     []byte        // scratch for discarded decompressed bytes
	draining bool          // DEFLATE data ended; the payload's rest is dropped
}

// newCodec returns the deflater and inflater for the agreed parameters p
// on the client or server side.
func newCodec(p *deflateParams, o *CompressionOptions, client bool) (*deflater, *inflater) {
	zw := &deflater{level: 1, threshold: 128}
	if o != nil {
		if o.Level != 0 {
			zw.level = o.Level
		}
		if o.Threshold != 0 {
			zw.threshold = max(0, o.Threshold)
		}
	}
	zr := &inflater{}
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

// The tail that completes a message's compressed data: the 0x00 0x00 0xff
// 0xff the sender removed, then an empty final block so that the reader
// ends cleanly (RFC 7692 §7.2.2).
const inflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// tailReader feeds a compressed message's payload, then the tail, to the
// decompressor. It keeps the payload reader's own error, so that a
// failure of the bytestream is never taken for corrupt data.
type tailReader struct {
	r    io.Reader // the payload: io.EOF after the message's last byte
	tail int       // bytes of the tail given
	err  error     // the payload reader's failure
}

func (s *tailReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.tail == 0 {
		n, err := s.r.Read(p)
		if err != nil && err != io.EOF {
			s.err = err
		}
		if err == nil || n > 0 {
			return n, err
		}
	}
	if s.tail == len(inflateTail) {
		return 0, io.EOF
	}
	n := copy(p, inflateTail[s.tail:])
	s.tail += n
	return n, nil
}

var readerPool sync.Pool

// errDeflateEnd is read's signal that the message's DEFLATE data ended.
var errDeflateEnd = errors.New("ws: end of compressed data")

// read reads decompressed bytes of the open message into dst from src,
// the message's payload. It returns errDeflateEnd once the DEFLATE data
// ended, errBadDeflate for corrupt data, and src's own errors as they are.
func (z *inflater) read(src io.Reader, dst []byte) (int, error) {
	if z.fr == nil {
		z.src = tailReader{r: src}
		if r, ok := readerPool.Get().(io.ReadCloser); ok {
			r.(flate.Resetter).Reset(&z.src, z.win)
			z.fr = r
		} else {
			z.fr = flate.NewReaderDict(&z.src, z.win)
		}
	}
	n, err := z.fr.Read(dst)
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
		readerPool.Put(z.fr)
		z.fr = nil
		err = errDeflateEnd
	default:
		err = errBadDeflate
	}
	return n, err
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
