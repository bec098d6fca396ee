package suite

import (
	"errors"
	"fmt"
)

// A small DEFLATE decoder (RFC 1951) for checking what a peer compressed:
// besides decoding, it checks every back-reference against the window
// the peer agreed to (RFC 7692 §7.1.2: server_max_window_bits and
// client_max_window_bits) and against the history the peer may use (none
// with no_context_takeover, §7.1.1). A general-purpose inflater cannot
// tell: it accepts any distance up to 32 KiB.

// inflateLimits says what a compressed message may refer to.
type inflateLimits struct {
	hist    []byte // the peer's earlier output it may refer to (context takeover)
	maxDist int    // 2^window bits
	maxOut  int    // bound on the decompressed size
}

// inflateResult is a decoded message and what its encoding used.
type inflateResult struct {
	out      []byte
	maxDist  int  // the largest back-reference distance used
	intoHist bool // a back-reference reached into hist (before this message)
	final    bool // a block with BFINAL set ended the data
}

var errInflateShort = errors.New("compressed data ends inside a block")

type bitReader struct {
	in   []byte
	pos  int // next byte
	bits uint32
	n    uint // bits held
}

func (br *bitReader) need(n uint) error {
	for br.n < n {
		if br.pos >= len(br.in) {
			return errInflateShort
		}
		br.bits |= uint32(br.in[br.pos]) << br.n
		br.pos++
		br.n += 8
	}
	return nil
}

func (br *bitReader) get(n uint) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if err := br.need(n); err != nil {
		return 0, err
	}
	v := int(br.bits & (1<<n - 1))
	br.bits >>= n
	br.n -= n
	return v, nil
}

// atEnd reports whether only padding bits (fewer than 8) remain.
func (br *bitReader) atEnd() bool { return br.pos >= len(br.in) && br.n < 8 }

// huffman is a canonical Huffman code: the number of codes of each length
// and the symbols ordered by code.
type huffman struct {
	count  [16]uint16
	symbol []uint16
	left   int // codes left unused: 0 for a complete code
	max    int // longest code length
}

