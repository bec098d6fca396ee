package driver

import (
	"bufio"
	"bytes"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MicroRow is the median of one testing.B benchmark over the repetitions.
type MicroRow struct {
	Name   string  `json:"name"`
	NsOp   float64 `json:"ns_op"`
	MBs    float64 `json:"mb_s"`
	BOp    float64 `json:"b_op"`
	Allocs float64 `json:"allocs_op"`
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench parses `go test -bench` output.
func parseBench(out []byte) map[string]MicroRow {
	rows := map[string]MicroRow{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := MicroRow{Name: strings.TrimPrefix(m[1], "Benchmark")}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.NsOp = v
			case "MB/s":
				r.MBs = v
			case "B/op":
				r.BOp = v
			case "allocs/op":
				r.Allocs = v
			}
		}
		rows[r.Name] = r
	}
	return rows
}

func (d *Driver) benchMicro() {
	if d.cfg.MicroDir == "" || d.cfg.Smoke {
		d.logf("   micro: skipped (smoke mode runs them as tests)")
		return
	}
	var runs []map[string]MicroRow
	for rep := 0; rep < d.cfg.Reps; rep++ {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchmem",
			"-benchtime", "200ms", "-timeout", "30m", "./internal/micro")
		cmd.Dir = d.cfg.MicroDir
		if d.cfg.Tags != "" {
			cmd.Args = append(cmd.Args[:2], append([]string{"-tags", d.cfg.Tags}, cmd.Args[2:]...)...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			d.fail(err)
			d.logf("%s", tail(string(out)))
			continue
		}
		runs = append(runs, parseBench(out))
		d.logf("   micro rep %d: %d benchmarks", rep, len(runs[len(runs)-1]))
	}
	if len(runs) == 0 {
		return
	}
	for name := range runs[0] {
		var ns, mbs, b, al []float64
		for _, r := range runs {
			if x, ok := r[name]; ok {
				ns, mbs, b, al = append(ns, x.NsOp), append(mbs, x.MBs), append(b, x.BOp), append(al, x.Allocs)
			}
		}
		d.res.Micro = append(d.res.Micro, MicroRow{Name: name, NsOp: median(ns), MBs: median(mbs), BOp: median(b), Allocs: median(al)})
	}
	sort.Slice(d.res.Micro, func(i, j int) bool { return d.res.Micro[i].Name < d.res.Micro[j].Name })
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
