package suite

import (
	"bufio"
	"bytes"
	"errors"
	"sync/atomic"
)

// Exported access to the suite's own frame reader and inflater, for
// oracles outside the package (conformance/oracle): they decide, from the
// bytes a peer sent, which messages a receiver must deliver and where it
// must fail, independently of the library under test.

// FrameDecoder decodes a byte slice a peer sent with the suite's frame
// reader, one frame at a time.
type FrameDecoder struct {
	fr  frameReader
	src *bytes.Reader
	br  *bufio.Reader
}

// NewFrameDecoder returns a decoder of data sent by a client (masked
// frames) or a server. With deflate, RSV1 is allowed on a message's first
// frame (permessage-deflate); compressed messages are returned as sent.
func NewFrameDecoder(data []byte, fromClient, deflate bool) *FrameDecoder {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	d := &FrameDecoder{src: src, br: br}
	d.fr = frameReader{r: br, expectMasked: fromClient}
	if deflate {
		allow := new(atomic.Uint32)
		allow.Store(4)
		d.fr.allowRsv = allow
	}
	return d
}

// Offset returns the number of bytes of data the frames decoded so far
// took: the start of the next frame.
func (d *FrameDecoder) Offset() int {
	return int(d.src.Size()) - d.src.Len() - d.br.Buffered()
}

// Next decodes one frame and returns the event it completes: nil for a
// non-final fragment; a message (its payload still compressed when Rsv
// has RSV1), ping, pong or close; or EvProto or EvEOF, after which stop is
// true. A text message without RSV1 is checked for UTF-8 here; a
// compressed one is not (inflate it first).
func (d *FrameDecoder) Next() (ev *Event, stop bool) { return d.fr.next() }

// Pending returns the opcode (0 if none), RSV bits and payload so far of
// the fragmented message being reassembled.
func (d *FrameDecoder) Pending() (op, rsv byte, data []byte) {
	return d.fr.msgOp, d.fr.msgRsv, d.fr.msg
}

// ErrInflateShort means the compressed data ended inside a block.
var ErrInflateShort = errInflateShort

// InflateResult is what InflateMessage decoded.
type InflateResult struct {
	Out      []byte // the output; on error, the output decoded before the error
	Final    bool   // a block with BFINAL set ended the DEFLATE data
	Consumed int    // bytes of data the DEFLATE data took; less than len(data) when a BFINAL block ends early
}

// InflateMessage decodes a permessage-deflate payload with the suite's
// checking inflater (as inflateMessage, which the engine uses): hist is
// the peer's earlier output (context takeover), windowBits its window,
// maxOut a bound on the output. With partial, data is a prefix of a
// payload: the final 0x00 0x00 0xff 0xff is not appended, and running out
// of data is ErrInflateShort.
func InflateMessage(data, hist []byte, windowBits, maxOut int, partial bool) (InflateResult, error) {
	in := append([]byte(nil), data...)
	if !partial {
		in = append(in, 0, 0, 0xff, 0xff)
	}
	lim := inflateLimits{hist: hist, maxDist: 1 << windowBits, maxOut: maxOut}
	br := &bitReader{in: in}
	buf := append(make([]byte, 0, len(hist)+4*len(data)+64), hist...)
	start := len(hist)
	var res inflateResult
	var r InflateResult
	err := func() error {
		for {
			final, err := br.get(1)
			if err != nil {
				return err
			}
			typ, err := br.get(2)
			if err != nil {
				return err
			}
			switch typ {
			case 0:
				br.bits, br.n = br.bits>>(br.n%8), br.n-br.n%8
				v, err := br.get(16)
				if err != nil {
					return err
				}
				nv, err := br.get(16)
				if err != nil {
					return err
				}
				if v != ^nv&0xffff {
					return errors.New("stored block length does not match its complement")
				}
				for i := 0; i < v; i++ {
					b, err := br.get(8)
					if err != nil {
						return err
					}
					buf = append(buf, byte(b))
				}
			case 1:
				if buf, err = inflateBlock(br, buf, start, fixedLit, fixedDist, lim, &res); err != nil {
					return err
				}
			case 2:
				lit, dist, err := readDynamic(br)
				if err != nil {
					return err
				}
				if buf, err = inflateBlock(br, buf, start, lit, dist, lim, &res); err != nil {
					return err
				}
			default:
				return errors.New("block type 3 (reserved)")
			}
			if len(buf)-start > lim.maxOut {
				return errors.New("decompressed message exceeds the bound")
			}
			if final == 1 {
				r.Final = true
				return nil
			}
			if br.atEnd() && (!partial || br.n < 3) {
				// A prefix may end with the start of the next block:
				// its header alone can make the data corrupt (type 3).
				return nil
			}
		}
	}()
	r.Out = buf[start:]
	r.Consumed = br.pos - int(br.n/8)
	return r, err
}
