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

// strictBase64 is never modified: Strict returns an Encoding by value,
// too large to copy on every call.
var strictBase64 = base64.StdEncoding.Strict()

// validKey reports whether k is the base64 encoding of 16 bytes.
func validKey(k []byte) bool {
	if len(k) != 24 {
		return false
	}
	var dst [18]byte
	n, err := strictBase64.Decode(dst[:], k)
	return err == nil && n == 16
}

func acceptKey(dst *[28]byte, key []byte) {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	base64.StdEncoding.Encode(dst[:], h.Sum(sum[:0]))
}
