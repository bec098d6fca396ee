package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dillgo/ws/conformance/suite"
)

func TestAgentCommandWritesReports(t *testing.T) {
	out := t.TempDir()
	failed, err := cmdAgent(context.Background(), []string{"-name", "gorilla", "-mode", "both", "-cases", "1.1.1,2.5", "-out", out})
	if err != nil || failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	for _, name := range []string{"gorilla-server", "gorilla-client"} {
		md, err := os.ReadFile(filepath.Join(out, name+".md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(strings.TrimSpace(string(md)), "2 passed, 0 failed") {
			t.Errorf("%s.md ends %q", name, md[max(0, len(md)-40):])
		}
		f, err := os.Open(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := suite.ReadJSON(f)
		f.Close()
		if err != nil || len(rep.Results) != 2 {
			t.Errorf("%s.json: %v %+v", name, err, rep)
		}
	}
}

func TestAgentCommandUnknownAgent(t *testing.T) {
	if _, err := cmdAgent(context.Background(), []string{"-name", "nope", "-out", ""}); err == nil {
		t.Error("no error for an unknown agent")
	}
}
