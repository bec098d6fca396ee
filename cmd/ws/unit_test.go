package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestHistogramQuantiles(t *testing.T) {
	cases := []struct {
		name string
		gen  func(r *rand.Rand) uint64
	}{
		{"small exact", func(r *rand.Rand) uint64 { return r.Uint64N(200) }},
		{"microseconds", func(r *rand.Rand) uint64 { return 1000 + r.Uint64N(100_000) }},
		{"log-spread", func(r *rand.Rand) uint64 { return 1 << r.UintN(40) }},
		{"constant", func(*rand.Rand) uint64 { return 123456 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := newHistogram()
			vals := make([]uint64, 10000)
			for i := range vals {
				vals[i] = tc.gen(r)
				h.record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(1, int(q*float64(len(vals))+0.999999))
				exact := vals[rank-1]
				got := h.quantile(q)
				if q == 0 {
					exact = vals[0]
				}
				if got < exact || float64(got-exact) > float64(exact)/histSub {
					t.Errorf("q%.3f = %d, exact %d", q, got, exact)
				}
			}
			if h.min != vals[0] || h.max != vals[len(vals)-1] {
				t.Errorf("min %d max %d", h.min, h.max)
			}
		})
	}
}

func FuzzHistIndex(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(255))
	f.Add(uint64(256))
	f.Add(uint64(1) << 47)
	f.Fuzz(func(t *testing.T, v uint64) {
		v %= 1 << 48
		i := histIndex(v)
		if i < 0 || i >= (histMaxShift+2)*histSub {
			t.Fatalf("index %d out of range for %d", i, v)
		}
		up := histUpper(i)
		if up < v || float64(up-v) > float64(v)/histSub {
			t.Fatalf("value %d in bucket %d with upper %d", v, i, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	})
}

func TestHistogramMergeAndBins(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	for v := uint64(1); v < 1<<20; v *= 3 {
		a.record(v)
		b.record(v + 7)
	}
	a.merge(b)
	var n uint64
	for i, bin := range a.bins() {
		n += bin.Count
		if bin.Hi != 2*bin.Lo && bin.Lo != 0 {
			t.Errorf("bin %d: %+v", i, bin)
		}
	}
	if n != a.n || a.n != 26 {
		t.Errorf("bins hold %d of %d", n, a.n)
	}
}

func TestParseArgs(t *testing.T) {
	e := &env{}
	cases := []struct {
		name string
		args []string
		pos  []string
		bin  bool
		hdrs int
	}{
		{"flags first", []string{"--binary", "u"}, []string{"u"}, true, 0},
		{"flags after", []string{"u", "--binary", "-H", "A: b"}, []string{"u"}, true, 1},
		{"double dash", []string{"-H", "A: b", "--", "--binary"}, []string{"--binary"}, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags(e, "t", "")
			bin := fs.Bool("binary", false, "")
			var h headerFlag
			fs.Var(&h, "H", "")
			pos, err := parseArgs(e, fs, tc.args)
			if err != nil || !slices.Equal(pos, tc.pos) || *bin != tc.bin || len(h.h) != tc.hdrs {
				t.Fatalf("pos %q bin %v headers %v err %v", pos, *bin, h.h, err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct{ in, bin, tty string }{
		{"", "<binary 0 bytes>", ""},
		{"hi", "<binary 2 bytes: 68 69>", "hi"},
		{"a\x1b[2Jb\tc\nd\x7f", "<binary 11 bytes: 61 1b 5b 32 4a 62 09 63 0a 64 7f>", `a\x1b[2Jb` + "\tc\nd" + `\x7f`},
		{"\u009b", "", `\x9b`},
	}
	for _, tc := range cases {
		if tc.bin != "" {
			if got := describeBinary([]byte(tc.in)); got != tc.bin {
				t.Errorf("describeBinary(%q) = %q, want %q", tc.in, got, tc.bin)
			}
		}
		if got := escapeControls(tc.in); got != tc.tty {
			t.Errorf("escapeControls(%q) = %q, want %q", tc.in, got, tc.tty)
		}
	}
	long := describeBinary(make([]byte, 100))
	if want := "<binary 100 bytes: " + strings.Repeat("00 ", 31) + "00 …>"; long != want {
		t.Errorf("long: %q", long)
	}
}
