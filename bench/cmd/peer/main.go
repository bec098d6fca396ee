// Command peer is the measured process of the benchmarks (see
// internal/peer). Build it with -tags single,<lib> to link in one library
// only, as the driver does for callgrind runs.
package main

import (
	"os"

	"github.com/dillgo/ws/bench/internal/peer"
)

func main() { os.Exit(peer.Main(os.Args[1:])) }
