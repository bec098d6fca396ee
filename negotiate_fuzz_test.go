package ws

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// refExt is the reference parse of one extension: the earlier string-based
// parser (splits, a map of seen parameters), kept as the oracle for
// parseExtensions.
type refExt struct {
	name                               string
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
}

func refParseExtensions(values [][]byte) ([]refExt, bool) {
	var exts []refExt
	for _, v := range values {
		for _, e := range refSplitQuoted(string(v), ',') {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			parts := refSplitQuoted(e, ';')
			x := refExt{name: strings.TrimSpace(parts[0]), serverBits: -1, clientBits: -1}
			if !validToken(x.name) {
				return nil, false
			}
			if x.name == extName && !x.parseDeflate(parts[1:]) {
				x.name = ""
			}
			exts = append(exts, x)
		}
	}
	return exts, true
}

func (x *refExt) parseDeflate(params []string) bool {
	seen := map[string]bool{}
	for _, p := range params {
		name, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.TrimSpace(name)
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if seen[name] {
			return false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasVal {
				return false
			}
			if name[0] == 's' {
				x.serverNoTakeover = true
			} else {
				x.clientNoTakeover = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			n := 0
			if hasVal {
				var err error
				if n, err = strconv.Atoi(val); err != nil || n < 8 || n > 15 || len(val) > 2 {
					return false
				}
			} else if name[0] == 's' {
				return false
			}
			if name[0] == 's' {
				x.serverBits = n
			} else {
				x.clientBits = n
			}
		default:
			return false
		}
	}
	return true
}

func refSplitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// FuzzParseExtensions compares parseExtensions with the reference parser
// on one or two Sec-WebSocket-Extensions values.
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=10; client_no_context_takeover, x-foo",
		`permessage-deflate; client_max_window_bits="12"`,
		"permessage-deflate;", "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
		`x; a="b,c"; d, permessage-deflate`, ", ,", "", "permessage-deflate; server_max_window_bits",
	} {
		f.Add([]byte(s), []byte("permessage-deflate"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		values := [][]byte{a, b}
		got, ok := parseExtensions(values, nil)
		want, wok := refParseExtensions(values)
		if ok != wok || len(got) != len(want) {
			t.Fatalf("%q: ok %v %d extensions, reference ok %v %d", values, ok, len(got), wok, len(want))
		}
		for i, x := range got {
			w := want[i]
			if !bytes.Equal(x.name, []byte(w.name)) || x.serverNoTakeover != w.serverNoTakeover || x.clientNoTakeover != w.clientNoTakeover ||
				(x.name != nil && (x.serverBits != w.serverBits || x.clientBits != w.clientBits)) {
				t.Fatalf("%q: extension %d is %+v, reference %+v", values, i, x, w)
			}
		}
	})
}
