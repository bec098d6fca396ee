package ws

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"
)

// FuzzKeys compares validKey with base64.StdEncoding.Strict() and
// acceptKey with base64(SHA-1(key + GUID)) computed by the standard
// library.
func FuzzKeys(f *testing.F) {
	for _, s := range []string{"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25jZQ=",
		"dGhlIHNhbXBsZSBub25j\r\nQ==", "AAAAAAAAAAAAAAAAAAAAAA==", "////////////////////+w==", "dGhlIHNhbXBsZSBub25jZQ=A",
		"dGhlIHNhbXBsZSBub25jZQ\n=", "", "short", "dGhlIHNhbXBsZSBub25jZQ==x"} {
		f.Add([]byte(s))
	}
	strict := base64.StdEncoding.Strict()
	f.Fuzz(func(t *testing.T, k []byte) {
		want := false
		if len(k) == 24 {
			var dst [18]byte
			n, err := strict.Decode(dst[:], k)
			want = err == nil && n == 16
		}
		if validKey(k) != want {
			t.Fatalf("validKey(%q) = %v, strict base64 says %v", k, !want, want)
		}
		h := sha1.New()
		h.Write(k)
		h.Write([]byte(acceptGUID))
		accept := base64.StdEncoding.EncodeToString(h.Sum(nil))
		var got [28]byte
		acceptKey(&got, k)
		if string(got[:]) != accept {
			t.Fatalf("acceptKey(%q) = %q, want %q", k, got[:], accept)
		}
	})
}

// TestValidKeyEveryByte: every byte value at every position of a valid
// key, compared with the strict decoder.
func TestValidKeyEveryByte(t *testing.T) {
	strict := base64.StdEncoding.Strict()
	base := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	for pos := range base {
		for c := 0; c < 256; c++ {
			k := append([]byte(nil), base...)
			k[pos] = byte(c)
			var dst [18]byte
			n, err := strict.Decode(dst[:], k)
			if want := err == nil && n == 16; validKey(k) != want {
				t.Fatalf("validKey(%q) = %v, strict base64 says %v", k, !want, want)
			}
		}
	}
}
