package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// The incremental UTF-8 validator (RFC 3629 §4, RFC 6455 §8.1) keeps its
// state between chunks in a uint32: 0 between characters, otherwise the
// number of continuation bytes still due (bits 16–23) and the range the
// next byte must fall in (lo in bits 8–15, hi in bits 0–7). Because each
// byte is checked against the exact range the grammar allows, the first
// byte that cannot start or continue a valid sequence is rejected at once
// (fail fast), overlongs, surrogates and code points over U+10FFFF included.

func utf8State(due, lo, hi uint32) uint32 { return due<<16 | lo<<8 | hi }

// first holds, for each lead byte, the state after it; 0 for ASCII and
// 1 for a byte that can never start a character.
var first = func() (t [256]uint32) {
	for b := 0x80; b < 0x100; b++ {
		t[b] = 1
	}
	for b := 0xC2; b <= 0xDF; b++ {
		t[b] = utf8State(1, 0x80, 0xBF)
	}
	t[0xE0] = utf8State(2, 0xA0, 0xBF)
	for b := 0xE1; b <= 0xEF; b++ {
		t[b] = utf8State(2, 0x80, 0xBF)
	}
	t[0xED] = utf8State(2, 0x80, 0x9F)
	t[0xF0] = utf8State(3, 0x90, 0xBF)
	for b := 0xF1; b <= 0xF3; b++ {
		t[b] = utf8State(3, 0x80, 0xBF)
	}
	t[0xF4] = utf8State(3, 0x80, 0x8F)
	return t
}()

// validUTF8 continues validation from state st over p. It returns the new
// state, and false if a byte of p makes the text invalid. It finishes a
// pending character byte by byte, checks the whole characters that follow
// with utf8.Valid, and runs the byte-wise automaton on what may be an
// incomplete last character (or on everything, once utf8.Valid failed, to
// keep one definition of validity).
func validUTF8(st uint32, p []byte) (uint32, bool) {
	if st != 0 {
		k := min(int(st>>16), len(p)) // the continuation bytes still due
		var ok bool
		if st, ok = validBytes(st, p[:k]); !ok || st != 0 {
			return st, ok
		}
		p = p[k:]
	}
	if len(p) == 0 {
		return 0, true
	}
	cut := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		if p[j] < 0x80 {
			break
		}
		if p[j] >= 0xC0 {
			cut = j // the last character starts here and may be incomplete
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return validBytes(0, p)
	}
	return validBytes(0, p[cut:])
}

// validBytes is validUTF8 byte by byte: the automaton itself.
func validBytes(st uint32, p []byte) (uint32, bool) {
	i := 0
	for i < len(p) {
		if st == 0 {
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			for i < len(p) && p[i] < 0x80 {
				i++
			}
			if i == len(p) {
				break
			}
			st = first[p[i]]
			if st == 1 {
				return st, false
			}
			i++
			continue
		}
		b := uint32(p[i])
		if b < (st>>8)&0xff || b > st&0xff {
			return st, false
		}
		if due := st >> 16; due == 1 {
			st = 0
		} else {
			st = utf8State(due-1, 0x80, 0xBF)
		}
		i++
	}
	return st, true
}

// validText reports whether p is complete, valid UTF-8.
func validText(p []byte) bool {
	st, ok := validUTF8(0, p)
	return ok && st == 0
}
