package driver

import (
	"fmt"
	"math"
	"strings"
)

var palette = []string{"#222222", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e", "#17becf"}

// barChart renders grouped bars: one group per category, one bar per
// series; vals[series][category], NaN or <= 0 for missing. With logScale
// the y axis is logarithmic.
func barChart(title, unit string, cats, series []string, vals [][]float64, logScale bool) string {
	const W, H, left, right, top, bottom = 760, 340, 70, 150, 36, 40
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	hi, lo := 0.0, math.Inf(1)
	for _, s := range vals {
		for _, v := range s {
			if v > 0 && !math.IsNaN(v) {
				hi = math.Max(hi, v)
				lo = math.Min(lo, v)
			}
		}
	}
	if hi == 0 {
		hi, lo = 1, 1
	}
	var y func(float64) float64
	var ticks []float64
	if logScale {
		l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if l1 == l0 {
			l1++
		}
		y = func(v float64) float64 { return ph * (math.Log10(v) - l0) / (l1 - l0) }
		for e := l0; e <= l1; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
	} else {
		step := niceStep(hi / 5)
		top := math.Ceil(hi/step) * step
		y = func(v float64) float64 { return ph * v / top }
		for t := 0.0; t <= top+step/2; t += step {
			ticks = append(ticks, t)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", left, esc(title))
	for _, t := range ticks {
		yy := float64(top) + ph - y(t)
		if t <= 0 && logScale {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, float64(left)+pw, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, yy+4, human(t))
	}
	fmt.Fprintf(&b, `<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`+"\n", top+int(ph/2), top+int(ph/2), esc(unit))
	gw := pw / float64(max(len(cats), 1))
	bw := gw * 0.8 / float64(max(len(series), 1))
	for ci, c := range cats {
		gx := float64(left) + gw*float64(ci)
		for si := range series {
			if ci >= len(vals[si]) {
				continue
			}
			v := vals[si][ci]
			if !(v > 0) {
				continue
			}
			h := y(v)
			if h < 1 {
				h = 1
			}
			x := gx + gw*0.1 + bw*float64(si)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x, float64(top)+ph-h, bw, h, palette[si%len(palette)], esc(series[si]), esc(c), human(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", gx+gw/2, H-bottom+16, esc(c))
	}
	for si, s := range series {
		yy := top + 14*si
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/>`, W-right+12, yy, palette[si%len(palette)])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", W-right+26, yy+9, esc(s))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// human formats a number with k/M/G suffixes.
func human(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "k"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func trim(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
