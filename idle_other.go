//go:build !linux

package ws

// idleReader exists on Linux only: elsewhere a pooled connection waits
// reading its first byte into Conn.first.
type idleReader struct{}

// waitIdle reports false: the caller reads the first byte itself.
func (c *Conn) waitIdle() bool { return false }

var noIdleReader = &idleReader{}
