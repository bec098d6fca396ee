package suite

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// TestInflateMessage checks the checking decoder against compress/flate
// and klauspost/compress output, with and without a shared window, and
// that klauspost's windowed writer (used by ws and by the engine)
// respects its window.
func TestInflateMessage(t *testing.T) {
	data := genJSON()[:60000]
	prose := genProse()[:40000]
	msgs := [][]byte{data[:100], data[100:5000], prose[:20000], data[5000:60000], {}, prose[20000:], data[:3000]}
	for _, tc := range []struct {
		name     string
		bits     int
		takeover bool
		std      int // compress/flate level; 0: klauspost window writer
	}{
		{"std-takeover", 15, true, 6},
		{"std-fresh", 15, false, 9},
		{"std-huffman", 15, true, flate.HuffmanOnly},
		{"std-stored", 15, true, flate.NoCompression},
		{"k-window-8", 8, true, 0},
		{"k-window-9-fresh", 9, false, 0},
		{"k-window-12", 12, true, 0},
		{"k-window-15", 15, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var hist []byte
			var sw *flate.Writer
			var kw *kflate.Writer
			for i, m := range msgs {
				if i == 0 || !tc.takeover {
					out.Reset()
					if tc.std != 0 {
						sw, _ = flate.NewWriter(&out, tc.std)
					} else {
						kw, _ = kflate.NewWriterWindow(&out, 1<<tc.bits)
					}
				}
				out.Reset()
				if sw != nil {
					sw.Write(m)
					sw.Flush()
				} else {
					kw.Write(m)
					kw.Flush()
				}
				z := bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
				lim := inflateLimits{maxDist: 1 << tc.bits, maxOut: 1 << 20}
				if tc.takeover {
					lim.hist = hist
				}
				res, err := inflateMessage(z, lim)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(res.out, m) {
					t.Fatalf("message %d: got %d bytes, want %d", i, len(res.out), len(m))
				}
				if res.maxDist > 1<<tc.bits {
					t.Fatalf("message %d: distance %d", i, res.maxDist)
				}
				hist = append(hist, m...)
				if len(hist) > 1<<15 {
					hist = hist[len(hist)-1<<15:]
				}
			}
		})
	}
}

// TestInflateRejects checks that the decoder catches what it must.
func TestInflateRejects(t *testing.T) { testInflateRejects(t, nil) }

func testInflateRejects(t *testing.T, _ []int) {
	// 2000 bytes without repeats, so the second copy refers 2000 bytes back.
	var m []byte
	for _, v := range genRand(1).Perm(1000) {
		m = append(m, byte(v), byte(v>>8)^0x5a)
	}
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, 6)
	w.Write(m)
	w.Flush()
	first := bytes.TrimSuffix(append([]byte(nil), out.Bytes()...), []byte{0, 0, 0xff, 0xff})
	out.Reset()
	w.Write(m)
	w.Flush()
	second := bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
	if _, err := inflateMessage(second, inflateLimits{maxDist: 1 << 15, maxOut: 1 << 20}); err == nil || !strings.Contains(err.Error(), "on its own") {
		t.Errorf("a takeover message decoded fresh: %v", err)
	}
	res, err := inflateMessage(second, inflateLimits{hist: m, maxDist: 1 << 15, maxOut: 1 << 20})
	if err != nil || !bytes.Equal(res.out, m) || !res.intoHist {
		t.Errorf("with history: %v, into history %v", err, res.intoHist)
	}
	if _, err := inflateMessage(second, inflateLimits{hist: m, maxDist: 256, maxOut: 1 << 20}); err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("a 2000-byte distance passed an 8-bit window: %v", err)
	}
	if _, err := inflateMessage([]byte{0x07, 0x00}, inflateLimits{maxDist: 1 << 15, maxOut: 1 << 20}); err == nil {
		t.Errorf("block type 3 decoded")
	}
	if _, err := inflateMessage(first, inflateLimits{maxDist: 1 << 15, maxOut: 100}); err == nil {
		t.Errorf("output bound not enforced")
	}
}

func TestDeflateAnswers(t *testing.T) {
	offer := []DeflateParams{autobahnOffer(true, 8)}
	for ans, ok := range map[string]bool{
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8":                             true,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9":   true,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_no_context_takeover": true,
		"permessage-deflate; server_no_context_takeover":                                                       false,
		"permessage-deflate; server_max_window_bits=8":                                                         false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=9":                             false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=08":                            false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits":     false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8; foo":                        false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=8, permessage-deflate":         false,
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover; server_max_window_bits=8": false,
		"x-webkit-deflate-frame": false,
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=\"8\"": true,
	} {
		if _, _, err := CheckDeflateAnswer(ans, offer); (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", ans, err, ok)
		}
	}
	if _, _, err := CheckDeflateAnswer("permessage-deflate; client_max_window_bits=10", []DeflateParams{{ServerMaxWindowBits: -1, ClientMaxWindowBits: -1}}); err == nil {
		t.Errorf("client_max_window_bits answered without an offer passed")
	}
	if _, _, err := CheckDeflateAnswer("permessage-deflate", offerList(pmdOffers[6].offers)); err != nil {
		t.Errorf("13.7 plain answer: %v", err)
	}
}

func offerList(o []DeflateParams) []DeflateParams { return o }
