//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

import "errors"

// isTTY falls back to the character-device test of isTerminal.
func isTTY(fd uintptr) bool { return true }

// makeRaw is unavailable: ws dial reads whole lines from the terminal.
func makeRaw(fd uintptr) (func(), error) { return nil, errors.New("no raw mode on this system") }

func termWidth(fd uintptr) int { return 80 }
