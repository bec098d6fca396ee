package driver

import (
	"math"
	"sort"
)

type skey struct {
	bench, sc string
	size      int
	lib       string
}

// index groups samples: key → rep → metrics.
type index map[skey]map[int]map[string]float64

func (r *Results) index() index {
	ix := index{}
	for _, s := range r.Samples {
		k := skey{s.Bench, s.Scenario, s.Size, s.Lib}
		if ix[k] == nil {
			ix[k] = map[int]map[string]float64{}
		}
		ix[k][s.Rep] = s.Metrics
	}
	return ix
}

// med is the median of metric over repetitions; ok is false without data.
func (ix index) med(bench, sc string, size int, lib, metric string) (float64, bool) {
	reps := ix[skey{bench, sc, size, lib}]
	var v []float64
	for _, m := range reps {
		if x, ok := m[metric]; ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

// ratios returns a/b per repetition where both were measured, by rep.
func (ix index) ratios(bench, sc string, size int, a, b, metric string) []float64 {
	ra, rb := ix[skey{bench, sc, size, a}], ix[skey{bench, sc, size, b}]
	var reps []int
	for rep := range ra {
		reps = append(reps, rep)
	}
	sort.Ints(reps)
	var out []float64
	for _, rep := range reps {
		x, ok1 := ra[rep][metric]
		y, ok2 := rb[rep][metric]
		if ok1 && ok2 && y != 0 {
			out = append(out, x/y)
		}
	}
	return out
}

// sizeRatios gives, per repetition, the geometric mean over sizes of a/b,
// and the median of those. A repetition that lacks some sizes (merged runs
// with fewer repetitions for the largest sizes) takes those sizes' median
// ratio over the repetitions that have them.
func (ix index) sizeRatios(bench, sc string, sizes []int, a, b, metric string) (med float64, perRep []float64) {
	byRep := map[int]map[int]float64{}
	medBySize := map[int]float64{}
	for _, size := range sizes {
		ra, rb := ix[skey{bench, sc, size, a}], ix[skey{bench, sc, size, b}]
		for rep, m := range ra {
			x, ok1 := m[metric]
			y, ok2 := rb[rep][metric]
			if ok1 && ok2 && y > 0 && x > 0 {
				if byRep[rep] == nil {
					byRep[rep] = map[int]float64{}
				}
				byRep[rep][size] = x / y
			}
		}
		if r := ix.ratios(bench, sc, size, a, b, metric); len(r) > 0 && median(r) > 0 {
			medBySize[size] = median(r)
		}
	}
	if len(medBySize) != len(sizes) {
		return 0, nil
	}
	var reps []int
	for rep := range byRep {
		reps = append(reps, rep)
	}
	sort.Ints(reps)
	for _, rep := range reps {
		var v []float64
		for _, size := range sizes {
			if x, ok := byRep[rep][size]; ok {
				v = append(v, x)
			} else {
				v = append(v, medBySize[size])
			}
		}
		perRep = append(perRep, geomean(v))
	}
	if len(perRep) == 0 {
		return 0, nil
	}
	return median(perRep), perRep
}

func geomean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(v)))
}
