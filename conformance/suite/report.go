package suite

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Result is the verdict of one case.
type Result struct {
	ID          string        `json:"id"`
	Description string        `json:"description"`
	Expectation string        `json:"expectation,omitempty"`
	Outcome     Outcome       `json:"outcome"`
	Detail      string        `json:"detail,omitempty"`
	Duration    time.Duration `json:"-"`
	DurationMS  float64       `json:"duration_ms"`
	Feature     string        `json:"feature,omitempty"`
	// Crashed is set when the suite itself failed (a panic in a case or
	// the engine), as opposed to the peer failing the case.
	Crashed bool `json:"crashed,omitempty"`
}

// Passed reports whether the case counts as passed: OK, NON-STRICT or
// INFORMATIONAL.
func (r Result) Passed() bool {
	switch r.Outcome {
	case OK, NonStrict, Informational:
		return true
	}
	return false
}

// CountsFailed reports whether the case counts as failed: FAILED, or
// UNIMPLEMENTED on a case that is not an optional feature (the engine
// already turns the latter into FAILED; the rule is repeated here for
// reports read back from JSON).
func (r Result) CountsFailed() bool {
	return r.Outcome == Failed || (r.Outcome == Unimplemented && r.Feature == "")
}

// SectionCount tallies one section.
type SectionCount struct {
	Section       string `json:"section"`
	Total         int    `json:"total"`
	OK            int    `json:"ok"`
	NonStrict     int    `json:"non_strict"`
	Informational int    `json:"informational"`
	Unimplemented int    `json:"unimplemented"`
	Failed        int    `json:"failed"`
}

func (s *SectionCount) add(o Outcome) {
	s.Total++
	switch o {
	case OK:
		s.OK++
	case NonStrict:
		s.NonStrict++
	case Informational:
		s.Informational++
	case Unimplemented:
		s.Unimplemented++
	default:
		s.Failed++
	}
}

// Report is the record of one run of the suite against one agent.
type Report struct {
	Agent string `json:"agent"`
	Mode  string `json:"mode"` // "server" or "client": the side under test
	// Transport is "HTTP/2" for a run over RFC 8441 streams (Options.HTTP2), "" for HTTP/1.1.
	Transport string         `json:"transport,omitempty"`
	Full      bool           `json:"full"`
	Started   time.Time      `json:"started"`
	Elapsed   float64        `json:"elapsed_s"`
	Results   []Result       `json:"results"`
	Sections  []SectionCount `json:"sections"`
	Passed    int            `json:"passed"`
	FailedN   int            `json:"failed"`
}

// Finish computes the per-section counts and totals.
func (r *Report) Finish() {
	bySec := map[string]*SectionCount{}
	var order []string
	r.Passed, r.FailedN = 0, 0
	for i := range r.Results {
		res := &r.Results[i]
		res.DurationMS = float64(res.Duration.Microseconds()) / 1000
		sec := Section(res.ID)
		sc, ok := bySec[sec]
		if !ok {
			sc = &SectionCount{Section: sec}
			bySec[sec] = sc
			order = append(order, sec)
		}
		sc.add(res.Outcome)
		if res.Passed() {
			r.Passed++
		} else if res.CountsFailed() {
			r.FailedN++
		}
	}
	sort.Slice(order, func(i, j int) bool { return lessID(order[i], order[j]) })
	r.Sections = r.Sections[:0]
	for _, s := range order {
		r.Sections = append(r.Sections, *bySec[s])
	}
}

// Crashes lists the results where the suite itself failed.
func (r *Report) Crashes() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Crashed {
			out = append(out, res)
		}
	}
	return out
}

// FailedResults lists the results that count as failed.
func (r *Report) FailedResults() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.CountsFailed() {
			out = append(out, res)
		}
	}
	return out
}

// Summary is the final line: "N passed, M failed".
func (r *Report) Summary() string { return fmt.Sprintf("%d passed, %d failed", r.Passed, r.FailedN) }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, err
	}
	for i := range r.Results {
		r.Results[i].Duration = time.Duration(r.Results[i].DurationMS * float64(time.Millisecond))
	}
	return &r, nil
}

// SectionTable writes the per-section counts as a Markdown table.
func (r *Report) SectionTable(w io.Writer) {
	fmt.Fprintln(w, "| Section | Cases | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	var tot SectionCount
	for _, s := range r.Sections {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d |\n", s.Section, s.Total, s.OK, s.NonStrict, s.Informational, s.Unimplemented, s.Failed)
		tot.Total += s.Total
		tot.OK += s.OK
		tot.NonStrict += s.NonStrict
		tot.Informational += s.Informational
		tot.Unimplemented += s.Unimplemented
		tot.Failed += s.Failed
	}
	fmt.Fprintf(w, "| **all** | %d | %d | %d | %d | %d | %d |\n", tot.Total, tot.OK, tot.NonStrict, tot.Informational, tot.Unimplemented, tot.Failed)
}

// WriteMarkdown writes a human-readable report ending with the summary line.
func (r *Report) WriteMarkdown(w io.Writer) error {
	size := "CI size set (section 9 up to 1 MiB)"
	if r.Full {
		size = "full size set (section 9 up to 16 MiB)"
	}
	fmt.Fprintf(w, "# Conformance report: %s (%s under test)\n\n", r.Agent, r.Mode)
	fmt.Fprintf(w, "Run %s, %s, %.1fs.\n\n", r.Started.UTC().Format(time.RFC3339), size, r.Elapsed)
	if r.Transport != "" {
		fmt.Fprintf(w, "Every case ran over %s: one RFC 8441 stream per case on an h2c connection; the HTTP/1.1 handshake cases (section H) do not apply.\n\n", r.Transport)
	}
	fmt.Fprintln(w, "## Sections")
	fmt.Fprintln(w)
	r.SectionTable(w)
	if bad := r.notOK(); len(bad) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## Cases not OK")
		fmt.Fprintln(w)
		for _, res := range bad {
			fmt.Fprintf(w, "- **%s** %s — %s\n", res.ID, res.Outcome, mdEscape(res.Detail))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Cases")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Case | Outcome | Duration | Description | Detail |")
	fmt.Fprintln(w, "|---|---|---:|---|---|")
	for _, res := range r.Results {
		fmt.Fprintf(w, "| %s | %s | %.1f ms | %s | %s |\n", res.ID, res.Outcome, float64(res.Duration.Microseconds())/1000,
			mdEscape(res.Description), mdEscape(res.Detail))
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

func (r *Report) notOK() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Outcome != OK {
			out = append(out, res)
		}
	}
	return out
}

// mdEscape keeps a string on one Markdown table row.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = strings.ToValidUTF8(s[:400], "") + "…"
	}
	return s
}
