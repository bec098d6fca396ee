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
// and the median of those.
func (ix index) sizeRatios(bench, sc string, sizes []int, a, b, metric string) (med float64, perRep []float64) {
	byRep := map[int][]float64{}
	for _, size := range sizes {
		ra, rb := ix[skey{bench, sc, size, a}], ix[skey{bench, sc, size, b}]
		for rep, m := range ra {
			x, ok1 := m[metric]
			y, ok2 := rb[rep][metric]
			if ok1 && ok2 && y > 0 && x > 0 {
				byRep[rep] = append(byRep[rep], x/y)
			}
		}
	}
	var reps []int
	for rep, v := range byRep {
		if len(v) == len(sizes) {
			reps = append(reps, rep)
		}
	}
	sort.Ints(reps)
	for _, rep := range reps {
		perRep = append(perRep, geomean(byRep[rep]))
	}
	if len(perRep) == 0 {
		// No repetition measured every size (a partial run): fall back
		// to the geometric mean of the per-size median ratios.
		var per []float64
		for _, size := range sizes {
			if r := ix.ratios(bench, sc, size, a, b, metric); len(r) > 0 && median(r) > 0 {
				per = append(per, median(r))
			}
		}
		if len(per) == 0 {
			return 0, nil
		}
		g := geomean(per)
		return g, []float64{g}
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
