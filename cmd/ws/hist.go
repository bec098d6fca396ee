package main

import (
	"math"
	"math/bits"
)

// histogram is an HDR-style latency histogram: values (nanoseconds) below
// 2·histSub are counted exactly, larger ones in histSub buckets per power
// of two, so a reported quantile is within 1/histSub (< 1%) of the true
// value. Recording never allocates; histograms merge by adding counts.
type histogram struct {
	counts   []uint64
	n        uint64
	min, max uint64
	sum      float64
}

const (
	histSubBits  = 7
	histSub      = 1 << histSubBits
	histMaxShift = 40 // values up to 2^48 ns (78 hours); larger are clamped
)

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, (histMaxShift+2)*histSub), min: math.MaxUint64}
}

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	if shift > histMaxShift {
		return (histMaxShift+2)*histSub - 1
	}
	return shift*histSub + int(v>>shift)
}

// histUpper returns the largest value that falls in bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	top := uint64(i - shift*histSub)
	return (top+1)<<shift - 1
}

func (h *histogram) record(v uint64) {
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0 ≤ q ≤ 1): the upper end of
// the bucket holding the ceil(q·n)-th smallest value, capped by the
// maximum. 0 for an empty histogram.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return max(h.min, min(histUpper(i), h.max))
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// histBin is a power-of-two range of the histogram, for display.
type histBin struct {
	Lo    uint64 `json:"ge_ns"`
	Hi    uint64 `json:"lt_ns"`
	Count uint64 `json:"count"`
}

// bins returns the counts in power-of-two ranges [2^k, 2^(k+1)) from the
// first non-empty one to the last.
func (h *histogram) bins() []histBin {
	var out []histBin
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		k := bits.Len64(histUpper(i)) // the bucket lies within [2^(k-1), 2^k)
		lo := uint64(0)
		if k > 0 {
			lo = 1 << (k - 1)
		}
		if len(out) == 0 || out[len(out)-1].Lo < lo {
			for len(out) > 0 && out[len(out)-1].Hi < lo {
				last := out[len(out)-1].Hi
				out = append(out, histBin{Lo: last, Hi: last * 2})
			}
			out = append(out, histBin{Lo: lo, Hi: max(1, lo*2)})
		}
		out[len(out)-1].Count += c
	}
	return out
}
