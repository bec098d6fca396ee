//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

// isTTY falls back to the character-device test of isTerminal.
func isTTY(fd uintptr) bool { return true }
