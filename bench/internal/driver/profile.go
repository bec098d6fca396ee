package driver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dillgo/ws/bench/internal/peer"
)

// Profile is a per-message callgrind profile: each function's self
// instructions in the 2N run minus the N run, divided by N.
type Profile struct {
	Lib      string     `json:"lib"`
	Scenario string     `json:"scenario"`
	Size     int        `json:"size"`
	Total    float64    `json:"total"`
	Top      []FuncCost `json:"top"`
}

// FuncCost is one function's per-message cost.
type FuncCost struct {
	Func string  `json:"func"`
	Ir   float64 `json:"ir"`
}

var profMu sync.Mutex

// profiled lists the libraries and sizes whose callgrind outputs are kept.
var profiled = map[string]bool{"ws": true, "ws-pooled": true, "raw": true}

func profileSizes(size int) bool { return size == 16 || size == 64<<10 || size == 1<<10 }

func (d *Driver) keepProfile(a peer.Args) bool {
	return profiled[a.Lib] && profileSizes(a.Size)
}

func profileKey(a peer.Args) string {
	return fmt.Sprintf("%s|%s|%s|%d|%d", a.Lib, a.Mode, a.Role, a.Size, a.Count)
}

func (d *Driver) setProfile(key, path string) {
	profMu.Lock()
	defer profMu.Unlock()
	if old, ok := d.profiles[key]; ok && old != path {
		os.Remove(old)
	}
	d.profiles[key] = path
}

// recursionSuffix is callgrind's mark of a recursion level (f'2).
var recursionSuffix = regexp.MustCompile(`'\d+$`)

var annRe = regexp.MustCompile(`^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$`)

// annotate returns self instructions per function of a callgrind output.
func annotate(path string) (map[string]int64, error) {
	out, err := exec.Command("callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no", path).Output()
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	started := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "file:function") {
			started = true
			continue
		}
		if !started || strings.HasPrefix(l, "---") {
			continue
		}
		if strings.TrimSpace(l) == "" {
			if len(m) > 0 {
				break // end of the function table
			}
			continue
		}
		sm := annRe.FindStringSubmatch(l)
		if sm == nil {
			continue
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(sm[1], ",", ""), 10, 64)
		if err != nil {
			continue
		}
		fn := sm[2]
		if i := strings.Index(fn, " ["); i >= 0 {
			fn = fn[:i]
		}
		if i := strings.LastIndex(fn, ":"); i >= 0 {
			fn = fn[i+1:]
		}
		fn = recursionSuffix.ReplaceAllString(fn, "")
		m[fn] += v
	}
	return m, nil
}

// buildProfiles turns kept N / 2N callgrind outputs into per-message profiles.
func (d *Driver) buildProfiles() {
	for key, p2 := range d.profiles {
		f := strings.Split(key, "|")
		cnt, _ := strconv.Atoi(f[4])
		size, _ := strconv.Atoi(f[3])
		if cnt != 2*d.cgCount(size) {
			continue
		}
		p1, ok := d.profiles[fmt.Sprintf("%s|%s|%s|%s|%d", f[0], f[1], f[2], f[3], cnt/2)]
		if !ok {
			continue
		}
		a, err1 := annotate(p1)
		b, err2 := annotate(p2)
		if err1 != nil || err2 != nil {
			d.fail(fmt.Errorf("callgrind_annotate: %v %v", err1, err2))
			continue
		}
		n := float64(cnt / 2)
		pr := Profile{Lib: f[0], Scenario: f[2] + "-" + f[1], Size: size}
		for fn, v := range b {
			dv := float64(v-a[fn]) / n
			pr.Total += dv
			if dv >= 0.5 {
				pr.Top = append(pr.Top, FuncCost{fn, dv})
			}
		}
		sort.Slice(pr.Top, func(i, j int) bool { return pr.Top[i].Ir > pr.Top[j].Ir })
		if len(pr.Top) > 15 {
			pr.Top = pr.Top[:15]
		}
		d.res.Profiles = append(d.res.Profiles, pr)
	}
	sort.Slice(d.res.Profiles, func(i, j int) bool {
		x, y := d.res.Profiles[i], d.res.Profiles[j]
		if x.Lib != y.Lib {
			return x.Lib > y.Lib
		}
		if x.Scenario != y.Scenario {
			return x.Scenario < y.Scenario
		}
		return x.Size < y.Size
	})
	for _, p := range d.profiles {
		if d.cfg.KeepCallgrind != "" {
			if os.MkdirAll(d.cfg.KeepCallgrind, 0o755) == nil && os.Rename(p, filepath.Join(d.cfg.KeepCallgrind, filepath.Base(p))) == nil {
				continue
			}
		}
		os.Remove(p)
	}
}
