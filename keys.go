package ws

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
)

// The handshake's keys (RFC 6455 §4.1, §4.2.2): Sec-WebSocket-Key and
// Sec-WebSocket-Accept.

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// RequestKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64,
// like libdill's ws_request_key. Errors: only if the system's random source
// fails.
func RequestKey() (string, error) {
	var k [24]byte
	if err := newKey(&k); err != nil {
		return "", newError("requestkey", ErrConnReset, err)
	}
	return string(k[:]), nil
}

func newKey(k *[24]byte) error {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	base64.StdEncoding.Encode(k[:], nonce[:])
	return nil
}

// ResponseKey returns the Sec-WebSocket-Accept value for a request key:
// base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2), like libdill's
// ws_response_key. Errors: ErrProto if requestKey is not the base64
// encoding of 16 bytes.
func ResponseKey(requestKey string) (string, error) {
	if !validKey([]byte(requestKey)) {
		return "", newError("responsekey", ErrProto, detail("key is not a base64 16-byte nonce"))
	}
	var a [28]byte
	acceptKey(&a, []byte(requestKey))
	return string(a[:]), nil
}

// validKey reports whether k is the base64 encoding of 16 bytes, as
// base64.StdEncoding.Strict() decodes it: 22 characters of the alphabet,
// the last carrying no bits past the 128th, then "==".
func validKey(k []byte) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	bad := byte(0)
	for _, c := range k[:22] {
		bad |= b64Value[c]
	}
	return bad&0x80 == 0 && b64Value[k[21]]&0x0f == 0
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// b64Value maps a base64 character to its 6-bit value, anything else to
// 0xff. It is never modified.
var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(b64Alphabet); i++ {
		t[b64Alphabet[i]] = byte(i)
	}
	return t
}()

// acceptKey writes the Sec-WebSocket-Accept value for key into dst:
// base64(SHA-1(key + GUID)), hashed from a stack array and encoded
// without a table walk per call.
func acceptKey(dst *[28]byte, key []byte) {
	var sum [sha1.Size]byte
	if len(key) == 24 {
		var b [24 + len(acceptGUID)]byte
		copy(b[:], key)
		copy(b[24:], acceptGUID)
		sum = sha1.Sum(b[:])
	} else {
		h := sha1.New()
		h.Write(key)
		h.Write([]byte(acceptGUID))
		h.Sum(sum[:0])
	}
	encodeAccept(dst, &sum)
}

// encodeAccept is base64.StdEncoding.Encode of a SHA-1 sum: six groups
// of three bytes, then two bytes and the padding.
func encodeAccept(dst *[28]byte, sum *[sha1.Size]byte) {
	for i := 0; i < 6; i++ {
		v := uint(sum[3*i])<<16 | uint(sum[3*i+1])<<8 | uint(sum[3*i+2])
		d := dst[4*i : 4*i+4 : 4*i+4]
		d[0] = b64Alphabet[v>>18&0x3f]
		d[1] = b64Alphabet[v>>12&0x3f]
		d[2] = b64Alphabet[v>>6&0x3f]
		d[3] = b64Alphabet[v&0x3f]
	}
	v := uint(sum[18])<<16 | uint(sum[19])<<8
	dst[24] = b64Alphabet[v>>18&0x3f]
	dst[25] = b64Alphabet[v>>12&0x3f]
	dst[26] = b64Alphabet[v>>6&0x3f]
	dst[27] = '='
}
