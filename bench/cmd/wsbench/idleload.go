package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dillgo/ws/bench/internal/idleload"
)

var (
	idleLoad   = flag.Bool("idleload", false, "run the idle-memory and echo-load benchmark of watched connections (ws-poller, ws-goroutine, nbio, gobwas-epoll) instead; see bench/results/idle.md")
	idleCounts = flag.String("idleload-n", "10000,19000", "idleload: idle connection counts")
	idleTLSN   = flag.Int("idleload-tls-n", 10000, "idleload: connections of the wss:// runs (0: none)")
	idleLoadN  = flag.Int("idleload-load", 10000, "idleload: watched connections of the echo load (0: none)")
	idleActive = flag.Int("idleload-active", 1000, "idleload: of them, sending 1 KiB echo messages")
	idleDur    = flag.Duration("idleload-dur", 10*time.Second, "idleload: echo load duration")
)

// serverHook runs the idleload server when this process was started as one.
func serverHook() {
	if os.Getenv(idleload.Env) == "1" {
		os.Exit(idleload.Main(os.Args[1:]))
	}
}

// runIdleLoad runs the idleload benchmark if -idleload is set.
func runIdleLoad() bool {
	if !*idleLoad {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	cfg := idleload.Config{TLSN: *idleTLSN, LoadN: *idleLoadN, Active: *idleActive, LoadDur: *idleDur,
		Sizes: []int{16, 1024, 16 << 10, 64 << 10}, Libs: split(*libList), Self: self, Log: os.Stderr}
	for _, s := range split(*idleCounts) {
		n, err := strconv.Atoi(s)
		if err != nil {
			fatal(err)
		}
		cfg.Counts = append(cfg.Counts, n)
	}
	t0 := time.Now()
	res, err := idleload.Run(cfg)
	fmt.Printf("Command: `cd bench && go run ./cmd/wsbench %s` (%v)\n\n", strings.Join(os.Args[1:], " "), time.Since(t0).Round(time.Second))
	res.Markdown(os.Stdout)
	if err != nil {
		fatal(err)
	}
	return true
}
