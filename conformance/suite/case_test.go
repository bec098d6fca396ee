package suite

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRegistry(t *testing.T) {
	ci := Cases(ModeServer, false, nil, nil)
	full := Cases(ModeServer, true, nil, nil)
	if len(full) <= len(ci) {
		t.Errorf("full set (%d) not larger than CI set (%d)", len(full), len(ci))
	}
	count := map[string]int{}
	for i, c := range full {
		count[Section(c.ID)]++
		if i > 0 && !lessID(full[i-1].ID, c.ID) {
			t.Errorf("order: %s before %s", full[i-1].ID, c.ID)
		}
		if c.Desc == "" || c.Expect == "" {
			t.Errorf("%s lacks a description or expectation", c.ID)
		}
	}
	// Autobahn's counts for sections 1–10 (section 6 includes 6.5–6.23).
	want := map[string]int{"1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145, "7": 37, "9": 54, "10": 1}
	for sec, n := range want {
		if count[sec] != n {
			t.Errorf("section %s: %d cases, want %d", sec, count[sec], n)
		}
	}
	if count["U"] != 2*(145-13) {
		t.Errorf("section U: %d cases", count["U"])
	}
	for _, c := range Cases(ModeClient, true, nil, nil) {
		if strings.HasPrefix(c.ID, "H.1.") || strings.HasPrefix(c.ID, "H.2.") {
			t.Errorf("server-only case %s in client mode", c.ID)
		}
	}
}

func TestCaseFilters(t *testing.T) {
	ids := func(cs []*Case) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		include, exclude []string
		want             string
	}{
		{[]string{"6.4.*"}, nil, "6.4.1,6.4.2,6.4.3,6.4.4"},
		{[]string{"6.4"}, []string{"6.4.2"}, "6.4.1,6.4.3,6.4.4"},
		{[]string{"2.1", "2.1?"}, nil, "2.1,2.10,2.11"},
		{[]string{"7.9.1"}, nil, "7.9.1"},
	}
	for _, tc := range tests {
		if got := ids(Cases(ModeServer, false, tc.include, tc.exclude)); got != tc.want {
			t.Errorf("%v - %v: %s, want %s", tc.include, tc.exclude, got, tc.want)
		}
	}
	if n := len(Cases(ModeServer, false, []string{"6.*"}, nil)); n != 145 {
		t.Errorf("6.* matched %d", n)
	}
}

func TestLessID(t *testing.T) {
	order := []string{"1.1.2", "1.1.10", "2", "2.1", "9.1.1", "10.1.1", "12.1.1", "H.1.1", "U.5.1.1"}
	for i := 1; i < len(order); i++ {
		if !lessID(order[i-1], order[i]) || lessID(order[i], order[i-1]) {
			t.Errorf("%s vs %s", order[i-1], order[i])
		}
	}
}

// TestUTF8Groups checks the sequence table against Autobahn's labels.
func TestUTF8Groups(t *testing.T) {
	// For each of 6.5..6.23: "v" all valid, "i" all invalid, or a per-case pattern.
	want := []string{"v", prefixPattern(), "v", "i", "v", "i", "vvvvi", "i", "i", "i", "i", "i", "i", "i", "i", "i", "i", "v", "v"}
	groups := utf8Groups()
	if len(groups) != len(want) {
		t.Fatalf("%d groups", len(groups))
	}
	sizes := []int{5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8, 34, 7}
	for gi, g := range groups {
		if len(g.seqs) != sizes[gi] {
			t.Errorf("6.%d %s: %d sequences, want %d", gi+5, g.name, len(g.seqs), sizes[gi])
		}
		for si, s := range g.seqs {
			w := want[gi]
			exp := w[0]
			if len(w) > 1 {
				exp = w[si]
			}
			if got := utf8.ValidString(s); got != (exp == 'v') {
				t.Errorf("6.%d.%d %x: valid=%v", gi+5, si+1, s, got)
			}
		}
	}
}

func prefixPattern() string {
	// κόσμε = ce ba | e1 bd b9 | cf 83 | ce bc | ce b5: valid after 2, 5, 7, 9, 11 bytes.
	var b strings.Builder
	for i := 1; i <= 11; i++ {
		switch i {
		case 2, 5, 7, 9, 11:
			b.WriteByte('v')
		default:
			b.WriteByte('i')
		}
	}
	return b.String()
}

func TestFragments(t *testing.T) {
	fs := fragments(true, []byte("abcdefg"), 3)
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%d:%v:%s", f.Op, f.Fin, f.Payload))
	}
	if s := strings.Join(got, " "); s != "1:false:abc 0:false:def 0:true:g" {
		t.Errorf("fragments %s", s)
	}
	if fs := fragments(false, []byte{}, 3); len(fs) != 1 || !fs[0].Fin || fs[0].Op != OpBinary {
		t.Errorf("empty: %+v", fs)
	}
}
