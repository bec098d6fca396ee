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
)

// errBadTail: the decompressor did not read the sync marker as the LEN
// and NLEN of a stored block: the sender's data does not end on a block
// boundary, and what would be decoded next are bytes it never sent.
var errBadTail = errors.New("ws: compressed data does not end on a block boundary")

// tailReader feeds a compressed message's payload, then the tail, to the
// decompressor. It is an io.ByteReader, so the decompressor takes bytes
// as it needs them and its reads show how it parses the tail: flate reads
// a stored block's LEN and NLEN with one Read of the bytes its bit buffer
// does not hold yet, and Huffman codes and block headers byte by byte. A
// marker or end block read any other way means the sender's data ended
// inside a block (errBadTail). It keeps the payload reader's own error,
// so that a failure of the bytestream is never taken for corrupt data.
type tailReader struct {
	r      io.Reader // the payload: io.EOF after the message's last byte
	buf    [512]byte // payload read ahead, for ReadByte
	i, n   int       // unread payload bytes are buf[i:n]
	done   bool      // the payload reader said io.EOF
	marker int       // bytes of syncMarker given
	end    int       // bytes of endBlock given
	err    error     // the payload reader's failure, or errBadTail
}

// more reads payload into buf; false once the payload is all read (or
// the read failed).
func (s *tailReader) more() bool {
	if s.done || s.err != nil {
		return false
	}
	n, err := s.r.Read(s.buf[:])
	s.i, s.n = 0, n
	switch {
	case err == io.EOF:
		s.done = true
	case err != nil:
		s.err = err
	}
	return n > 0
}

func (s *tailReader) ReadByte() (byte, error) {
	for s.i == s.n {
		if !s.more() {
			return s.tailByte()
		}
	}
	b := s.buf[s.i]
	s.i++
	return b, nil
}

// tailByte is a byte past the payload for ReadByte: a prefetch into the
// bit buffer may take the first marker bytes, the final block's header is
// read so; anything else is a misparse.
func (s *tailReader) tailByte() (byte, error) {
	switch {
	case s.err != nil:
		return 0, s.err
	case s.marker < len(syncMarker) && s.end == 0:
		b := syncMarker[s.marker]
		s.marker++
		return b, nil
	case s.end == 0:
		s.end++
		return endBlock[0], nil
	case s.end == len(endBlock):
		return 0, io.EOF
	}
	s.err = errBadTail // the end block's LEN and NLEN taken as codes
	return 0, s.err
}

func (s *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.i < s.n {
		k := copy(p, s.buf[s.i:s.n])
		s.i += k
		return k, nil
	}
	if !s.done && s.err == nil {
		n, err := s.r.Read(p)
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
	switch {
	case s.err != nil:
		return 0, s.err
	case s.marker < len(syncMarker) && s.end == 0 && len(p) == len(syncMarker)-s.marker:
		s.marker = len(syncMarker) // the rest of LEN and NLEN, at once
		return copy(p, syncMarker[len(syncMarker)-len(p):]), nil
	case s.end == 1 && len(p) == len(endBlock)-1:
		s.end = len(endBlock)
		return copy(p, endBlock[1:]), nil
	case s.end == len(endBlock):
		return 0, io.EOF
	}
	s.err = errBadTail // stored data running into the tail
	return 0, s.err
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
	case z.src.err == errBadTail:
		err = errBadDeflate
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
