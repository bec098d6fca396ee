package driver

import (
	"slices"
	"sort"
	"strings"
)

// Merge combines the results of several runs into one. Samples of a
// benchmark and message size that earlier results already hold get their
// repetition numbers shifted past the existing ones, so per-size ratios
// only pair samples of the same run (runs over disjoint sizes, such as
// callgrind with fewer repetitions for the largest sizes, line up).
func Merge(rs ...*Results) *Results {
	out := &Results{}
	var cmds []string
	for _, r := range rs {
		if out.Machine.CPU == "" && r.Machine.CPU != "" {
			out.Machine = r.Machine
			out.Started = r.Started
		}
		if r.Command != "" {
			cmds = append(cmds, r.Command)
		}
		out.Reps = max(out.Reps, r.Reps)
		out.Smoke = out.Smoke || r.Smoke
		for _, l := range r.Libs {
			if !slices.Contains(out.Libs, l) {
				out.Libs = append(out.Libs, l)
			}
		}
		for _, s := range r.Sizes {
			if !slices.Contains(out.Sizes, s) {
				out.Sizes = append(out.Sizes, s)
			}
		}
		type bs struct {
			bench string
			size  int
		}
		shift := map[bs]int{}
		for _, s := range out.Samples {
			k := bs{s.Bench, s.Size}
			shift[k] = max(shift[k], s.Rep+1)
		}
		for _, s := range r.Samples {
			s.Rep += shift[bs{s.Bench, s.Size}]
			out.Samples = append(out.Samples, s)
		}
		for _, p := range r.Profiles {
			out.Profiles = slices.DeleteFunc(out.Profiles, func(q Profile) bool {
				return q.Lib == p.Lib && q.Scenario == p.Scenario && q.Size == p.Size
			})
			out.Profiles = append(out.Profiles, p)
		}
		out.Micro = append(out.Micro, r.Micro...)
		out.Errors = append(out.Errors, r.Errors...)
		if r.Duration != "" {
			if out.Duration != "" {
				out.Duration += " + "
			}
			out.Duration += r.Duration
		}
	}
	sort.Ints(out.Sizes)
	order := func(l string) int {
		if i := slices.Index([]string{"raw", "ws", "ws-pooled", "gorilla", "coder", "gobwas", "gobwas-frame", "gws"}, l); i >= 0 {
			return i
		}
		return 99
	}
	sort.SliceStable(out.Libs, func(i, j int) bool { return order(out.Libs[i]) < order(out.Libs[j]) })
	out.Command = strings.Join(cmds, "; ")
	return out
}