func newHuffman(lengths []uint8) (*huffman, error) {
	h := &huffman{symbol: make([]uint16, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	if int(h.count[0]) == len(lengths) {
		return h, nil // no codes: only an error if used
	}
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= int(h.count[l])
		if left < 0 {
			return nil, errors.New("over-subscribed Huffman code")
		}
		if h.count[l] != 0 {
			h.max = l
		}
	}
	h.left = left
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	return h, nil
}

func (br *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := br.get(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := int(h.count[l])
		if code-count < first {
			return int(h.symbol[index+(code-first)]), nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

var (
	lenBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist *huffman
)

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	fixedLit, _ = newHuffman(l[:])
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	fixedDist, _ = newHuffman(d[:])
}

// inflateMessage decodes one permessage-deflate message payload (RFC 7692
// §7.2.2: the sender removed the final 0x00 0x00 0xff 0xff; the data ends
// on a block boundary). It fails on corrupt data, on a back-reference
// beyond lim.maxDist or before the start of the history, and on output
// over lim.maxOut.
func inflateMessage(data []byte, lim inflateLimits) (inflateResult, error) {
	in := make([]byte, 0, len(data)+4)
	in = append(append(in, data...), 0, 0, 0xff, 0xff)
	br := &bitReader{in: in}
	buf := make([]byte, 0, len(lim.hist)+4*len(data)+64)
	buf = append(buf, lim.hist...)
	start := len(lim.hist)
	var res inflateResult
	for {
		final, err := br.get(1)
		if err != nil {
			return res, err
		}
		typ, err := br.get(2)
		if err != nil {
			return res, err
		}
		switch typ {
		case 0:
			br.bits, br.n = br.bits>>(br.n%8), br.n-br.n%8 // to a byte boundary
			v, err := br.get(16)
			if err != nil {
				return res, err
			}
			nv, err := br.get(16)
			if err != nil {
				return res, err
			}
			if v != ^nv&0xffff {
				return res, fmt.Errorf("stored block length %d does not match its complement", v)
			}
			for i := 0; i < v; i++ {
				b, err := br.get(8)
				if err != nil {
					return res, err
				}
				buf = append(buf, byte(b))
			}
		case 1:
			if buf, err = inflateBlock(br, buf, start, fixedLit, fixedDist, lim, &res); err != nil {
				return res, err
			}
		case 2:
			lit, dist, err := readDynamic(br)
			if err != nil {
				return res, err
			}
			if buf, err = inflateBlock(br, buf, start, lit, dist, lim, &res); err != nil {
				return res, err
			}
		default:
			return res, errors.New("block type 3 (reserved)")
		}
		if len(buf)-start > lim.maxOut {
			return res, fmt.Errorf("decompressed message exceeds %d bytes", lim.maxOut)
		}
		if final == 1 {
			res.final = true
			break
		}
		if br.atEnd() {
			break
		}
	}
	res.out = buf[start:]
	return res, nil
}

func readDynamic(br *bitReader) (*huffman, *huffman, error) {
	nlen, err := br.get(5)
	if err != nil {
		return nil, nil, err
	}
	ndist, err := br.get(5)
	if err != nil {
		return nil, nil, err
	}
	ncode, err := br.get(4)
	if err != nil {
		return nil, nil, err
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	if nlen > 286 || ndist > 30 {
		return nil, nil, errors.New("bad dynamic block counts")
	}
	var cl [19]uint8
	for i := 0; i < ncode; i++ {
		v, err := br.get(3)
		if err != nil {
			return nil, nil, err
		}
		cl[clOrder[i]] = uint8(v)
	}
	lencode, err := newHuffman(cl[:])
	if err != nil {
		return nil, nil, err
	}
	if int(lencode.count[0]) == len(cl) || lencode.left > 0 {
		// At least 258 lengths must be decoded with this code: an empty
		// or incomplete one makes the block corrupt, whatever follows
		// (zlib's "invalid code lengths set").
		return nil, nil, errors.New("empty or incomplete code-length code")
	}
	lengths := make([]uint8, nlen+ndist)
	for i := 0; i < nlen+ndist; {
		sym, err := br.decode(lencode)
		if err != nil {
			return nil, nil, err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return nil, nil, errors.New("repeat with no previous length")
			}
			val = lengths[i-1]
			rep, err = br.get(2)
			rep += 3
		case 17:
			rep, err = br.get(3)
			rep += 3
		default:
			rep, err = br.get(7)
			rep += 11
		}
		if err != nil {
			return nil, nil, err
		}
		if i+rep > nlen+ndist {
			return nil, nil, errors.New("code lengths overflow")
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return nil, nil, errors.New("no end-of-block code")
	}
	lit, err := newHuffman(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dist, err := newHuffman(lengths[nlen:])
	if err != nil {
		return nil, nil, err
	}
	// zlib and Go's flate accept an incomplete literal/length or distance
	// code only when it is a single code of length 1 (and an empty
	// distance code): anything else is corrupt at once.
	if lit.left > 0 && lit.max != 1 || dist.left > 0 && dist.max > 1 {
		return nil, nil, errors.New("incomplete Huffman code")
	}
	return lit, dist, nil
}

func inflateBlock(br *bitReader, buf []byte, start int, lit, dist *huffman, lim inflateLimits, res *inflateResult) ([]byte, error) {
	for {
		sym, err := br.decode(lit)
		if err != nil {
			return buf, err
		}
		switch {
		case sym < 256:
			buf = append(buf, byte(sym))
			continue
		case sym == 256:
			return buf, nil
		case sym > 285:
			return buf, fmt.Errorf("invalid length symbol %d", sym)
		}
		sym -= 257
		extra, err := br.get(lenExtra[sym])
		if err != nil {
			return buf, err
		}
		length := lenBase[sym] + extra
		dsym, err := br.decode(dist)
		if err != nil {
			return buf, err
		}
		if dsym > 29 {
			return buf, fmt.Errorf("invalid distance symbol %d", dsym)
		}
		extra, err = br.get(dstExtra[dsym])
		if err != nil {
			return buf, err
		}
		d := dstBase[dsym] + extra
		if d > lim.maxDist {
			return buf, fmt.Errorf("back-reference distance %d exceeds the agreed window of %d bytes (at output byte %d)", d, lim.maxDist, len(buf)-start)
		}
		if d > len(buf) {
			if len(lim.hist) == 0 {
				return buf, fmt.Errorf("back-reference distance %d reaches before the message (at output byte %d): the message does not decompress on its own", d, len(buf)-start)
			}
			return buf, fmt.Errorf("back-reference distance %d reaches before the peer's earlier output (at output byte %d)", d, len(buf)-start)
		}
		if d > len(buf)-start {
			res.intoHist = true
		}
		res.maxDist = max(res.maxDist, d)
		if len(buf)-start+length > lim.maxOut {
			return buf, fmt.Errorf("decompressed message exceeds %d bytes", lim.maxOut)
		}
		from := len(buf) - d
		for i := 0; i < length; i++ {
			buf = append(buf, buf[from+i])
		}
	}
}
