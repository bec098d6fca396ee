package main

import (
	"strings"
	"testing"
)

func TestCompression(t *testing.T) {
	s := serve(t, "-v", "--compress")
	r := runWS(t, strings.Repeat("squeeze me ", 100)+"\nshort\n", "dial", "--compress", s.url)
	if r.code != 0 || r.stdout != strings.Repeat("squeeze me ", 100)+"\nshort\n" {
		t.Fatalf("%+v", r)
	}
	s.errOut.waitFor(t, "extensions=permessage-deflate", 1)

	res := checkBench(t, runWS(t, "", "bench", "--compress", "-n", "500", "-s", "2000", "--text", "--json", s.url), 500)
	if !strings.HasPrefix(res.Extensions, "permessage-deflate") {
		t.Errorf("bench --compress: extensions %q", res.Extensions)
	}
	res = checkBench(t, runWS(t, "", "bench", "--compress", "-n", "300", "-s", "1000", "--json"), 300)
	if !strings.HasPrefix(res.Extensions, "permessage-deflate") || !res.Compress {
		t.Errorf("bench --compress in process: %+v", res)
	}

	// On by default: a client that offers gets it.
	def := serve(t, "-v")
	if r := runWS(t, "default\n", "dial", "--compress", def.url); r.code != 0 || r.stdout != "default\n" {
		t.Fatalf("%+v", r)
	}
	def.errOut.waitFor(t, "extensions=permessage-deflate", 1)

	off := serve(t, "-v", "--compress=false")
	if r := runWS(t, "plain\n", "dial", "--compress", off.url); r.code != 0 || r.stdout != "plain\n" {
		t.Fatalf("%+v", r)
	}
	off.errOut.waitFor(t, `extensions=""`, 1)

	raw := serve(t, "--nohttp", "--compress")
	if r := runWS(t, strings.Repeat("z", 500)+"\n", "dial", "--nohttp", raw.addr, "--compress"); r.code != 0 || r.stdout != strings.Repeat("z", 500)+"\n" {
		t.Fatalf("nohttp with compression: %+v", r)
	}
}
