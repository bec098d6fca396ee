//go:build !linux

package main

import (
	"time"

	"github.com/dillgo/ws"
)

// measureRTT has no estimate outside Linux until the library has
// Conn.Ping.
func measureRTT(c *ws.Conn) (time.Duration, error) { return 0, errNoRTT }
