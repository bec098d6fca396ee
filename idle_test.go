package ws

import (
	"testing"
	"unsafe"
)

// TestIdleConnSize bounds what an idle Conn holds: state that only a
// message in flight or a rare event needs (control-frame buffers, pending
// control frames, Ping, the peer's close) lives outside it. 576 bytes is
// the allocator's size class the Conn fits in.
func TestIdleConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 576 {
		t.Fatalf("Conn is %d bytes, want at most 576", n)
	}
}
