package suite

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	r := &Report{Agent: "demo", Mode: "server", Started: time.Unix(0, 0)}
	r.Results = []Result{
		{ID: "1.1.1", Description: "a | b", Outcome: OK, Duration: 1500 * time.Microsecond},
		{ID: "1.1.2", Outcome: NonStrict, Detail: "late"},
		{ID: "6.4.1", Outcome: Failed, Detail: "line1\nline2"},
		{ID: "7.1.6", Outcome: Informational},
		{ID: "12.1.1", Outcome: Unimplemented, Feature: "permessage-deflate"},
		{ID: "H.1.1", Outcome: Unimplemented}, // required feature: counts as failed
	}
	r.Finish()
	return r
}

func TestReportCounts(t *testing.T) {
	r := sampleReport()
	if r.Passed != 3 || r.FailedN != 2 {
		t.Fatalf("passed %d failed %d, want 3 and 2", r.Passed, r.FailedN)
	}
	if got := r.Summary(); got != "3 passed, 2 failed" {
		t.Errorf("summary %q", got)
	}
	var secs []string
	for _, s := range r.Sections {
		secs = append(secs, s.Section)
	}
	if got := strings.Join(secs, ","); got != "1,6,7,12,H" {
		t.Errorf("sections %s", got)
	}
	if s := r.Sections[0]; s.Total != 2 || s.OK != 1 || s.NonStrict != 1 {
		t.Errorf("section 1: %+v", s)
	}
	if len(r.FailedResults()) != 2 {
		t.Errorf("failed results %v", r.FailedResults())
	}
}

func TestReportMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	lines := strings.Split(strings.TrimRight(md, "\n"), "\n")
	if last := lines[len(lines)-1]; last != "3 passed, 2 failed" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{
		"# Conformance report: demo (server under test)",
		"| 1 | 2 | 1 | 1 | 0 | 0 | 0 |",
		"| **all** | 6 | 1 | 1 | 1 | 2 | 1 |",
		"| 1.1.1 | OK | 1.5 ms | a \\| b |",
		"line1 line2",
		"- **6.4.1** FAILED",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	res := raw["results"].([]any)[0].(map[string]any)
	if res["outcome"] != "OK" || res["id"] != "1.1.1" || res["duration_ms"] != 1.5 {
		t.Errorf("first result %v", res)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Passed != 3 || back.FailedN != 2 || back.Results[2].Outcome != Failed || back.Results[0].Duration != 1500*time.Microsecond {
		t.Errorf("round trip: %+v", back)
	}
}

func TestOutcomeText(t *testing.T) {
	for o := OK; o <= Failed; o++ {
		b, _ := o.MarshalText()
		var back Outcome
		if err := back.UnmarshalText(b); err != nil || back != o {
			t.Errorf("%v: %v %v", o, back, err)
		}
	}
	var o Outcome
	if err := o.UnmarshalText([]byte("PASS")); err == nil {
		t.Error("accepted an unknown outcome")
	}
}
